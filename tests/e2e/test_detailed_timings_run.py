"""Issue 13, "where the time went": with settings.timings: detailed a real run (2 worker
processes, the embedded target) reports k6's http_req_sending / _waiting / _receiving, judges
thresholds on them, and shows them in the summary and the HTML report; without it they are absent."""

from __future__ import annotations

from tests.support import cli, read_json, write_config

DELAY_MS = 50


def _config(tmp_path, url: str, timings: str = "", thresholds: bool = True) -> str:
    text = f"""
        name: phases
        settings: {{baseUrl: "{url}"{timings}}}
        scenarios:
          s:
            executor: constant-vus
            vus: 4
            duration: 2s
            requests: [{{name: slow, url: /delay/{DELAY_MS}}}]
        thresholds:
          http_req_waiting: ["p(95)<1000"]
          "http_req_sending{{request:slow}}": ["max<0.0001"]
        """
    if not thresholds:
        text = text[: text.index("        thresholds:")]
    return str(write_config(tmp_path, text))


def test_detailed_timings_end_to_end(tmp_path, fresh_target):
    out, html = tmp_path / "results.json", tmp_path / "report.html"
    config = _config(tmp_path, fresh_target.url, ", timings: detailed")
    result = cli("run", config, "--workers", "2", "--out", str(out), "--html", str(html))
    assert result.returncode == 99, result.stderr        # the impossible sending threshold fails
    doc = read_json(out)
    m = doc["metrics"]
    duration, waiting = m["http_req_duration"], m["http_req_waiting"]
    sending, receiving = m["http_req_sending"], m["http_req_receiving"]
    assert waiting["count"] == sending["count"] == receiving["count"] == duration["count"] > 0
    # the target's timer may fire a little early (its duration min was seen at 49.4 ms)
    assert DELAY_MS - 2 <= waiting["p50"] < DELAY_MS + 25, waiting
    assert waiting["p50"] <= duration["p50"] and waiting["max"] <= duration["max"]
    assert sending["p50"] < 2 and receiving["p50"] < 2, (sending, receiving)
    # the parts add up to the service time (means, within rounding to the microsecond)
    assert abs(sending["avg"] + waiting["avg"] + receiving["avg"] - duration["avg"]) < 0.05
    tls = m["http_req_tls_handshaking"]                 # plain http: every request 0, as k6's
    assert tls["count"] == duration["count"] and tls["max"] == 0
    per_request = doc["requests"]["slow"]
    assert per_request["http_req_waiting"]["count"] == waiting["count"]
    judged = {t["metric"]: t for t in doc["thresholds"]}
    assert judged["http_req_waiting"]["ok"] is True
    assert DELAY_MS - 2 <= judged["http_req_waiting"]["observed"] < 1000
    assert judged["http_req_sending{request:slow}"]["ok"] is False
    assert "waiting (time to first byte)" in result.stdout and "receiving" in result.stdout
    page = html.read_text()
    assert "waiting (time to first byte)" in page and ">sending<" in page and ">receiving<" in page


def test_summary_timings_by_default(tmp_path, fresh_target):
    out = tmp_path / "results.json"
    # a threshold on a timing these settings do not measure is a config error, not "n/a" at the end
    refused = cli("run", _config(tmp_path, fresh_target.url), "-q", "--out", str(out))
    assert refused.returncode == 104, refused.stderr
    assert "http_req_waiting is measured only with settings.timings: detailed" in refused.stderr
    assert fresh_target.stats()["requests"] == 0 and not out.exists()
    result = cli("run", _config(tmp_path, fresh_target.url, thresholds=False), "--workers", "1", "-q",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    m = read_json(out)["metrics"]
    assert m["http_req_duration"]["count"] > 0
    assert not {"http_req_sending", "http_req_waiting", "http_req_receiving"} & set(m)
    assert m["http_req_blocked"]["count"] == m["http_req_duration"]["count"]
