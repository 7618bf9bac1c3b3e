"""Drops, sustained failures and saturation are anomalies too; units on threshold figures."""

from __future__ import annotations

import pytest

from lunge_mp.analysis import anomalies
from lunge_mp.report.units import observed


def second(t: int, requests: int = 100, failures: int = 0, dropped: int = 0, scheduled: int = 100,
           exhausted: int = 0, p95: float = 10.0) -> dict:
    return {"t": t, "phase": "steady", "requests": requests, "failures": failures, "dropped": dropped,
            "scheduled": scheduled, "dataExhausted": exhausted, "p95": p95, "errors": {"http_5xx": failures}}


def test_a_run_failing_a_third_of_its_requests_all_along_is_an_anomaly():
    found = anomalies.find([second(t, failures=33) for t in range(6)])
    assert [(a["kind"], a["start"], a["end"]) for a in found] == [("failures", 0, 5)]
    assert "198 of 600 requests failed (33.0%)" in found[0]["detail"]


def test_a_burst_is_not_also_reported_as_sustained_failures():
    buckets = [second(t, failures=1) for t in range(8)] + [second(8, failures=90)]
    assert [a["kind"] for a in anomalies.find(buckets)] == ["error_burst"]


def test_drops_by_the_load_generator_are_an_anomaly_but_used_up_data_is_not():
    buckets = [second(0), second(1, dropped=50), second(2, dropped=60), second(3, dropped=5, exhausted=5)]
    found = anomalies.find(buckets)
    assert [(a["kind"], a["start"], a["end"]) for a in found] == [("drops", 1, 2)]
    assert "110 of 200 scheduled iterations dropped" in found[0]["detail"]


def test_a_saturated_worker_is_an_anomaly_in_the_second_it_measured():
    resources = [{"t": 3, "workers": {"0": {"cpuPercent": 97.0, "loopLagMs": 1.0}}},
                 {"t": 4, "workers": {"0": {"cpuPercent": 99.0, "loopLagMs": 80.0}}}]
    found = anomalies.find([second(t) for t in range(5)], resources)
    assert [(a["kind"], a["start"], a["end"]) for a in found] == [("saturation", 2, 3), ("saturation", 3, 3)]
    assert "worker 0: CPU at or over 90% of a core (peak 99%)" in found[0]["detail"]


@pytest.mark.parametrize("metric, expression, value, text", [
    ("http_req_duration", "p(95) < 500", 5.307, "5.31ms"),
    ("http_req_duration{request:Login}", "avg < 200ms", 123.456, "123ms"),
    ("http_req_failed", "rate < 0.01", 0.0123, "0.0123 (1.23%)"),
    ("http_reqs", "count > 10", 2400, "2,400"),
    ("http_reqs", "rate > 100", 152.33, "152.3/s"),
    ("http_req_duration", "p(95) < 500", None, "n/a"),
])
def test_threshold_figures_carry_their_units(metric, expression, value, text):
    assert observed(metric, expression, value) == text
