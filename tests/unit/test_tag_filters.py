"""Tags as threshold dimensions: filter parsing, load-time checks and the merged block
(analysis/thresholds.py, analysis/selection.py, analysis/verdict.py, metrics/aggregate.py)."""

from __future__ import annotations

import random

import pytest

from lunge_mp.analysis import selection
from lunge_mp.analysis.thresholds import parse_threshold, split_filters, unknown_metric_reason
from lunge_mp.analysis.verdict import observe
from lunge_mp.config.errors import ConfigError
from lunge_mp.config.validate import plan_from_dict
from lunge_mp.metrics import hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.protocol import messages as m


def test_several_filters_parse_in_order():
    assert split_filters("http_req_duration{scenario:a, request:r}") == (
        "http_req_duration", (("scenario", "a"), ("request", "r")))
    assert split_filters("http_req_duration{kind:slow}") == ("http_req_duration", (("kind", "slow"),))
    assert split_filters("http_reqs") == ("http_reqs", ())


@pytest.mark.parametrize("metric,message", [
    ("http_req_duration{scenario:a,scenario:b}", "appears twice"),
    ("http_req_duration{scenario:a,}", "malformed tag filter"),
    ("http_req_duration{kind:}", "empty kind value"),
    ("http_req_duration{kind:slow", "malformed tag filter"),
])
def test_malformed_filters_are_refused(metric, message):
    with pytest.raises(ValueError, match=message):
        split_filters(metric)


TAGS = {"kind": {"slow", "fast"}, "env": {"prod"}}


@pytest.mark.parametrize("metric,reason", [
    ("http_req_duration{scenario:a,request:r}", None),
    ("http_req_duration{scenario:a,env:prod}", None),
    ("http_req_duration{kind:slow}", None),
    ("a_duration{kind:fast}", None),
    ("http_req_duration{knd:slow}", "unsupported tag 'knd' in 'http_req_duration{knd:slow}'; did you mean 'kind'?"),
    ("http_req_duration{kind:slwo}", "unknown kind 'slwo' in tag filter; did you mean 'slow'?"),
    ("http_req_duration{scenario:a,request:rr}", "unknown request 'rr' in tag filter; did you mean 'r'?"),
])
def test_keys_and_values_are_the_configs(metric, reason):
    got = unknown_metric_reason(metric, ["a", "b"], ["r", "s"], TAGS)
    assert got == reason if reason is None else got.startswith(reason), got


def test_without_config_tags_only_scenario_and_request_filter():
    assert "unsupported tag 'kind'" in unknown_metric_reason("http_req_duration{kind:slow}", ["a"])


def test_windows_take_request_and_tag_filters_but_not_gauges():
    for metric in ("http_req_duration{scenario:a}", "http_req_duration{kind:slow}",
                   "http_req_duration{scenario:a,request:r}"):
        assert parse_threshold(metric, "p95 < 100 over 5s").window == 5
    with pytest.raises(ValueError, match="windows do not apply to the gauge"):
        parse_threshold("vus{scenario:a}", "value < 100 over 5s")


def _config(thresholds: dict, request_tags: dict | None = None) -> dict:
    slow = {"name": "slow", "url": "http://127.0.0.1:1/delay/50", "tags": request_tags or {"kind": "slow"}}
    return {"name": "t", "scenarios": {
        "a": {"executor": "shared-iterations", "vus": 1, "iterations": 1, "tags": {"env": "prod"},
              "requests": [slow, {"name": "fast", "url": "http://127.0.0.1:1/"}]}},
        "thresholds": thresholds}


def test_request_tags_override_the_scenarios():
    plan = plan_from_dict(_config({"http_req_duration{kind:slow,env:prod}": ["p95 < 100"]},
                                  {"kind": "slow", "env": "staging"}) | {"thresholds": {}})
    assert selection.request_tags(plan.scenarios) == {("a", "slow"): {"env": "staging", "kind": "slow"},
                                                      ("a", "fast"): {"env": "prod"}}


