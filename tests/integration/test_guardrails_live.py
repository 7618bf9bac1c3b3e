"""Guardrails with real processes: each one trips (exit 111, named; maxRate throttles instead),
warn-only mode, the maxRate cap as the server counts it, and allowedHosts refusing hosts before a connection and on redirects."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support import cli, cli_popen, read_json, run_config, write_config


def _run_all(runs: dict[str, tuple]) -> dict[str, tuple[int, str, str]]:
    """Start every `lunge-mp` at once (they are independent), then wait for all of them."""
    procs = {name: cli_popen(*args) for name, args in runs.items()}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=90)
        out[name] = (proc.returncode, stdout, stderr)
    return out


def _config(tmp_path, name: str, url: str, scenario: str, guardrails: str):
    return write_config(tmp_path, f"""
        name: {name}
        settings: {{baseUrl: "{url}"}}
        scenarios:
          s:
            {scenario}
            gracefulStop: 1s
        guardrails: {guardrails}
        """, name=f"{name}.yaml")


OPEN = "executor: constant-arrival-rate\n            rate: {rate}\n            duration: {duration}\n" \
       "            preAllocatedVUs: 10\n            maxVUs: 50\n            requests: [{{url: \"{path}\"}}]"
CLOSED = "executor: constant-vus\n            vus: {vus}\n            duration: {duration}\n" \
         "            requests: [{{url: \"{path}\"}}]"

# maxRate never trips: open-model arrivals are capped and closed-model VUs wait for permits
# (test_closed_guardrails.py); in warn-only mode it throttles, and warns near the limit.
# maxCPUPercent 0.001 breaches after 3 consecutive seconds whose CPU reads above 0: psutil
# counts in clock ticks (10 ms), so a light load (10 requests/s, or 2 VUs on /delay/20) often
# reads exactly 0.0 % for a second (even 200 requests/s read 0 or 1 tick). ~1,000 requests/s
# keep the load generator busy for several ticks every second (a few % of one core): never a
# zero reading. Warn-only mode needs the closed model (an open-model rate would be capped at
# maxRate): 4 VUs paced at 4 ms.
BUSY = 1000
PACED = "\n            pacing: {type: constant, duration: 4ms}"
TRIPS = {
    # guardrail: (scenario, guardrails); every one planned for >= 30 s
    "maxTotalRequests": (OPEN.format(rate=200, duration="30s", path="/bytes/11"), "{maxTotalRequests: 300}"),
    "maxDuration": (CLOSED.format(vus=2, duration="60s", path="/delay/50"), "{maxDuration: 2s}"),
    "maxMemoryMB": (OPEN.format(rate=10, duration="30s", path="/bytes/13"), "{maxMemoryMB: 1}"),
    "maxCPUPercent": (OPEN.format(rate=BUSY, duration="30s", path="/bytes/14"), "{maxCPUPercent: 0.001}"),
}
WARN_ONLY = (CLOSED.format(vus=4, duration="5s", path="/bytes/15") + PACED,
             "{maxTotalRequests: 10, maxDuration: 1s, maxRate: 800, maxMemoryMB: 1, maxCPUPercent: 0.001, "
             "emergencyStop: false}")


def test_each_guardrail_stops_the_run_with_111_and_warn_only_mode_finishes(tmp_path, fresh_target):
    runs = {}
    for name, (scenario, guardrails) in {**TRIPS, "warn-only": WARN_ONLY}.items():
        config = _config(tmp_path, name, fresh_target.url, scenario, guardrails)
        runs[name] = ("run", str(config), "--out", str(tmp_path / f"{name}.json"), "--workers", "1", "-q",
                      "--no-history")
    done = _run_all(runs)
    by_path = fresh_target.stats()["byPath"]
    for name in TRIPS:
        code, _, stderr = done[name]
        assert code == 111, (name, stderr)
        assert "Traceback" not in stderr
        results = read_json(tmp_path / f"{name}.json")
        assert results["status"] == "aborted" and results["exitCode"] == 111
        assert results["abortReason"].startswith(f"guardrail {name}:"), results["abortReason"]
        assert any(w.startswith(f"guardrail {name}:") and "stopping the run" in w for w in results["warnings"])
        events = results["guardrails"]["events"]
        assert {"guardrail": name, "kind": "breach"}.items() <= next(
            e for e in events if e["kind"] == "breach").items()
        # stopped long before its planned >= 30 s (slack: six runs share the box's cores)
        assert results["plannedSeconds"] >= 30 and results["wallSeconds"] < 15, (name, results["wallSeconds"])
    # the open model never hands out more than the limit: exactly 300, as the server saw them
    total = read_json(tmp_path / "maxTotalRequests.json")
    assert total["metrics"]["http_reqs"]["count"] == 300 == by_path["/bytes/11"]
    code, _, stderr = done["warn-only"]
    assert code == 0, stderr
    results = read_json(tmp_path / "warn-only.json")
    assert results["status"] == "passed" and results["abortReason"] is None
    for name in ("maxTotalRequests", "maxDuration", "maxMemoryMB", "maxCPUPercent"):
        assert any(w.startswith(f"guardrail {name}:") and "warned only" in w for w in results["warnings"]), name
    assert any(w.startswith("guardrail maxRate:") and "of maxRate 800/s" in w for w in results["warnings"])
    assert results["durationSeconds"] >= 5                      # it ran its whole 5 s
    # ~4,000: 4 VUs paced at 4 ms (~900/s) held to 800/s; warn-only mode sends past maxTotalRequests
    assert 2500 < results["metrics"]["http_reqs"]["count"] <= 800 * 6


def test_max_rate_caps_arrivals_as_the_server_measures_them(tmp_path, fresh_target):
    proc, results = run_config(tmp_path, f"""
        name: capped
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          s:
            executor: constant-arrival-rate
            rate: 400
            duration: 2s
            preAllocatedVUs: 20
            maxVUs: 100
            requests: [{{url: "/"}}]
        guardrails: {{maxRate: 100}}
        """, workers=2)
    assert proc.returncode == 0, proc.stderr
    stats = fresh_target.stats()
    assert stats["requests"] == 200 == results["metrics"]["http_reqs"]["count"]     # 100/s × 2 s, exactly
    assert max(stats["perSecond"].values()) <= 102
    assert results["guardrails"]["caps"] == {"s": 100.0}
    assert all(b["targetRate"] <= 100 for b in results["buckets"])
    assert any("capped at 100 iterations/s" in w for w in results["warnings"])
    assert "capped at 100 iterations/s" in proc.stderr          # said before the run, too
    assert results["efficiency"]["overall"] == 1.0


# --- allowedHosts ------------------------------------------------------------------------------

@contextmanager
def _counting_listener() -> Iterator[tuple[int, list[int]]]:
    """A TCP port that counts every connection made to it (and answers nothing)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    srv.settimeout(0.1)
    count = [0]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            count[0] += 1
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1], count
    finally:
        stop.set()
        thread.join(2)
        srv.close()


