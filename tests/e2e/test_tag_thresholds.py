"""Scenario and request `tags` as threshold dimensions, end to end with real workers against the
embedded target: a filter over two requests tagged `kind: slow` judges the percentile of both
merged (exactly, as one histogram of all their samples), several filters at once work, a live
abortOnFail threshold sees the tags, and a typo is refused with 104 and a suggestion."""

from __future__ import annotations

import json
import time

from lunge_mp.metrics import hdr
from tests.support import cli, read_json, write_config


def _config(tmp_path, url: str, executor: dict, thresholds: dict):
    slow = {"kind": "slow"}
    doc = {"name": "tags", "settings": {"baseUrl": url},
           "scenarios": {"a": {**executor, "tags": {"env": "prod"}, "requests": [
               {"name": "slow1", "url": "/delay/50", "tags": slow},
               {"name": "slow2", "url": "/delay/60", "tags": slow},
               {"name": "fast", "url": "/"}]}},
           "thresholds": thresholds}
    return write_config(tmp_path, json.dumps(doc))


def test_a_tag_filter_judges_the_merged_requests(tmp_path, fresh_target):
    config = _config(tmp_path, fresh_target.url, {"executor": "per-vu-iterations", "vus": 2, "iterations": 10}, {
        "http_req_duration{kind:slow}": ["p95 >= 60", "p95 < 5"],
        "http_req_duration{scenario:a,request:fast}": ["p95 < 1000"],
        "http_reqs{scenario:a,env:prod}": ["count == 60"],
        "http_req_failed{kind:slow}": [{"threshold": "rate < 0.5", "abortOnFail": True}]})
    out = tmp_path / "r.json"
    proc = cli("run", str(config), "--out", str(out), "--no-history", "--workers", "2", "-q")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 99, proc.stderr
    r = read_json(out)
    assert r["requests"]["slow1"]["tags"] == {"env": "prod", "kind": "slow"}
    assert r["requests"]["fast"]["tags"] == {"env": "prod"}
    merged = hdr.new_histogram()
    for name in ("slow1", "slow2"):
        hdr.merge(merged, hdr.decode(r["histograms"][f"a/{name}/http_req_duration"]))
    assert merged.total_count == 40
    exact = round(hdr.percentiles(merged, [95.0])[95.0] / 1000.0, 3)
    got = {(t["metric"], t["expression"]): (t["observed"], t["ok"]) for t in r["thresholds"]}
    assert got[("http_req_duration{kind:slow}", "p95 >= 60")] == (exact, True)
    assert got[("http_req_duration{kind:slow}", "p95 < 5")] == (exact, False)
    assert exact >= 60
    fast_p95 = r["requests"]["fast"]["http_req_duration"]["p95"]
    assert got[("http_req_duration{scenario:a,request:fast}", "p95 < 1000")] == (fast_p95, True)
    assert got[("http_reqs{scenario:a,env:prod}", "count == 60")] == (60, True)
    assert got[("http_req_failed{kind:slow}", "rate < 0.5")] == (0, True)


def test_a_live_abort_on_fail_threshold_reads_the_tags(tmp_path, fresh_target):
    config = _config(tmp_path, fresh_target.url,
                     {"executor": "constant-arrival-rate", "rate": 10, "duration": "60s", "gracefulStop": "1s"},
                     {"http_req_duration{kind:slow}": [{"threshold": "p95 < 5", "abortOnFail": True}]})
    out = tmp_path / "r.json"
    started = time.monotonic()
    proc = cli("run", str(config), "--out", str(out), "--no-history", "--workers", "1", "-q")
    assert proc.returncode == 99, proc.stderr
    assert time.monotonic() - started < 40        # stopped long before its 60 s
    r = read_json(out)
    assert "http_req_duration{kind:slow}" in r["abortReason"]


def test_a_typo_in_a_tag_filter_exits_104_with_a_suggestion(tmp_path, fresh_target):
    config = _config(tmp_path, fresh_target.url, {"executor": "per-vu-iterations", "vus": 1, "iterations": 1}, {
        "http_req_duration{kind:slwo}": ["p95 < 100"],
        "http_req_duration{scenario:a,knd:slow}": ["p95 < 100"]})
    proc = cli("run", str(config), "--no-history", "--workers", "1", "-q")
    assert proc.returncode == 104, proc.stderr
    assert "unknown kind 'slwo' in tag filter; did you mean 'slow'?" in proc.stderr, proc.stderr
    assert "unsupported tag 'knd'" in proc.stderr and "did you mean 'kind'?" in proc.stderr
    assert fresh_target.stats()["requests"] == 0        # no traffic