def test_a_typo_in_a_tag_filter_is_a_config_error_with_a_suggestion():
    with pytest.raises(ConfigError) as e:
        plan_from_dict(_config({"http_req_duration{kind:slwo}": ["p95 < 100"]}))
    assert "did you mean 'slow'?" in str(e.value)
    plan = plan_from_dict(_config({"http_req_duration{scenario:a,env:prod}": ["p95 < 100"]}))
    assert plan.thresholds[0].metric == "http_req_duration{scenario:a,env:prod}"


def test_filters_that_exist_alone_but_select_nothing_together_are_refused():
    with pytest.raises(ConfigError, match="no request has every value of 'http_req_duration{request:fast,kind:slow}'"):
        plan_from_dict(_config({"http_req_duration{request:fast,kind:slow}": ["p95 < 100"]}))


def test_reserved_tag_names_are_refused():
    with pytest.raises(ConfigError, match="reserved tag name"):
        plan_from_dict(_config({}, {"request": "x"}))


def _entry(agg: Aggregate, scenario: str, request: str, tags: dict, requests: int, failures: int) -> dict:
    return {"scenario": scenario, "request": request, "tags": tags,
            "http_reqs": {"count": requests, "rate": requests / 10},
            "http_req_failed": {"count": failures, "rate": failures / requests},
            "checks": {"passes": requests - failures, "fails": failures, "rate": None},
            "http_req_duration": hdr.summarize_ms(agg.histogram("http_req_duration", scenario, request))}


def test_a_merged_block_equals_one_histogram_of_all_samples():
    rng = random.Random(7)
    agg, everything = Aggregate(), hdr.new_histogram()
    samples = {("a", "slow1"): [rng.randint(40_000, 60_000) for _ in range(900)],
               ("b", "slow2"): [rng.randint(50_000, 90_000) for _ in range(100)],
               ("a", "fast"): [rng.randint(100, 900) for _ in range(3000)]}
    for seq, ((s, r), values) in enumerate(samples.items()):
        h = hdr.Tally()
        h.add_values(values)
        agg.add(m.Report(worker=0, run_id="", seq=seq, bucket=0,
                         series=[m.SeriesDelta.of(s, r, "http_req_duration", h.counts, h.n, h.lo, h.hi)]))
        if r != "fast":
            hdr.record_many(everything, values)
    tags = {("a", "slow1"): {"kind": "slow"}, ("b", "slow2"): {"kind": "slow"}, ("a", "fast"): {}}
    requests = {r: _entry(agg, s, r, tags[(s, r)], len(v), 3) for (s, r), v in samples.items()}
    results = {"metrics": {}, "scenarios": {"a": {}, "b": {}}, "requests": requests, "durationSeconds": 10.0}

    def seen(metric: str, expr: str) -> float | None:
        return observe(parse_threshold(metric, expr), results, agg.percentile_ms)

    want = hdr.summarize_ms(everything)
    for p in ("p95", "p50", "p99", "p97.5"):
        exact = round(hdr.percentiles(everything, [float(p[1:])])[float(p[1:])] / 1000.0, 3)
        assert seen("http_req_duration{kind:slow}", f"{p} < 1") == exact
    assert seen("http_req_duration{kind:slow}", "med < 1") == want["p50"]
    assert seen("http_req_duration{kind:slow}", "max < 1") == want["max"]
    assert seen("http_req_duration{kind:slow}", "min < 1") == want["min"]
    assert seen("http_req_duration{kind:slow}", "avg < 1") == pytest.approx(want["avg"], abs=0.01)
    assert seen("http_req_failed{kind:slow}", "rate < 1") == round(6 / 1000, 6)
    assert seen("http_reqs{kind:slow}", "count < 1") == 1000
    assert seen("checks{kind:slow}", "rate < 1") == 994 / 1000
    # one series selected: its own block, as a {request:...} filter reads it
    assert seen("http_req_duration{scenario:a,request:slow1}", "p95 < 1") == requests["slow1"]["http_req_duration"]["p95"]
    assert seen("http_req_duration{scenario:b,kind:slow}", "p95 < 1") == requests["slow2"]["http_req_duration"]["p95"]
    assert seen("http_req_duration{scenario:b,request:fast}", "p95 < 1") is None