@contextmanager
def _redirecting_server(location: str) -> Iterator[str]:
    """/redirect answers 302 to `location`; /location answers 200 with `Location: location`."""
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302 if self.path.startswith("/redirect") else 200)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_disallowed_host_is_refused_before_any_connection(tmp_path):
    with _counting_listener() as (port, connections):
        config = write_config(tmp_path, f"""
            name: refused host
            scenarios:
              s:
                executor: constant-vus
                vus: 1
                duration: 2s
                requests:
                  - {{url: "http://127.0.0.1:{port}/fine"}}
                  - {{url: "http://localhost:{port}/not-fine"}}
            guardrails: {{allowedHosts: ["127.0.0.1", "*.staging.example.com"]}}
            """)
        proc = cli("run", str(config), "--out", str(tmp_path / "r.json"), "--workers", "1", "--no-history")
        assert proc.returncode == 104, proc.stderr
        assert "scenarios.s.requests[1].url: host 'localhost'" in proc.stderr
        assert "guardrails.allowedHosts" in proc.stderr and "Traceback" not in proc.stderr
        assert connections[0] == 0
        assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("transport", ["auto", "aiohttp"])
def test_redirects_and_run_time_hosts_outside_the_list_are_never_connected(tmp_path, transport):
    """Both transports ask allowedHosts before following a redirect (`auto` is the fast one)."""
    with _counting_listener() as (port, connections):
        forbidden = f"http://localhost:{port}/elsewhere"
        with _redirecting_server(forbidden) as allowed:
            config = write_config(tmp_path, f"""
                name: redirects
                settings: {{transport: {transport}}}
                scenarios:
                  s:
                    executor: per-vu-iterations
                    vus: 2
                    iterations: 5
                    requests:
                      - name: follow
                        url: "{allowed}/redirect"
                      - name: location
                        url: "{allowed}/location"
                        extract: [{{name: next, source: header, path: Location}}]
                      - name: extracted
                        url: "{{{{next}}}}"
                guardrails: {{allowedHosts: ["127.0.0.1"]}}
                """)
            out = tmp_path / "results.json"
            proc = cli("run", str(config), "--out", str(out), "--workers", "1", "-q", "--no-history")
    assert proc.returncode == 99, proc.stderr    # refused requests fail the default http_req_failed threshold
    results = read_json(out)
    assert results["transport"] == ("fast" if transport == "auto" else "aiohttp")
    assert connections[0] == 0
    follow = results["requests"]["follow"]["http_req_failed"]
    assert follow["byClass"] == {"guardrail": 10}
    assert "not in guardrails.allowedHosts" in follow["firstError"]["guardrail"]
    assert results["requests"]["location"]["http_req_failed"]["count"] == 0
    assert results["requests"]["extracted"]["http_req_failed"]["byClass"] == {"guardrail": 10}
