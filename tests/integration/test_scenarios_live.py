"""Scenarios that behave like users, end to end: `lunge-mp run` as a child process against a
real aiohttp server on 127.0.0.1 that records what it was sent.

Covered: a login → item chain that uses an id extracted from the body and a token from a
header, form bodies, CSV rows in templates, cookies per VU (both transports), request names
as the only series key, failure classes (503 with a status assertion, a closed port, a 1 ms
timeout), `unique` rows never handed out twice across 2 workers (closed and open model), and
TLS against a self-signed server with and without insecureSkipVerify.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections import Counter

import pytest

from tests.integration.scenario_server import ScenarioServer
from tests.support import cli, read_json, write_config


def run(tmp_path, text: str, *args: str, workers: int = 2) -> tuple[subprocess.CompletedProcess, dict | None]:
    config = write_config(tmp_path, text)
    out = tmp_path / "results.json"
    proc = cli("run", str(config), "--out", str(out), "--workers", str(workers), "-q", "--no-history", *args)
    return proc, (read_json(out) if out.exists() else None)


def users_csv(tmp_path, n: int, name: str = "users.csv") -> list[str]:
    emails = [f"user{i}@example.org" for i in range(n)]
    (tmp_path / name).write_text("email,password\n" + "".join(f"{e},pw{i}\n" for i, e in enumerate(emails)))
    return emails


JOURNEY = """
    name: journey
    settings: {{baseUrl: "{url}", userAgent: "lunge-test/1", transport: {transport}}}
    data: [{{name: users, file: users.csv}}]
    scenarios:
      journey:
        executor: per-vu-iterations
        vus: 3
        iterations: 2
        requests:
          - name: login
            method: POST
            url: /login
            form: {{user: "{{{{users.email}}}}", password: "{{{{users.password}}}}"}}
            thinkTime: 300ms        # every VU has logged in before any VU asks for its item
            extract:
              - {{name: userId, source: body, path: "$.id"}}
              - {{name: token, source: header, path: X-Token}}
            assertions:
              - {{type: status, condition: eq, value: 200}}
              - {{type: header, name: content-type, condition: contains, value: json}}
          - name: item
            url: "/items/{{{{userId}}}}"
            headers: {{Authorization: "Bearer {{{{token}}}}"}}
            assertions: [{{type: body, path: "$.item", condition: exists}}]
    """


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_a_user_journey_chains_extracted_values_and_keeps_cookies_per_vu(tmp_path, transport):
    emails = users_csv(tmp_path, 3)
    with ScenarioServer() as server:
        proc, results = run(tmp_path, JOURNEY.format(url=server.url, transport=transport))
    assert proc.returncode == 0, proc.stderr
    assert results["metrics"]["http_req_failed"]["count"] == 0
    # form bodies with CSV values
    assert len(server.logins) == 6
    assert {(x["user"], x["password"]) for x in server.logins} == {(e, f"pw{i}") for i, e in enumerate(emails)}
    assert {x["content_type"] for x in server.logins} == {"application/x-www-form-urlencoded"}
    # the id in the URL came from this VU's login body, the token from its header, and the
    # cookies (two Set-Cookie headers) are this VU's own: a shared jar would hold the last
    # login's session for every VU
    assert len(server.items) == 6
    for item in server.items:
        n = item["id"]
        assert item["auth"] == f"Bearer tok-{n}"
        assert item["cookies"] == {"session": f"s{n}", "theme": f"t{n}"}, item
        assert item["ua"] == "lunge-test/1"
    assert sorted(int(x["id"]) for x in server.items) == list(range(1, 7))
    # one series per request name, however many ids went into the URLs
    assert sorted(results["requests"]) == ["item", "login"]
    assert results["requests"]["item"]["http_reqs"]["count"] == 6


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failures_are_classified_per_scenario_and_the_run_still_finishes(tmp_path):
    port = _closed_port()
    with ScenarioServer() as server:
        proc, results = run(tmp_path, f"""
            name: failures
            settings: {{baseUrl: "{server.url}"}}
            scenarios:
              unavailable:
                executor: constant-arrival-rate
                rate: 20
                duration: 1s
                requests:
                  - name: flaky
                    url: /status/503
                    assertions: [{{type: status, condition: eq, value: 200}}]
              refused:
                executor: constant-arrival-rate
                rate: 20
                duration: 1s
                requests: [{{name: closed, url: "http://127.0.0.1:{port}/"}}]
              slow:
                executor: constant-arrival-rate
                rate: 20
                duration: 1s
                requests: [{{name: late, url: /delay/300, timeout: 1ms}}]
              wrong:
                executor: constant-arrival-rate
                rate: 20
                duration: 1s
                requests:
                  - name: bad-body
                    url: /items/7
                    assertions:
                      - {{type: body, path: "$.item", condition: eq, value: "8"}}
                      - {{type: header, name: X-Missing, condition: exists}}
            """)
    assert proc.returncode == 99, proc.stderr      # every request failed: the default threshold
    by = {name: s["http_req_failed"] for name, s in results["scenarios"].items()}
    assert by["unavailable"]["byClass"] == {"http_5xx": 20}
    assert "503" in by["unavailable"]["firstError"]["http_5xx"]
    assert by["refused"]["byClass"] == {"connect": 20}
    assert by["slow"]["byClass"] == {"timeout": 20}
    # k6's model: a 200 was expected, so the request did not fail; its checks did, by name
    assert by["wrong"]["byClass"] == {}
    checks = {c["check"]: c for c in results["checkResults"] if c["scenario"] == "wrong"}
    assert (checks["body $.item eq 8"]["fails"], checks["body $.item eq 8"]["passes"]) == (20, 0)
    assert "body $.item eq '8' failed (got '7')" in checks["body $.item eq 8"]["firstFailure"]
    assert "X-Missing" in checks["header X-Missing exists"]["firstFailure"]
    assert results["metrics"]["http_req_failed"]["count"] == 60
    assert results["metrics"]["http_reqs"]["count"] == 80
    assert results["metrics"]["iterations"]["count"] == 80


def test_unique_rows_are_never_handed_out_twice_across_workers(tmp_path):
    closed_rows = users_csv(tmp_path, 41, "closed.csv")
    open_rows = users_csv(tmp_path, 10, "open.csv")
    with ScenarioServer() as server:
        proc, results = run(tmp_path, f"""
            name: unique rows
            settings: {{baseUrl: "{server.url}"}}
            options: {{minEfficiency: 0}}
            data: [{{name: o, file: open.csv, mode: unique}}]
            scenarios:
              closed:
                executor: constant-vus
                vus: 4
                duration: 1s
                data: [{{name: c, file: closed.csv, mode: unique}}]
                requests: [{{name: row, url: "/row?closed={{{{c.email}}}}"}}]
              open:
                executor: constant-arrival-rate
                rate: 20
                duration: 1s
                requests: [{{name: row, url: "/row?open={{{{o.email}}}}"}}]
            """)
    assert proc.returncode == 0, proc.stderr
    seen = Counter(server.rows)
    assert max(seen.values()) == 1, [row for row, n in seen.items() if n > 1]
    # closed model: every row once, then the VUs stop; open model: 20 arrivals, 10 rows
    assert {f"closed={e}" for e in closed_rows} == \
        {r for r in seen if r.startswith("closed=")}
    assert {f"open={e}" for e in open_rows} == {r for r in seen if r.startswith("open=")}
    assert results["scenarios"]["closed"]["iterations"]["count"] == 41
    opened = results["scenarios"]["open"]
    assert opened["iterations"]["count"] == 10
    assert opened["dropped_iterations"]["byCause"] == {"data_exhausted": 10}


def _self_signed(tmp_path) -> tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def test_tls_against_a_self_signed_server(tmp_path):
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    config = """
        name: tls
        settings: {{baseUrl: "{url}", insecureSkipVerify: {skip}}}
        scenarios:
          s:
            executor: shared-iterations
            vus: 2
            iterations: 10
            requests: [{{name: item, url: /items/1, assertions: [{{type: body, path: $.item, condition: eq, value: 1}}]}}]
        """
    with ScenarioServer(ssl_context=ctx) as server:
        assert server.url.startswith("https://")
        ok, ok_results = run(tmp_path, config.format(url=server.url, skip="true"))
        refused, refused_results = run(tmp_path, config.format(url=server.url, skip="false"))
    assert ok.returncode == 0, ok.stderr
    assert ok_results["metrics"]["http_reqs"]["count"] == 10
    assert ok_results["metrics"]["http_req_failed"]["count"] == 0
    assert refused.returncode == 99, refused.stderr    # all failed (tls): the default threshold
    assert refused_results["metrics"]["http_req_failed"]["byClass"] == {"tls": 10}
    assert len(server.items) == 10


def test_keepalive_off_and_a_connection_limit_are_honoured(tmp_path):
    config = """
        name: connections
        settings: {{baseUrl: "{url}", keepalive: {keepalive}, maxConnectionsPerHost: 2}}
        scenarios:
          s:
            executor: shared-iterations
            vus: 6
            iterations: 30
            requests: [{{url: /delay/20}}]
        """
    with ScenarioServer() as server:
        proc, _ = run(tmp_path, config.format(url=server.url, keepalive="true"))
        assert proc.returncode == 0, proc.stderr
        kept = len(server.connections)
        server.connections.clear()
        proc, _ = run(tmp_path, config.format(url=server.url, keepalive="false"))
        assert proc.returncode == 0, proc.stderr
        fresh = len(server.connections)
    assert kept <= 2          # 2 workers × ceil(2 / 2) connections
    assert fresh == 30        # one connection per request



PER_VU = """
    name: per-vu
    settings: {{baseUrl: "{url}", connections: {mode}}}
    scenarios:
      s:
        executor: constant-vus
        vus: 4
        duration: 1500ms
        requests: [{{url: /delay/5, thinkTime: 30ms, headers: {{X-VU: "{{{{vu}}}}"}}}}]
    """


def test_connections_per_vu_open_one_connection_per_vu(tmp_path):
    """settings.connections: perVU: 4 VUs over 2 workers, each VU on its own keep-alive
    connection for every iteration: 4 connections, each serving one VU only. Shared (the
    default), a worker's VUs take whichever of its pooled connections is idle."""
    with ScenarioServer() as server:
        proc, results = run(tmp_path, PER_VU.format(url=server.url, mode="perVU"))
        assert proc.returncode == 0, proc.stderr
        assert results["metrics"]["http_reqs"]["count"] >= 40
        assert results["metrics"]["http_req_failed"]["count"] == 0
        pairs = set(server.vu_connections)
        assert len(server.connections) == 4
        server.connections.clear()
        server.vu_connections.clear()
        proc, _ = run(tmp_path, PER_VU.format(url=server.url, mode="shared"))
        assert proc.returncode == 0, proc.stderr
        shared_pairs = set(server.vu_connections)
    assert len({vu for vu, _ in pairs}) == 4
    assert len(pairs) == 4                                  # one connection per VU, its own
    assert len({peer for _, peer in pairs}) == 4
    # shared: connections serve several VUs (LIFO reuse across VUs)
    assert len(shared_pairs) > len({peer for _, peer in shared_pairs})
