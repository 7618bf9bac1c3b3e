"""Randomised arrivals (`arrivals: poisson | uniform`, issue 12): seeded and reproducible, in
order and in range, and with the deterministic schedule's expected rate over many seconds."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lunge_mp.config.validate import plan_from_dict
from lunge_mp.schedule.arrivals import ArrivalClock
from lunge_mp.schedule.random_arrivals import RandomArrivalClock, clock_for
from lunge_mp.schedule.rates import Constant, PiecewiseLinear


def _all(clock, step: float = 0.25, until: float = 10_000) -> list[int]:
    out, t = [], 0.0
    while not clock.done and t < until:
        t += step
        out += clock.take_until(t)
    return out


@pytest.mark.parametrize("process", ["poisson", "uniform"])
def test_the_expected_rate_is_the_deterministic_one_over_many_seconds(process):
    fn = Constant(200.0, 600.0)                  # 120,000 arrivals deterministic
    got = _all(RandomArrivalClock(fn, process, seed=7), step=1.0)
    if process == "uniform":
        assert len(got) == 120_000
    else:                                        # Poisson(120,000): 5 σ is ~1,730
        assert abs(len(got) - 120_000) < 1_750
    per_second = [0] * 600
    for us in got:
        per_second[us // 1_000_000] += 1
    assert abs(statistics.mean(per_second) - 200) < 3
    if process == "poisson":                     # exponential gaps: mean 5 ms, sd = mean
        gaps = [b - a for a, b in zip(got, got[1:])]
        assert abs(statistics.mean(gaps) - 5_000) < 100
        assert 0.95 < statistics.pstdev(gaps) / statistics.mean(gaps) < 1.05
        assert 170 < statistics.pvariance(per_second) < 235     # Poisson: variance = mean
    else:                                        # each arrival within its own 5 ms slot
        assert all(k * 5_000 <= us < (k + 1) * 5_000 for k, us in enumerate(got))


def test_a_ramp_keeps_its_shape():
    fn = PiecewiseLinear(0.0, [(300.0, 200.0)])   # H = 30,000; first half 7,500, second 22,500
    got = _all(RandomArrivalClock(fn, "poisson", seed=3), step=2.0)
    first = sum(1 for us in got if us < 150_000_000)
    assert abs(first - 7_500) < 450 and abs(len(got) - first - 22_500) < 800


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.5, 500), duration=st.floats(0.5, 20), seed=st.integers(0, 2**31 - 1),
       process=st.sampled_from(["poisson", "uniform"]), step=st.floats(0.01, 3))
def test_seeded_in_order_in_range_and_however_taken(rate, duration, seed, process, step):
    fn = Constant(rate, duration)
    one = RandomArrivalClock(fn, process, seed).take_until(math.inf)
    chunked = _all(RandomArrivalClock(fn, process, seed), step=step)
    assert chunked == one                            # the same instants, however they are taken
    assert one == sorted(one) and all(0 <= us < duration * 1e6 for us in one)
    if process == "uniform":
        # one arrival per unit of H(D) in floats; the deterministic clock counts H(D) exactly
        # over the duration's binary value, so where r·D is within a rounding of an integer
        # (125/s over 0.8 s: 100.0000000000000055) it holds one more, at the last microsecond
        assert len(one) == math.ceil(fn.hits(duration))
        assert abs(len(one) - ArrivalClock(fn).total_expected()) <= 1


def test_another_seed_gives_other_instants_and_constant_is_deterministic():
    fn = Constant(100.0, 5.0)
    a = RandomArrivalClock(fn, "poisson", 1).take_until(10)
    assert a != RandomArrivalClock(fn, "poisson", 2).take_until(10)
    assert clock_for(fn, "constant", 5).take_until(10) == ArrivalClock(fn).take_until(10)


def test_config_reads_arrivals_and_seed():
    def plan(**kw):
        return plan_from_dict({"name": "x", "scenarios": {"s": {
            "executor": "constant-arrival-rate", "rate": 10, "duration": "1s",
            "requests": [{"url": "http://127.0.0.1/"}], **kw}}})
    s = plan(arrivals="poisson", seed=42).scenarios[0]
    assert (s.arrivals, s.arrival_seed) == ("poisson", 42)
    assert (plan().scenarios[0].arrivals, plan().scenarios[0].arrival_seed) == ("constant", None)
