"""Iterations dropped because a `unique` data source ran out of rows (data_exhausted) are the
data's limit, not the load generator's: efficiency, the behind-schedule warnings, the live
BEHIND flag and the knee all leave them out. Pure pieces, fed by a real Recorder → msgpack →
Aggregate path."""

from __future__ import annotations

import pytest

from lunge_mp.analysis.anomalies import find
from lunge_mp.executors import ConstantArrivalRate
from lunge_mp.outcome import RunOutcome
from lunge_mp.metrics import names
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.plan import DataSource, Plan, RequestSpec, ScenarioPlan
from lunge_mp.protocol import messages as m
from lunge_mp.report.results import _behind_warnings, efficiency
from lunge_mp.runner import behind_scenarios
from lunge_mp.scenario.preflight import data_sources_used
from lunge_mp.worker import iteration

USERS = DataSource("users", "users.csv", mode="unique")
CODES = DataSource("codes", "codes.csv", mode="unique")
CITIES = DataSource("cities", "cities.csv", mode="random")


def scenario(name: str, url: str, data=()) -> ScenarioPlan:
    return ConstantArrivalRate(name=name, rate=10, duration=10,
                        requests=(RequestSpec("r", "GET", url),), data=data)


PLAN = Plan(name="p", data=(USERS, CITIES), scenarios=(
    scenario("signup", "http://h/?u={{users.email}}&c={{cities.name}}"),
    scenario("redeem", "http://h/{{codes.code}}", data=(CODES,)),
    scenario("browse", "http://h/"),
))


def aggregate(per_scenario: dict[str, tuple[int, dict[str, int]]]) -> Aggregate:
    """scenario → (scheduled, {cause: dropped}), over two workers and two seconds."""
    agg = Aggregate()
    for w in range(2):
        for second in range(2):
            rec = Recorder()
            for name, (scheduled, dropped) in per_scenario.items():
                rec.scheduled(name, scheduled // 4)
                for cause, n in dropped.items():
                    rec.dropped(name, cause, n // 4)
            series, counters, scenarios = rec.drain()
            agg.add(m.decode(m.encode(m.Report(worker=w, run_id="", seq=second, bucket=second,
                                               scenarios=scenarios))))
    return agg


def test_the_constant_is_the_workers_own():
    assert names.DROP_DATA_EXHAUSTED == iteration.DROP_DATA_EXHAUSTED == "data_exhausted"


@pytest.mark.parametrize("name,drops,overall,signup", [
    ("data exhausted only", {"signup": (400, {"data_exhausted": 300})}, 1.0, 1.0),
    ("everything exhausted", {"signup": (400, {"data_exhausted": 400})}, None, None),
    ("both causes", {"signup": (400, {"data_exhausted": 200, "no_vu": 40})}, 0.8, 0.8),
    ("generator behind only", {"signup": (400, {"behind": 100})}, 0.75, 0.75),
    ("two scenarios", {"signup": (400, {"data_exhausted": 200}), "redeem": (200, {"no_vu": 20})},
     380 / 400, 1.0),
])
def test_efficiency_leaves_data_exhausted_drops_out(name, drops, overall, signup):
    agg = aggregate(drops)
    eff = efficiency(agg, RunOutcome(PLAN, "r", agg, []))
    assert eff["overall"] == (pytest.approx(overall) if overall is not None else None)
    assert eff["byScenario"]["signup"] == (pytest.approx(signup) if signup is not None else None)


def test_data_exhaustion_has_its_own_warning_naming_the_file():
    agg = aggregate({"signup": (400, {"data_exhausted": 200, "no_vu": 40}),
                     "redeem": (200, {"data_exhausted": 100}), "browse": (40, {})})
    assert _behind_warnings(agg, PLAN) == [
        "scenario signup fell behind its target: 40 iterations dropped (no_vu: 40); raise maxVUs",
        "scenario signup: 200 iterations dropped because data file users.csv ran out of unique rows "
        "(not counted against efficiency); add rows, shorten the run or lower the rate, or use mode "
        "sequential or random to reuse rows",
        "scenario redeem: 100 iterations dropped because data file codes.csv ran out of unique rows "
        "(not counted against efficiency); add rows, shorten the run or lower the rate, or use mode "
        "sequential or random to reuse rows",
    ]


def test_the_sources_a_scenario_takes_rows_from():
    assert data_sources_used(PLAN, PLAN.scenarios[0]) == [USERS, CITIES]
    assert data_sources_used(PLAN, PLAN.scenarios[1]) == [CODES]
    assert data_sources_used(PLAN, PLAN.scenarios[2]) == []


def test_buckets_mark_the_data_exhausted_part_of_dropped():
    agg = aggregate({"signup": (400, {"data_exhausted": 200, "no_vu": 40})})
    for b in agg.buckets():
        assert (b["dropped"], b["dataExhausted"]) == (120, 100)
        assert (b["byScenario"]["signup"]["dropped"], b["byScenario"]["signup"]["dataExhausted"]) == (120, 100)


@pytest.mark.parametrize("name,per,behind", [
    ("data exhausted only", {"a": {"dropped": 5, "dataExhausted": 5}}, []),
    ("generator behind", {"a": {"dropped": 5, "dataExhausted": 2}}, ["a"]),
    ("no field (a bucket from before)", {"a": {"dropped": 1}}, ["a"]),
    ("closed scenario", {"c": {"dropped": 3}}, []),
    ("nothing dropped", {"a": {"dropped": 0}}, []),
])
def test_the_live_behind_flag_ignores_data_exhaustion(name, per, behind):
    assert behind_scenarios(per, ["a", "b"]) == behind


def test_a_ramp_that_runs_out_of_data_is_not_a_knee():
    ramp = []
    for t in range(20):
        target = 10.0 * (t + 1)
        achieved = min(target, 60)                    # the file has rows for 60 it/s
        ramp.append({"t": t, "phase": "ramp-up", "requests": achieved, "failures": 0, "p95": 5.0,
                     "targetRate": target, "achievedRate": achieved, "dataExhausted": target - achieved})
    assert [a for a in find(ramp) if a["kind"] == "knee"] == []
    for b in ramp:
        b.pop("dataExhausted")                          # the same seconds, dropped by the generator
    assert [a["start"] for a in find(ramp) if a["kind"] == "knee"] == [6]
