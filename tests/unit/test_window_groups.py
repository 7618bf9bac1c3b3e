"""Windowed thresholds with request and tag filters (issue 13): the window groups a plan's
filtered windows read (analysis/window_groups.py), kept per second by the aggregate, judged as
the run goes and mid-run, dropped when seconds fold (issue 12's bounded memory), and bounded at
load."""

from __future__ import annotations

import random

import pytest

from lunge_mp.analysis.live_windows import LiveWindows
from lunge_mp.analysis.verdict import verdicts, window_source
from lunge_mp.analysis.window_groups import WINDOW_FILTERS, WindowGroups
from lunge_mp.analysis.window_judge import WindowJudge
from lunge_mp.config import ConfigError, plan_from_dict
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.protocol.messages import Report

TIERS = ((60, 10), (180, 60))      # 1 s for the newest minute, 10 s until 3 min, then 60 s
SECONDS = 400
SPIKE = range(150, 153)            # `login` alone is slow (and failing) for three seconds


def _plan(thresholds: dict):
    req = lambda name, **kw: {"name": name, "url": "http://127.0.0.1:1/", **kw}   # noqa: E731
    return plan_from_dict({"name": "t", "scenarios": {
        "a": {"executor": "shared-iterations", "vus": 1, "iterations": 1, "tags": {"team": "web"},
              "requests": [req("login", tags={"flow": "auth"}), req("home"), req("home2")]},
        "b": {"executor": "shared-iterations", "vus": 1, "iterations": 1,
              "requests": [req("login", tags={"flow": "auth"}), req("other")]}},
        "thresholds": thresholds})


def test_groups_select_fixed_request_series_and_share_equal_sets():
    plan = _plan({
        "http_req_duration{request:login}": ["p95 < 100 over 2s", "p99 < 300 over 5s"],
        "http_req_failed{flow:auth}": ["rate < 0.1 over 2s"],           # the same two series
        "http_req_duration{team:web,request:home}": ["p95 < 100 over 2s"],
        "http_reqs{scenario:a,flow:auth}": ["count > 1 over 2s"],
        "http_req_duration{request:home}": ["p95 < 100"],                # no window: no group
        "http_req_duration{scenario:a}": ["p95 < 100 over 2s"],          # the scenario's own seconds
        "iterations{request:login}": ["count > 1 over 2s"],              # not a request metric
        "checks{team:web}": ["rate > 0.9 over 2s"],                      # a scenario's tag: all of a
    })
    groups = WindowGroups(plan.thresholds, plan.scenarios)
    by_metric = {t.metric: groups.source(t) for t in plan.thresholds}
    login = by_metric["http_req_duration{request:login}"]
    assert login[:2] == ("trend", "http_req_duration")
    assert by_metric["http_req_failed{flow:auth}"] == ("rate", "http_req_failed", login[2])
    assert groups.members[login[2]] == {("a", "login"), ("b", "login")}
    home = by_metric["http_req_duration{team:web,request:home}"]
    assert groups.members[home[2]] == {("a", "home")}
    a_login = by_metric["http_reqs{scenario:a,flow:auth}"]
    assert a_login[0] == "counter" and groups.members[a_login[2]] == {("a", "login")}
    web = by_metric["checks{team:web}"]
    assert web[0] == "rate" and groups.members[web[2]] == {("a", "login"), ("a", "home"), ("a", "home2")}
    assert by_metric["http_req_duration{request:home}"] is None
    assert by_metric["http_req_duration{scenario:a}"] is None
    assert by_metric["iterations{request:login}"] is None
    assert len(groups.members) == 4 and groups.trends[login[2]] == {"http_req_duration"}
    assert sorted(groups.routes()[("a", "login")]) == sorted((login[2], a_login[2], web[2]))
    assert ("b", "other") not in groups.routes()         # in no group: nothing kept for it
    # a filtered window is never judged on more than it names: without its group, nothing
    t = next(t for t in plan.thresholds if t.metric == "http_req_duration{request:login}")
    shape = {"scenarios": {"a": {}, "b": {}}, "requests": {}, "metrics": {}}
    assert window_source(t, shape) is None and window_source(t, shape, groups) == login


def _reports(seconds: int = SECONDS):
    rng = random.Random(7)
    for t in range(seconds):
        for w in range(2):
            rec = Recorder()
            for _ in range(10):
                for scenario, request in (("a", "login"), ("a", "home"), ("a", "home2"), ("b", "other")):
                    slow = request == "login" and t in SPIKE
                    us = rng.randint(900, 1100) * (100 if slow else 1)
                    fail = slow and rng.random() < 0.5
                    rec.request_done(scenario, request, us, None, fail, "http_5xx" if fail else None,
                                     None, 10, 1)
                # the load generator's own failures never count against a window
                rec.request_done("a", "login", 1000, None, True, "generator", "EMFILE", 0, 0)
            series, counters, scenarios = rec.drain()
            yield Report(worker=w, run_id="x", seq=t, bucket=t, series=series, counters=counters,
                         scenarios=scenarios)


THRESHOLDS = {
    "http_req_duration{request:login}": ["p95 < 20 over 2s"],
    "http_req_failed{flow:auth}": ["rate < 0.1 over 2s"],
    "http_req_duration{team:web,request:home}": ["p95 < 20 over 2s"],
    "http_reqs{request:login}": ["count >= 40 over 2s"],
    "http_req_duration": ["p50 < 20 over 2s"],
}


