"""Threshold grammar, metric rules and evaluation (lunge_mp.analysis.thresholds)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lunge_mp.analysis.thresholds import (
    evaluate,
    known_metric,
    metric_kind,
    parse_threshold,
    valid_aggregations,
)

# (id, metric, expression, aggregation, percentile, op, value)
PARSES = [
    ("lunge-p95-ms", "http_req_duration", "p95 < 500ms", "p95", 95.0, "<", 500.0),
    ("k6-p95-no-unit", "http_req_duration", "p(95)<500", "p95", 95.0, "<", 500.0),
    ("k6-p99.9-seconds", "http_req_duration", "p(99.9) < 1.5s", "p99.9", 99.9, "<", 1500.0),
    ("bare-p99.9", "http_req_duration", "p99.9<2s", "p99.9", 99.9, "<", 2000.0),
    ("avg-no-unit", "http_req_duration", "avg<200", "avg", 0.0, "<", 200.0),
    ("med", "iteration_duration", "med <= 1m", "med", 0.0, "<=", 60000.0),
    ("min", "http_req_duration", "min >= 1ms", "min", 0.0, ">=", 1.0),
    ("max-us", "schedule_lag", "max < 500us", "max", 0.0, "<", 0.5),
    ("max-compound", "http_req_response_time", "max < 1m30s", "max", 0.0, "<", 90000.0),
    ("space-before-unit", "http_req_duration", "p95 < 500 ms", "p95", 95.0, "<", 500.0),
    ("uppercase-agg", "http_req_duration", "P95 < 500", "p95", 95.0, "<", 500.0),
    ("count", "http_reqs", "count > 1000", "count", 0.0, ">", 1000.0),
    ("counter-rate", "http_reqs", "rate > 50", "rate", 0.0, ">", 50.0),
    ("rate-fraction", "http_req_failed", "rate < 0.01", "rate", 0.0, "<", 0.01),
    ("rate-percent", "http_req_failed", "rate < 1%", "rate", 0.0, "<", 0.01),
    ("checks-rate", "checks", "rate>0.99", "rate", 0.0, ">", 0.99),
    ("equals", "dropped_iterations", "count == 0", "count", 0.0, "==", 0.0),
    ("k6-triple-equals", "dropped_iterations", "count === 0", "count", 0.0, "==", 0.0),
    ("not-equals", "http_reqs", "count != 0", "count", 0.0, "!=", 0.0),
    ("scenario-trend", "browse_duration", "p95 < 300ms", "p95", 95.0, "<", 300.0),
    ("scenario-rate", "browse_failed", "rate < 0.05", "rate", 0.0, "<", 0.05),
    ("tag-filter", "http_req_duration{request:List products}", "p99 < 1s", "p99", 99.0, "<", 1000.0),
    ("gauge", "vus", "max <= 50", "max", 0.0, "<=", 50.0),
    ("exponent", "http_reqs", "count > 1e3", "count", 0.0, ">", 1000.0),
]


@pytest.mark.parametrize("metric,expr,agg,pct,op,value", [c[1:] for c in PARSES], ids=[c[0] for c in PARSES])
def test_parse(metric: str, expr: str, agg: str, pct: float, op: str, value: float) -> None:
    t = parse_threshold(metric, expr, abort_on_fail=True, delay_abort_eval=10.0)
    assert (t.aggregation, t.percentile, t.op) == (agg, pct, op)
    assert t.value == pytest.approx(value)
    assert t.metric == metric and t.expression == expr
    assert t.abort_on_fail is True and t.delay_abort_eval == 10.0


# (id, metric, expression, text the message must contain)
REJECTS = [
    ("no-operator", "http_req_duration", "p95 500ms", "no comparison operator"),
    ("single-equals", "http_req_duration", "avg = 5", "use '=='"),
    ("no-value", "http_req_duration", "p95 <", "missing value"),
    ("no-aggregation", "http_req_duration", "< 5", "missing aggregation"),
    ("unknown-aggregation", "http_req_duration", "mean < 5", "unknown aggregation 'mean'"),
    ("percentile-over-100", "http_req_duration", "p(101) < 5", "out of range"),
    ("bad-unit", "http_req_duration", "p95 < 5xs", "unknown unit 'xs'"),
    ("garbage-value", "http_req_duration", "p95 < fast", "invalid value 'fast'"),
    ("p95-on-counter", "http_reqs", "p95 < 5", "use count, rate"),
    ("avg-on-rate", "http_req_failed", "avg < 0.1", "use rate"),
    ("count-on-trend", "http_req_duration", "count > 5", "use avg, min, med, max, p(N)"),
    ("time-on-counter", "http_reqs", "count > 5s", "has a time unit"),
    ("percent-on-trend", "http_req_duration", "avg < 5%", "percentage only applies"),
    ("rate-above-one", "http_req_failed", "rate < 5", "did you mean 5%?"),
    ("not-a-string", "http_req_duration", 5, "must be a string"),
]


@pytest.mark.parametrize("metric,expr,message", [c[1:] for c in REJECTS], ids=[c[0] for c in REJECTS])
def test_reject(metric: str, expr: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_threshold(metric, expr)  # type: ignore[arg-type]
    assert message in str(info.value)
    if isinstance(expr, str):
        assert f"'{expr}'" in str(info.value)  # quotes the offending text


SCENARIOS = ("browse", "checkout")
# (id, metric, known)
KNOWN = [
    ("builtin-trend", "http_req_duration", True),
    ("builtin-response-time", "http_req_response_time", True),
    ("builtin-rate", "http_req_failed", True),
    ("builtin-counter", "http_reqs", True),
    ("iterations", "iterations", True),
    ("iteration-duration", "iteration_duration", True),
    ("dropped", "dropped_iterations", True),
    ("schedule-lag", "schedule_lag", True),
    ("checks", "checks", True),
    ("data", "data_received", True),
    ("data-sent", "data_sent", True),
    ("vus", "vus", True),
    ("vus-max", "vus_max", True),
    ("scenario-duration", "browse_duration", True),
    ("scenario-failed", "checkout_failed", True),
    ("scenario-reqs", "checkout_reqs", True),
    ("request-filter", "http_req_duration{request:Login}", True),
    ("scenario-filter", "http_reqs{scenario:browse}", True),
    ("filter-with-spaces", "http_req_duration{ request : List products }", True),
    ("unknown-scenario-metric", "search_duration", False),
    ("typo", "http_req_duraton", False),
    ("unknown-filter-scenario", "http_reqs{scenario:search}", False),
    ("unsupported-tag", "http_reqs{status:200}", False),
    ("empty-tag-value", "http_reqs{request:}", False),
    ("malformed-filter", "http_reqs{request:a", False),
    ("bare-suffix", "_duration", False),
]


@pytest.mark.parametrize("metric,known", [c[1:] for c in KNOWN], ids=[c[0] for c in KNOWN])
def test_known_metric(metric: str, known: bool) -> None:
    assert known_metric(metric, SCENARIOS) is known


KINDS = [
    ("trend", "http_req_duration", "trend", ("avg", "min", "med", "max", "pN")),
    ("rate", "http_req_failed", "rate", ("rate",)),
    ("counter", "http_reqs", "counter", ("count", "rate")),
    ("gauge", "vus_max", "gauge", ("value", "min", "max")),
    ("scenario-trend-filtered", "x_duration{request:a}", "trend", ("avg", "min", "med", "max", "pN")),
]


@pytest.mark.parametrize("metric,kind,aggs", [c[1:] for c in KINDS], ids=[c[0] for c in KINDS])
def test_kinds(metric: str, kind: str, aggs: tuple[str, ...]) -> None:
    assert metric_kind(metric) == kind
    assert valid_aggregations(metric) == aggs


# (id, metric, expression, observed, passes)
EVALUATES = [
    ("lt-pass", "http_req_duration", "p95 < 500ms", 499.9, True),
    ("lt-boundary-fails", "http_req_duration", "p95 < 500ms", 500.0, False),
    ("le-boundary-passes", "http_req_duration", "p95 <= 500ms", 500.0, True),
    ("gt-pass", "http_reqs", "count > 1000", 1001, True),
    ("gt-fail", "http_reqs", "count > 1000", 1000, False),
    ("ge", "http_reqs", "rate >= 50", 50.0, True),
    ("eq-float", "dropped_iterations", "count == 0.3", 0.1 + 0.2, True),
    ("ne", "dropped_iterations", "count != 0", 0, False),
    ("seconds-vs-ms", "http_req_duration", "avg < 1.5s", 1400.0, True),
    ("rate-percent", "http_req_failed", "rate < 1%", 0.02, False),
    ("nan-never-passes", "http_req_duration", "p95 < 500", math.nan, False),
    ("nan-never-passes-ne", "http_reqs", "count != 5", math.nan, False),
]


@pytest.mark.parametrize("metric,expr,observed,passes", [c[1:] for c in EVALUATES], ids=[c[0] for c in EVALUATES])
def test_evaluate(metric: str, expr: str, observed: float, passes: bool) -> None:
    assert evaluate(parse_threshold(metric, expr), observed) is passes


@given(st.text(max_size=30))
def test_parse_raises_only_value_error(expr: str) -> None:
    for metric in ("http_req_duration", "http_reqs", "http_req_failed", "vus", "mystery"):
        try:
            parse_threshold(metric, expr)
        except ValueError:
            pass
