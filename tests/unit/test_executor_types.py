"""Executors and patterns as tagged types: each executor's Struct says what it means at run
time, travels in the Start message as it is, and cannot hold another executor's fields."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from lunge_mp.config import plan_from_dict
from lunge_mp.executors import (BY_NAME, EXECUTORS, KINDS, ConstantArrivalRate, ConstantVUs, PatternRate,
                                PerVUIterations, RampingArrivalRate, RampingVUs, SharedIterations)
from lunge_mp.executors.shapes import SHAPES, Burst, Custom, Phase, Sine, shape_from
from lunge_mp.plan import Plan, RequestSpec, Stage
from lunge_mp.protocol import messages as m
from lunge_mp.schedule.rates import Constant, PiecewiseLinear

REQ = (RequestSpec(name="r", method="GET", url="http://127.0.0.1/"),)
SINE = Sine(duration=4.0, base_rate=10.0, amplitude=5.0, period=2.0)

ONE_OF_EACH = (
    ConstantVUs(name="cv", requests=REQ, vus=3, duration=5.0),
    RampingVUs(name="rv", requests=REQ, start_vus=1, stages=(Stage(2.0, 5.0), Stage(2.0, 0.0))),
    PerVUIterations(name="pv", requests=REQ, vus=2, iterations=7, max_duration=9.0),
    SharedIterations(name="si", requests=REQ, vus=3, iterations=10, max_duration=9.0),
    ConstantArrivalRate(name="car", requests=REQ, rate=5.0, duration=4.0, pre_allocated_vus=2, max_vus=8),
    RampingArrivalRate(name="rar", requests=REQ, start_rate=0.0, stages=(Stage(2.0, 10.0),)),
    PatternRate(name="pat", requests=REQ, pattern=SINE, max_vus=4),
)


def test_every_executor_is_one_variant_named_as_in_configs() -> None:
    assert [type(s) for s in ONE_OF_EACH] == list(KINDS)
    assert EXECUTORS == ("constant-vus", "ramping-vus", "per-vu-iterations", "shared-iterations",
                         "constant-arrival-rate", "ramping-arrival-rate", "pattern")
    assert [s.executor for s in ONE_OF_EACH] == list(EXECUTORS)
    assert all(BY_NAME[s.executor] is type(s) for s in ONE_OF_EACH)


def test_a_plan_of_every_executor_and_shape_crosses_the_wire_unchanged() -> None:
    shapes = tuple(PatternRate(name=f"p{i}", requests=REQ, pattern=shape) for i, shape in enumerate((
        SINE, Burst(duration=4.0, base_rate=1.0, burst_rate=9.0, burst_duration=1.0, burst_interval=2.0),
        shape_from({"type": "ramp", "duration": 3.0, "startRate": 1.0, "endRate": 5.0, "rampType": "exponential"}),
        shape_from({"type": "staircase", "duration": 4.0, "startRate": 1, "stepRate": 1, "stepDuration": 1}),
        Custom(phases=(Phase(duration=1.0, start_rate=2.0, end_rate=2.0),)),
        shape_from({"type": "chaos", "duration": 3.0, "baseRate": 1, "maxRate": 4, "seed": 7}))))
    assert len(shapes) == len(SHAPES)
    plan = Plan(name="p", scenarios=ONE_OF_EACH + shapes)
    start = m.decode(m.encode(m.Start(run_id="r", plan=plan, worker=0, workers=1)))
    assert isinstance(start, m.Start) and start.plan == plan
    assert [type(s) for s in start.plan.scenarios] == [type(s) for s in plan.scenarios]


def test_a_field_of_another_executor_cannot_be_held_or_decoded() -> None:
    with pytest.raises(TypeError):
        ConstantVUs(name="s", requests=REQ, vus=1, duration=1.0, rate=5.0)  # type: ignore[call-arg]
    wire = msgspec.json.encode(ONE_OF_EACH[0])
    bad = wire.replace(b'"vus":3', b'"vus":3,"rate":5.0')
    with pytest.raises(msgspec.ValidationError, match="unknown field `rate`"):
        msgspec.json.decode(bad, type=ConstantVUs | ConstantArrivalRate)
    with pytest.raises(msgspec.ValidationError, match="missing required field `amplitude`"):
        shape_from({"type": "sine", "duration": 1.0, "baseRate": 1.0, "period": 1.0})


def test_what_each_closed_executor_asks_for_over_time() -> None:
    cv, rv, pv, si = ONE_OF_EACH[:4]
    assert [cv.target_vus(t) for t in (-0.1, 0.0, 4.9, 5.0)] == [0, 3, 3, 0]
    assert [rv.target_vus(t) for t in (0.0, 1.0, 2.0, 3.0, 4.0)] == [1, 3, 5, 3, 0]
    assert (rv.duration, rv.length, rv.peak_vus) == (4.0, 4.0, 5)
    assert [pv.target_vus(t) for t in (-1.0, 0.0, 100.0)] == [0, 2, 2]   # until every VU is done
    assert (pv.length, si.length) == (9.0, 9.0)                            # maxDuration
    assert not any(s.is_open for s in (cv, rv, pv, si))
    assert [s.iteration_based for s in (cv, rv, pv, si)] == [False, False, True, True]


def test_iteration_executors_deal_their_iterations() -> None:
    pv, si = ONE_OF_EACH[2:4]
    assert (pv.deal([1, 1, 0]), pv.iterations_per_vu, pv.planned_iterations()) == ([0, 0, 0], 7, 14)
    assert (si.deal([2, 1, 0]), si.iterations_per_vu, si.planned_iterations()) == ([7, 3, 0], 0, 10)


def test_open_executors_build_their_rate_functions_with_the_cap() -> None:
    car, rar, pat = ONE_OF_EACH[4:]
    assert isinstance(car.rate_fn(), Constant) and isinstance(rar.rate_fn(), PiecewiseLinear)
    assert (car.length, rar.length, pat.length) == (4.0, 2.0, 4.0)
    assert (car.peak_vus, pat.peak_vus) == (8, 4)
    assert car.planned_iterations() == 20 and pat.planned_iterations() == 40
    capped = msgspec.structs.replace(car, rate_cap=2.0)
    assert capped.target_fn().hits(4.0) == 8.0 and capped.rate_fn().hits(4.0) == 20.0


def test_scaling_is_the_executors_own() -> None:
    cv, rv = ONE_OF_EACH[:2]
    new, changed = cv.scaled(None, 7, 1.0)
    assert new.vus == 7 and changed == {"vus": 7, "was": 3}
    assert rv.scaled(None, 7, 1.0) is None                 # a ramp needs a factor
    new, changed = rv.scaled(2.0, None, 1.0)
    assert (new.start_vus, [s.target for s in new.stages]) == (2, [10, 0]) and changed["vus"] == 6


def test_the_banner_words_come_from_each_executor() -> None:
    doc = {"name": "t", "scenarios": {
        "a": {"executor": "shared-iterations", "vus": 1, "iterations": 1, "requests": [{"url": "http://h/"}]},
        "b": {"executor": "pattern", "pattern": {"type": "custom", "phases": [{"duration": "2s", "rate": 3}]},
              "requests": [{"url": "http://h/"}]}}}
    a, b = plan_from_dict(doc).scenarios
    assert a.load_summary() == ["1 VU", "1 iteration"] and b.load_summary() == []
    assert b.pattern == Custom(phases=(Phase(duration=2.0, start_rate=3.0, end_rate=3.0),)) and b.length == 2.0


def test_the_run_never_compares_executor_names() -> None:
    """Outside the executors and the config parser, code asks the scenario what it is."""
    names = "|".join(re.escape(n) for n in EXECUTORS)
    compare = re.compile(rf"""(executor\s*(==|!=|\bin\b|\bnot in\b))|((==|!=)\s*["']({names})["'])""")
    root = Path(__file__).resolve().parents[2] / "lunge_mp"
    offenders = [f"{p.relative_to(root)}:{i}: {line.strip()}"
                 for p in root.rglob("*.py") if p.parts[-2] not in ("executors", "config")
                 for i, line in enumerate(p.read_text().splitlines(), 1) if compare.search(line)]
    assert offenders == []


def test_warmup_scenarios_are_constant_executors_of_the_tests_requests() -> None:
    from lunge_mp import warmup
    from lunge_mp.plan import Options, Warmup

    poisson = msgspec.structs.replace(ONE_OF_EACH[4], arrivals="poisson", arrival_seed=3)
    by_rate = warmup.scenarios(Plan(name="p", scenarios=(ONE_OF_EACH[0], poisson),
                                    options=Options(warmup=Warmup(duration=2.0, rate=10.0))))
    assert [type(s) for s in by_rate] == [ConstantArrivalRate, ConstantArrivalRate]
    assert [(s.name, s.rate, s.duration, s.pre_allocated_vus, s.max_vus) for s in by_rate] == [
        ("warmup:cv", 5.0, 2.0, 10, 100), ("warmup:car", 5.0, 2.0, 10, 100)]
    assert (by_rate[1].arrivals, by_rate[1].arrival_seed) == ("poisson", 3)   # as the test's own
    by_vus = warmup.scenarios(Plan(name="p", scenarios=ONE_OF_EACH[:2],
                                   options=Options(warmup=Warmup(duration=2.0, vus=3))))
    assert [(type(s), s.vus, s.requests) for s in by_vus] == [(ConstantVUs, 2, REQ), (ConstantVUs, 1, REQ)]


def test_the_perf_executor_choices_are_the_executors() -> None:
    """cli.py lists them as text (importing the plan would slow every command's start)."""
    from lunge_mp.cli import perf

    (option,) = [p for p in perf.params if p.name == "executor"]
    assert tuple(option.type.choices) == EXECUTORS


def test_every_executor_has_its_one_config_entry() -> None:
    from lunge_mp.config.executors import ENTRIES

    assert tuple(ENTRIES) == EXECUTORS
