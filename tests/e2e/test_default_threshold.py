"""A run where nothing worked does not pass (issue 10 item 9): without a threshold of its own on
http_req_failed, a run gets the default `http_req_failed: rate<0.01`, named as a default in the
summary, results.json and JUnit; the config's own threshold replaces it and
`options.defaultThresholds: false` turns it off."""

from __future__ import annotations

import socket

import pytest

from tests.support import cli, read_json, write_config


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path, url: str, extra: str = ""):
    return write_config(tmp_path, f"""
        name: target down
        settings: {{baseUrl: "{url}"}}
        scenarios:
          s:
            executor: per-vu-iterations
            vus: 2
            iterations: 3
            requests: [{{url: /}}]
        {extra}
        """)


def test_a_run_against_a_closed_port_fails_on_the_default_threshold(tmp_path):
    config = _config(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    out, junit = tmp_path / "r.json", tmp_path / "r.xml"
    proc = cli("run", str(config), "--out", str(out), "--junit", str(junit), "--no-history", "--workers", "1")
    assert proc.returncode == 99, proc.stderr
    assert "FAILED" in proc.stdout or "failed" in proc.stdout
    assert "FAIL  http_req_failed: rate<0.01  (observed 1" in proc.stdout, proc.stdout
    assert "[default: set your own threshold on it, or options.defaultThresholds: false]" in proc.stdout
    r = read_json(out)
    assert r["status"] == "failed" and r["exitCode"] == 99
    assert r["metrics"]["http_req_failed"]["byClass"] == {"connect": 6}
    (t,) = r["thresholds"]
    assert t["metric"] == "http_req_failed" and t["expression"] == "rate<0.01"
    assert t["default"] is True and t["ok"] is False and t["observed"] == 1
    assert "options.defaultThresholds: false" in t["note"]
    assert 'name="rate&lt;0.01 (default)"' in junit.read_text() or 'name="rate<0.01 (default)"' in junit.read_text()


@pytest.mark.parametrize("extra, code, thresholds", [
    ("options: {defaultThresholds: false}", 0, []),
    ("thresholds: {http_req_failed: [\"rate<=1\"]}", 0, [("rate<=1", False)]),
    # a threshold on a part of the failures leaves the run-wide default in place
    ("thresholds: {\"http_req_failed{scenario:s}\": [\"rate<=1\"]}", 99,
     [("rate<=1", False), ("rate<0.01", True)]),
])
def test_the_default_is_replaced_by_the_configs_own_or_turned_off(tmp_path, extra, code, thresholds):
    config = _config(tmp_path, f"http://127.0.0.1:{_closed_port()}", extra)
    out = tmp_path / "r.json"
    proc = cli("run", str(config), "--out", str(out), "--no-history", "--workers", "1")
    assert proc.returncode == code, proc.stderr
    r = read_json(out)
    assert [(t["expression"], t.get("default", False)) for t in r["thresholds"]] == thresholds
    assert any("every request failed" in w for w in r["warnings"])


def test_a_healthy_run_passes_the_default(tmp_path, fresh_target):
    config = _config(tmp_path, fresh_target.url)
    out = tmp_path / "r.json"
    proc = cli("run", str(config), "--out", str(out), "--no-history", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    (t,) = read_json(out)["thresholds"]
    assert t["default"] is True and t["ok"] is True and t["observed"] == 0
    assert "ok    http_req_failed: rate<0.01" in proc.stdout


def test_validate_and_summary_of_the_plan_show_the_default(tmp_path):
    from lunge_mp.config import plan_from_dict

    doc = {"name": "n", "scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "1s",
                                            "requests": [{"url": "http://h/"}]}}}
    (t,) = plan_from_dict(doc).thresholds
    assert (t.metric, t.expression, t.default) == ("http_req_failed", "rate<0.01", True)
    assert plan_from_dict({**doc, "options": {"defaultThresholds": False}}).thresholds == ()