def _judged(tiers):
    plan = _plan(THRESHOLDS)
    groups = WindowGroups(plan.thresholds, plan.scenarios)
    agg = Aggregate("x", tiers=tiers)
    agg.keep_groups(groups.routes(), groups.trends)
    judge = WindowJudge(plan.thresholds, ["a", "b"], 0.0, groups)
    agg.on_retire(judge.retire)
    for r in _reports():
        agg.add(r)
    agg.retire_rest()
    results = {"scenarios": {"a": {}, "b": {}}, "requests": {}, "metrics": {}, "buckets": agg.buckets(),
               "measuredFrom": 0, "durationSeconds": SECONDS}
    return agg, {v["metric"]: v for v in verdicts(plan.thresholds, results, agg.percentile_ms,
                                                  agg.bucket_counts, judge.verdicts())}


def test_only_the_slow_requests_windows_fail_and_folding_changes_nothing():
    full, got = _judged(())
    folded, same = _judged(TIERS)
    assert got == same          # a day-long run judges the same windows
    login = got["http_req_duration{request:login}"]
    assert not login["ok"] and login["firstFailure"] in (149, 150) and login["observed"] > 80, login
    failed = got["http_req_failed{flow:auth}"]
    assert not failed["ok"] and failed["firstFailure"] in (149, 150) and failed["observed"] > 0.2, failed
    assert got["http_req_duration{team:web,request:home}"]["ok"] is True
    count = got["http_reqs{request:login}"]
    # 20 logins a second + 20 of the load generator's own failures (http_reqs counts them, as
    # the totals do; http_req_failed does not: its windows before the spike pass)
    assert count["ok"] is True and count["observed"] == 80, count
    assert got["http_req_duration"]["ok"] is True
    assert all("note" not in v for v in got.values() if not v.get("default"))
    # issue 12: folded buckets keep no group data, and the run's rows show none
    rows = folded.buckets()
    assert len(rows) < 100
    for t in folded._buckets.seconds():
        b = folded._buckets.find(t)
        if b.span > 1:
            assert b.groups is None and not [k for k in b.encoded if type(k[0]) is int]
    assert all(set(r) - {"span"} == set(full.buckets()[0]) for r in rows)


def test_live_windows_abort_on_a_filtered_window():
    plan = _plan({"http_req_duration{request:login}": [{"threshold": "p95 < 20 over 2s", "abortOnFail": True}],
                  "http_req_failed{request:home}": [{"threshold": "rate < 0.1 over 2s", "abortOnFail": True}]})
    groups = WindowGroups(plan.thresholds, plan.scenarios)
    agg = Aggregate("x")
    agg.keep_groups(groups.routes(), groups.trends)
    live = LiveWindows(plan.thresholds, ["a", "b"], 0.0, groups)
    broken = None
    for r in _reports(160):
        agg.add(r)
        broken = broken or live.feed(agg.complete_second(2), r.bucket, agg.second, agg.second_counts,
                                     agg.second_group)
    assert broken is not None and broken.threshold.metric == "http_req_duration{request:login}"
    assert broken.end in SPIKE and broken.observed > 80


def test_at_most_so_many_filtered_windowed_metrics():
    many = {f"http_req_duration{{request:login,n{i}:x}}": ["p95 < 1 over 2s"] for i in range(WINDOW_FILTERS + 1)}
    tags = {f"n{i}": "x" for i in range(WINDOW_FILTERS + 1)}
    doc = {"name": "t", "scenarios": {"a": {"executor": "shared-iterations", "vus": 1, "iterations": 1,
                                            "requests": [{"name": "login", "url": "http://127.0.0.1:1/",
                                                          "tags": tags}]}},
           "thresholds": many}
    with pytest.raises(ConfigError, match=f"at most {WINDOW_FILTERS} metrics with a request or tag filter"):
        plan_from_dict(doc)
    doc["thresholds"] = dict(list(many.items())[:WINDOW_FILTERS])
    assert sum(not t.default for t in plan_from_dict(doc).thresholds) == WINDOW_FILTERS


@pytest.mark.parametrize("metric, expr, message", [
    ("http_req_duration{request:logn}", "p95 < 100 over 2s", "unknown request 'logn' in tag filter; did you mean 'login'?"),
    ("http_req_duration{flow:auht}", "p95 < 100 over 2s", "unknown flow 'auht' in tag filter; did you mean 'auth'?"),
    ("http_req_duration{scenario:b,request:home}", "p95 < 100 over 2s", "no request has every value"),
    ("http_req_duration{requst:login}", "p95 < 100 over 2s", "unsupported tag 'requst'"),
    ("http_req_duration{request:login", "p95 < 100 over 2s", "malformed tag filter"),
    ("vus{request:login}", "value < 10 over 2s", "windows do not apply to the gauge vus"),
    ("http_req_duration{request:login}", "p95 < 100 over 1.5s", "must be a whole number of seconds"),
])
def test_bad_filtered_windows_are_config_errors(metric, expr, message):
    with pytest.raises(ConfigError) as info:
        _plan({metric: [expr]})
    assert message in str(info.value), str(info.value)
