"""Issue 13, "where the time went", with `transport: aiohttp`: settings.timings: detailed in a
real run (worker processes, the embedded target) reports http_req_blocked / _connecting /
_sending / _waiting / _receiving from aiohttp's trace signals (no http_req_tls_handshaking:
aiohttp's TLS is inside connecting), judges thresholds on them and shows them in the summary
and the HTML report; a capped pool shows as blocked and queued. Without it none is measured."""

from __future__ import annotations

from tests.support import cli, read_json, write_config

DELAY_MS = 50


def _config(tmp_path, url: str, timings: str = "", thresholds: bool = True) -> str:
    # 4 VUs on 2 connections: half the requests wait for one (blocked, queued)
    text = f"""
        name: aiohttp phases
        settings: {{baseUrl: "{url}", transport: aiohttp, maxConnectionsPerHost: 2{timings}}}
        scenarios:
          s:
            executor: constant-vus
            vus: 4
            duration: 2s
            requests: [{{name: slow, url: /delay/{DELAY_MS}}}]
        thresholds:
          http_req_waiting: ["p(95)<1000"]
          "http_req_blocked{{request:slow}}": ["max<0.0001"]
        """
    if not thresholds:
        text = text[: text.index("        thresholds:")]
    return str(write_config(tmp_path, text))


def test_tls_handshaking_with_aiohttp_is_a_config_error(tmp_path, fresh_target):
    config = write_config(tmp_path, f"""
        name: aiohttp tls
        settings: {{baseUrl: "{fresh_target.url}", transport: aiohttp, timings: detailed}}
        scenarios:
          s: {{executor: shared-iterations, vus: 1, iterations: 1, requests: [{{name: r, url: /}}]}}
        thresholds:
          http_req_tls_handshaking: ["p(95)<100"]
        """)
    result = cli("validate", str(config))
    assert result.returncode == 104, (result.stdout, result.stderr)
    assert "http_req_tls_handshaking is not measured with transport: aiohttp" in result.stderr + result.stdout


def test_aiohttp_detailed_timings_end_to_end(tmp_path, fresh_target):
    out, html = tmp_path / "results.json", tmp_path / "report.html"
    config = _config(tmp_path, fresh_target.url, ", timings: detailed")
    result = cli("run", config, "--workers", "1", "--out", str(out), "--html", str(html))
    assert result.returncode == 99, result.stderr        # the impossible blocked threshold fails
    doc = read_json(out)
    assert doc["transport"] == "aiohttp"
    m = doc["metrics"]
    duration, waiting = m["http_req_duration"], m["http_req_waiting"]
    sending, receiving = m["http_req_sending"], m["http_req_receiving"]
    assert waiting["count"] == sending["count"] == receiving["count"] == duration["count"] > 0
    assert DELAY_MS - 2 <= waiting["p50"] < DELAY_MS + 25, waiting
    assert sending["max"] < 2 and receiving["p50"] < 2, (sending, receiving)
    assert "http_req_tls_handshaking" not in m          # aiohttp: inside connecting
    # the parts cover the last hop; aiohttp's duration also has the pool wait and its own work
    assert sending["avg"] + waiting["avg"] + receiving["avg"] <= duration["avg"] + 0.01
    blocked, connecting = m["http_req_blocked"], m["http_req_connecting"]
    assert blocked["count"] == connecting["count"] == duration["count"]
    # 4 VUs on 2 connections: some wait for one, at least one delay (aiohttp hands a released
    # connection to whichever request asks next, so a waiter may wait much longer), and with
    # aiohttp the wait is inside http_req_duration
    assert blocked["max"] >= DELAY_MS * 0.8, blocked
    assert blocked["max"] <= duration["max"]
    assert 0 < connecting["max"] <= blocked["max"], connecting
    assert m["http_req_queued"]["count"] > 0, m["http_req_queued"]
    judged = {t["metric"]: t for t in doc["thresholds"]}
    assert judged["http_req_waiting"]["ok"] is True
    assert judged["http_req_blocked{request:slow}"]["ok"] is False
    assert "waiting (time to first byte)" in result.stdout and "receiving" in result.stdout
    assert "TLS handshaking" not in result.stdout
    page = html.read_text()
    assert "waiting (time to first byte)" in page and ">sending<" in page and ">receiving<" in page


def test_aiohttp_summary_timings_measure_nothing(tmp_path, fresh_target):
    out = tmp_path / "results.json"
    # thresholds on timings these settings do not measure are config errors
    refused = cli("run", _config(tmp_path, fresh_target.url), "-q", "--out", str(out))
    assert refused.returncode == 104, refused.stderr
    assert "http_req_waiting is measured only with settings.timings: detailed" in refused.stderr
    assert ("http_req_blocked is measured with transport: aiohttp only with settings.timings: "
            "detailed") in refused.stderr
    assert fresh_target.stats()["requests"] == 0
    result = cli("run", _config(tmp_path, fresh_target.url, thresholds=False), "--workers", "1", "-q",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    m = read_json(out)["metrics"]
    assert m["http_req_duration"]["count"] > 0
    assert not {"http_req_sending", "http_req_waiting", "http_req_receiving"} & set(m)
    assert m["http_req_blocked"]["count"] == 0 and m["http_req_queued"]["count"] == 0
