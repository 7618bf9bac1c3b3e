"""The load generator's own failures (class "generator": out of file descriptors or ports) are
kept apart from the target's failures everywhere the target is judged: run totals, the
per-second buckets, windowed thresholds, abortOnFail's live checks, error bursts, CSV.

Fed through the real path: Recorder → msgpack Report → Aggregate → results blocks."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from lunge_mp.analysis import generator_errors
from lunge_mp.analysis.anomalies import error_bursts
from lunge_mp.analysis.thresholds import parse_threshold
from lunge_mp.analysis.verdict import verdicts
from lunge_mp.executors import ConstantVUs
from lunge_mp.outcome import RunOutcome
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.plan import Plan, RequestSpec
from lunge_mp.protocol import messages as m
from lunge_mp.report import csv_report
from lunge_mp.report.results import live_results, request_metrics, scenario_metrics
from lunge_mp.runner import _abort_checker

EMFILE = "OSError: [Errno 24] Too many open files"
SECONDS = 4


def run_aggregate(seconds: int = SECONDS, target_failures: bool = True) -> Aggregate:
    """4 s × 2 workers × 50 requests: per worker and second 10 target failures (http_5xx),
    and in second 2 only, 30 generator errors per worker."""
    agg = Aggregate()
    for w in range(2):
        for second in range(seconds):
            rec = Recorder()
            for i in range(50):
                if second == 2 and i < 30:
                    rec.request_done("s", "get", 5, None, True, "generator", EMFILE, 0, 0)
                elif i >= 40 and target_failures:
                    rec.request_done("s", "get", 5, None, True, "http_5xx", "HTTP 503", 0, 0)
                else:
                    rec.request_done("s", "get", 5, None, False, None, None, 0, 0)
            series, counters, scenarios = rec.drain()
            agg.add(m.decode(m.encode(m.Report(worker=w, run_id="", seq=second, bucket=second,
                                               series=series, counters=counters, scenarios=scenarios))))
    return agg


PLAN = Plan(name="p", scenarios=(ConstantVUs(name="s", vus=1, duration=SECONDS,
                                              requests=(RequestSpec("get", "GET", "http://h/"),)),))


def test_buckets_count_generator_errors_apart_from_failures():
    rows = run_aggregate().buckets()
    assert [(b["failures"], b["generatorErrors"]) for b in rows] == [(20, 0), (20, 0), (20, 60), (20, 0)]
    assert all(b["requests"] == 100 for b in rows)                      # they were attempted
    assert all(b["errors"] == {"http_5xx": 20} for b in rows)           # errors still add up to failures
    assert rows[2]["byScenario"]["s"]["failures"] == 20
    assert rows[2]["byScenario"]["s"]["generatorErrors"] == 60
    assert rows[2]["byScenario"]["s"]["errors"] == {"http_5xx": 20}


def test_every_results_block_is_built_with_them_apart_and_separate_is_idempotent():
    agg = run_aggregate()
    for block in (scenario_metrics(agg, SECONDS), scenario_metrics(agg, SECONDS, "s"),
                  request_metrics(agg, SECONDS, "s", "get")):
        assert block["http_reqs"]["count"] == 400
        assert block["http_req_failed"] == {"count": 80, "rate": 0.2, "byClass": {"http_5xx": 80},
                                            "firstError": {"http_5xx": "HTTP 503"}}
        assert block["generator_errors"] == {"count": 60, "firstError": EMFILE}
    doc = {"metrics": scenario_metrics(agg, SECONDS), "scenarios": {"s": scenario_metrics(agg, SECONDS, "s")},
           "requests": {"get": request_metrics(agg, SECONDS, "s", "get")}}
    before = copy.deepcopy(doc)
    warning = generator_errors.separate(doc)          # the runner's pass over a finished document
    assert doc == before
    assert warning and warning.startswith("60 request(s) failed in the load generator itself")


def test_windowed_failure_rate_thresholds_judge_the_target_only():
    agg = run_aggregate()
    results = {"metrics": scenario_metrics(agg, SECONDS), "scenarios": {"s": scenario_metrics(agg, SECONDS, "s")},
               "requests": {}, "durationSeconds": SECONDS, "measuredFrom": 0, "buckets": agg.buckets()}
    whole, windowed, per_scenario = verdicts(
        (parse_threshold("http_req_failed", "rate<0.25"), parse_threshold("http_req_failed", "rate<0.25 over 1s"),
         parse_threshold("s_failed", "rate<0.25 over 1s")),
        results, agg.percentile_ms, agg.bucket_counts)
    assert (whole["ok"], whole["observed"]) == (True, 0.2)
    # second 2: 20 of 100 requests were the target's failures (80 with the generator's)
    assert (windowed["ok"], windowed["observed"]) == (True, 0.2)
    assert (per_scenario["ok"], per_scenario["observed"]) == (True, 0.2)


def test_abort_on_fail_judges_the_target_only_mid_run():
    agg = run_aggregate()
    outcome = RunOutcome(PLAN, "r", agg, [])
    live = live_results(outcome, SECONDS)
    assert live["metrics"]["http_req_failed"]["rate"] == 0.2
    assert live["scenarios"]["s"]["generator_errors"]["count"] == 60
    coord = SimpleNamespace(outcome=outcome, aggregate=agg)
    plan = Plan(name="p", scenarios=PLAN.scenarios,
                thresholds=(parse_threshold("http_req_failed", "rate<0.25", abort_on_fail=True),))
    assert _abort_checker(plan)(coord, SECONDS) is None          # with them it would be 0.35: abort
    plan = Plan(name="p", scenarios=PLAN.scenarios,
                thresholds=(parse_threshold("http_req_failed", "rate<0.15", abort_on_fail=True),))
    reason, code = _abort_checker(plan)(coord, SECONDS)
    assert code == 99 and "observed 0.2)" in reason


@pytest.mark.parametrize("limit, broken", [("0.25", None), ("0.15", "0-1s")])
def test_windowed_abort_on_fail_judges_the_target_only_mid_run(limit, broken):
    """Second 2 has 20 target failures and 60 generator errors in 100 requests: a 1 s window
    judged mid-run sees 0.2 (0.8 with the generator's), like the final verdict."""
    agg = run_aggregate()
    workers = [SimpleNamespace(lost=False), SimpleNamespace(lost=False)]
    coord = SimpleNamespace(outcome=RunOutcome(PLAN, "r", agg, workers), aggregate=agg)
    plan = Plan(name="p", scenarios=PLAN.scenarios,
                thresholds=(parse_threshold("http_req_failed", f"rate<{limit} over 1s", abort_on_fail=True),))
    verdict = _abort_checker(plan)(coord, SECONDS)
    if broken is None:
        assert verdict is None
    else:
        reason, code = verdict
        assert code == 99 and f"crossed in the window {broken} (observed 0.2)" in reason


def test_generator_errors_alone_are_not_an_error_burst():
    # 8 s without a target failure; second 2 has 60 generator errors in 100 requests (as
    # failures that second would be 60% against 7.5% over the run: a burst)
    rows = run_aggregate(seconds=8, target_failures=False).buckets()
    assert sum(b["failures"] for b in rows) == 0 and rows[2]["generatorErrors"] == 60
    assert error_bursts(rows) == []


@pytest.mark.parametrize("name,generator,column", [("some", 60, True), ("none", 0, False)])
def test_csv_has_a_generator_errors_column_when_a_second_had_any(name, generator, column):
    rows = run_aggregate().buckets()
    rows[2]["generatorErrors"] = generator
    results = {"buckets": rows, "startTime": "2026-01-01T00:00:00.000+00:00"}
    cols = csv_report.columns(results)
    assert ("generator_errors" in cols) is column
    if column:
        assert cols.index("errors_other") < cols.index("generator_errors") < cols.index("iterations")
        assert [r["generator_errors"] for r in csv_report.rows(results)] == [0, 0, 60, 0]
        assert [r["failures"] for r in csv_report.rows(results)] == [20, 20, 20, 20]
