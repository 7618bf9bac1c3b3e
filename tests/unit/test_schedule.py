"""lunge_mp.schedule: rate functions, arrival instants, splitting — against exact references.

The reference (`Ref`) integrates the stages with `fractions.Fraction` and finds each instant by
bisection over integer microseconds on the defining property of t_n = inf{t : H(t) > n}:

    μ ≤ 10⁶·t_n  ⟺  H(μ/10⁶) ≤ n        so  ⌊10⁶·t_n⌋ = max{μ : H(μ/10⁶) ≤ n}.

It shares no code with the implementation (which uses closed forms and integer square roots).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction as F

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunge_mp.executors.shapes import Sine
from lunge_mp.plan import ScenarioPlan, Stage
from lunge_mp.schedule.arrivals import ArrivalClock
from lunge_mp.schedule.rates import (
    Constant,
    ExactRateFn,
    PiecewiseLinear,
    RateFn,
    invert_hits,
)
from lunge_mp.schedule.split import split_evenly, split_round_robin, vus_at
from tests.plans import scenario_of

US = 10**6
INF = math.inf


# ---------------------------------------------------------------------------------------------
# Exact reference


class Ref:
    """R and H of `start` + stages [(d, v)] in exact rationals (the floats' binary values)."""

    def __init__(self, start: float, stages: list[tuple[float, float]]) -> None:
        self.segs: list[tuple[F, F, F, F, F]] = []      # t0, d, v0, v1, h0
        t, h, v = F(0), F(0), F(start)
        for d, target in stages:
            d, target = F(d), F(target)
            if d > 0:
                self.segs.append((t, d, v, target, h))
                h += (v + target) * d / 2
                t += d
            v = target
        self.D, self.total = t, h

    def H(self, t: F) -> F:
        if t <= 0:
            return F(0)
        if t >= self.D:
            return self.total
        for t0, d, v0, v1, h0 in self.segs:
            if t < t0 + d:
                tau = t - t0
                return h0 + v0 * tau + (v1 - v0) * tau * tau / (2 * d)
        raise AssertionError("unreachable")

    def R(self, t: F) -> F:
        for t0, d, v0, v1, _ in self.segs:
            if t0 <= t < t0 + d:
                return v0 + (v1 - v0) * (t - t0) / d
        return F(0)

    def count_before(self, t: float) -> int:
        """⌈H(t)⌉ = #{n : t_n < t}."""
        return math.ceil(self.total) if t == INF else math.ceil(self.H(F(t)))

    def n_arrivals(self) -> int:
        return math.ceil(self.total)

    def instant_us(self, n: int) -> int:
        """⌊10⁶·t_n⌋ by bisection: the largest μ with H(μ/10⁶) ≤ n."""
        lo, hi = 0, math.ceil(self.D * US)              # H(lo) = 0 ≤ n < total = H(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.H(F(mid, US)) <= n:
                lo = mid
            else:
                hi = mid
        return lo

    def is_instant(self, n: int, us: int) -> bool:
        """us == ⌊10⁶·t_n⌋, checked on the definition (two exact evaluations of H)."""
        return self.H(F(us, US)) <= n < self.H(F(us + 1, US))


@dataclass(frozen=True)
class Case:
    name: str
    start: float
    stages: tuple[tuple[float, float], ...]
    constant: bool = False

    def fn(self) -> Constant | PiecewiseLinear:
        if self.constant:
            (d, r), = self.stages
            return Constant(r, d)
        return PiecewiseLinear(self.start, list(self.stages))

    def ref(self) -> Ref:
        return Ref(self.start, list(self.stages))


def const(name: str, r: float, d: float) -> Case:
    return Case(name, r, ((d, r),), constant=True)


CASES = [
    const("constant 1/s for 10s", 1, 10),
    const("constant 3/s for 5.5s (H not integer)", 3, 5.5),
    const("constant 500/s for 4s", 500, 4),
    const("constant 10000/s for 0.25s", 10000, 0.25),
    const("constant 333.3/s (not a binary fraction) for 1.5s", 333.3, 1.5),
    const("constant 0/s", 0, 5),
    const("constant 7/s for 0s", 7, 0),
    Case("ramp 0->100 over 10s", 0, ((10, 100),)),
    Case("ramp 100->0 over 10s", 100, ((10, 0),)),
    Case("ramp 10->1000 over 3s", 10, ((3, 1000),)),
    Case("ramp 7->13.3->0->99.9 odd floats", 7, ((0.1, 13.3), (0.3, 0), (1 / 3, 99.9))),
    Case("stages with flat, zero and jump segments", 0,
         ((1, 0), (2, 50), (1, 50), (0.5, 0), (1, 0), (0, 20), (1.5, 20), (0.7, 3))),
    Case("starts flat at 0 then ramps: first arrival at the ramp", 0, ((2, 0), (1, 100))),
    Case("ramp down to 0 then flat 0: H ends on an integer", 100, ((1, 0), (1, 0))),
    Case("no stages", 5, ()),
]
IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_instants_match_exact_reference(case: Case) -> None:
    fn, ref = case.fn(), case.ref()
    clock = ArrivalClock(fn)
    got = clock.take_until(INF)
    assert clock.total_expected() == ref.n_arrivals() == len(got)
    assert got == [ref.instant_us(n) for n in range(len(got))]
    assert clock.done and clock.next_index == len(got)
    assert clock.take_until(INF) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float_api_matches_reference(case: Case) -> None:
    fn, ref = case.fn(), case.ref()
    assert fn.duration == float(ref.D)
    for i in range(-2, 103):
        t = float(ref.D) * i / 100
        assert fn.hits(t) == pytest.approx(float(ref.H(F(t))), rel=1e-12, abs=1e-9)
        if t < fn.duration:     # float(D) may round below the exact D: compare inside it
            assert fn.rate(t) == pytest.approx(float(ref.R(F(t))), rel=1e-12, abs=1e-9)
        else:
            assert fn.rate(t) == 0.0
        assert fn.count_before(t) == ref.count_before(t)
    instants = ArrivalClock(fn).take_until(INF)
    for n, us in enumerate(instants):
        t = fn.time_of_hit(n)
        assert us / US - 1e-9 <= t < (us + 1) / US + 1e-9, n
    assert fn.time_of_hit(len(instants)) == INF
    assert fn.time_of_hit(-1) == 0.0


@pytest.mark.parametrize("case", [c for c in CASES if not c.constant], ids=lambda c: c.name)
def test_invert_hits_agrees_with_closed_form(case: Case) -> None:
    fn = case.fn()
    instants = ArrivalClock(fn).take_until(INF)
    for n in range(0, len(instants), max(1, len(instants) // 150)):
        t = invert_hits(fn, n)
        assert instants[n] / US - 1e-9 <= t < (instants[n] + 1) / US + 1e-9, n
    assert invert_hits(fn, len(instants) + 0.5) == INF
    assert invert_hits(fn, -3) == 0.0


class Opaque:
    """A RateFn with only the float interface, to drive ArrivalClock's generic path."""

    def __init__(self, fn: RateFn) -> None:
        self.inner = fn
        self.duration = fn.duration

    def rate(self, t: float) -> float:
        return self.inner.rate(t)

    def hits(self, t: float) -> float:
        return self.inner.hits(t)

    def time_of_hit(self, n: float) -> float:
        return self.inner.time_of_hit(n)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_generic_path_within_one_microsecond(case: Case) -> None:
    exact = ArrivalClock(case.fn()).take_until(INF)
    opaque = Opaque(case.fn())
    assert isinstance(opaque, RateFn) and not isinstance(opaque, ExactRateFn)
    generic = ArrivalClock(opaque).take_until(INF)
    assert len(generic) == len(exact)
    assert all(abs(a - b) <= 1 for a, b in zip(generic, exact))
    assert generic == sorted(generic)


TAKE_UNTIL = [
    # name, t_end sequence, expected batches — constant 500/s for 4 s (t_n = n/500)
    ("nothing before 0", [0.0], [[]]),
    ("negative end", [-1.0], [[]]),
    ("end is exclusive (0.25 is exact in binary)", [0.25], [[2000 * n for n in range(125)]]),
    ("float 0.002 lies just above 1/500, so t_1 = 1/500 is before it", [0.002], [[0, 2000]]),
    ("between instants", [0.0015], [[0]]),
    ("batches continue", [0.005, 0.005, 0.011], [[0, 2000, 4000], [], [6000, 8000, 10000]]),
    ("past the end stops at the last", [3.995, 100.0], [None, [3996000, 3998000]]),
]


@pytest.mark.parametrize("name,ends,batches", TAKE_UNTIL, ids=[c[0] for c in TAKE_UNTIL])
def test_take_until_table(name: str, ends: list[float], batches: list[list[int] | None]) -> None:
    clock = ArrivalClock(Constant(500, 4))
    assert clock.total_expected() == 2000
    for t_end, want in zip(ends, batches):
        got = clock.take_until(t_end)
        if want is not None:
            assert got == want


def test_constant_500_for_4s_spec_example() -> None:
    got = ArrivalClock(Constant(500, 4)).take_until(INF)
    assert got == [2000 * n for n in range(2000)]
    assert Constant(500, 4).time_of_hit(1999) == pytest.approx(3.998)


def test_exact_protocol_and_errors() -> None:
    assert isinstance(Constant(1, 1), ExactRateFn)
    assert isinstance(PiecewiseLinear(0, [(1, 1)]), ExactRateFn)
    for bad in (lambda: Constant(-1, 1), lambda: Constant(1, math.inf), lambda: Constant(math.nan, 1)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError, match=r"stages\[1\]\.target"):
        PiecewiseLinear(0, [(1, 1), (1, -5)])
    with pytest.raises(ValueError, match=r"stages\[0\]\.duration"):
        PiecewiseLinear(0, [(-1, 1)])
    with pytest.raises(ValueError):
        ArrivalClock(Constant(1, 1)).take_until(math.nan)
    with pytest.raises(ValueError):
        Constant(1, 5).instants_us(0, 6)
    # Stage objects from the plan are accepted as well as (duration, target) tuples
    assert PiecewiseLinear(1, [Stage(2, 3)]).hits(2) == 4.0


def plan(executor: str, **kw: object) -> ScenarioPlan:
    return scenario_of(executor, name="s", requests=(), **kw)


def test_each_open_executor_builds_its_rate_function() -> None:
    fn = plan("constant-arrival-rate", rate=500.0, duration=4.0).rate_fn()
    assert isinstance(fn, Constant) and ArrivalClock(fn).total_expected() == 2000
    fn = plan("ramping-arrival-rate", start_rate=10.0, stages=(Stage(10, 100), Stage(5, 0))).rate_fn()
    assert isinstance(fn, PiecewiseLinear)
    assert fn.duration == 15.0 and fn.hits(15) == 550 + 250 and fn.rate(10) == 100
    with pytest.raises(ValueError, match=r"scenarios\.s\.pattern\.amplitude: must be <= baseRate"):
        plan("pattern", pattern=Sine(duration=1.0, base_rate=1.0, amplitude=2.0, period=1.0)).rate_fn()
    assert not hasattr(plan("constant-vus", vus=3, duration=1.0), "rate_fn")   # closed: no rate


# ---------------------------------------------------------------------------------------------
# Properties

rates = st.one_of(st.just(0.0), st.integers(0, 1500).map(float),
                  st.floats(0, 1500, allow_nan=False, allow_infinity=False))
durations = st.one_of(st.just(0.0), st.sampled_from([0.5, 1.0, 1 / 3, 0.1]),
                      st.floats(0.001, 2.5, allow_nan=False))


@st.composite
def rate_fns(draw: st.DrawFn) -> tuple[Constant | PiecewiseLinear, Ref]:
    if draw(st.booleans()):
        r, d = draw(rates), draw(durations)
        return Constant(r, d), Ref(r, [(d, r)])
    start = draw(rates)
    stages = draw(st.lists(st.tuples(durations, rates), max_size=4))
    return PiecewiseLinear(start, stages), Ref(start, stages)


def times(ref: Ref) -> st.SearchStrategy[float]:
    d = float(ref.D)
    return st.one_of(st.floats(-0.5, d + 0.5, allow_nan=False),
                     st.integers(0, 40).map(lambda i: d * i / 40),
                     st.just(INF))


PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(rate_fns(), st.data())
def test_prop_instants_sorted_in_range_and_exact(pair: tuple[RateFn, Ref], data: st.DataObject) -> None:
    fn, ref = pair
    got = ArrivalClock(fn).take_until(INF)
    assert len(got) == ref.n_arrivals()
    assert got == sorted(got)
    assert all(us >= 0 for us in got)
    assert all(F(us) < ref.D * US for us in got)
    if got:
        picks = {0, len(got) - 1} | set(data.draw(st.lists(st.integers(0, len(got) - 1), max_size=12)))
        for n in picks:
            assert ref.is_instant(n, got[n]), n


@PROPS
@given(st.data())
def test_prop_window_count_is_ceil_difference(data: st.DataObject) -> None:
    fn, ref = data.draw(rate_fns())
    a = data.draw(times(ref))
    b = data.draw(times(ref).filter(lambda x: x >= a))
    clock = ArrivalClock(fn)
    before = clock.take_until(a)
    window = clock.take_until(b)
    assert len(before) == ref.count_before(a)
    assert len(window) == ref.count_before(b) - ref.count_before(a)
    if b != INF and a != INF:
        integral = ref.H(F(b)) - ref.H(F(a))
        assert abs(len(window) - integral) < 1


@PROPS
@given(st.data())
def test_prop_chunked_take_until_equals_one_call(data: st.DataObject) -> None:
    fn, ref = data.draw(rate_fns())
    ends = sorted(data.draw(st.lists(times(ref), max_size=8)))
    clock = ArrivalClock(fn)
    chunks: list[int] = []
    for t in ends:
        chunks += clock.take_until(t)
        assert clock.next_index == len(chunks)
    chunks += clock.take_until(INF)
    assert chunks == ArrivalClock(fn).take_until(INF)
    assert clock.done


@PROPS
@given(st.lists(st.lists(st.integers(0, 10**9), max_size=40), max_size=6),
       st.integers(1, 12), st.integers(0, 30))
def test_prop_split_round_robin(batches: list[list[int]], workers: int, start: int) -> None:
    totals = [0] * workers
    for offsets in batches:
        parts, nxt = split_round_robin(offsets, workers, start)
        assert len(parts) == workers
        assert sorted(x for p in parts for x in p) == sorted(offsets)
        for w, part in enumerate(parts):      # worker w gets items j ≡ w − start (mod W), in order
            assert part == offsets[(w - start) % workers::workers]
            totals[w] += len(part)
        assert max(totals) - min(totals) <= 1
        assert nxt == (start + len(offsets)) % workers
        start = nxt


@given(st.integers(0, 10**6), st.integers(1, 500))
def test_prop_split_evenly(total: int, parts: int) -> None:
    got = split_evenly(total, parts)
    assert len(got) == parts and sum(got) == total
    assert max(got) - min(got) <= 1
    assert got == sorted(got, reverse=True)
    assert sum(1 for x in got if x == total // parts + 1) == (total % parts if total % parts else 0)


SPLIT_EVENLY = [("exact", 10, 5, [2] * 5), ("remainder first", 7, 3, [3, 2, 2]),
                ("fewer than parts", 2, 4, [1, 1, 0, 0]), ("zero", 0, 3, [0, 0, 0])]


@pytest.mark.parametrize("name,total,parts,want", SPLIT_EVENLY, ids=[c[0] for c in SPLIT_EVENLY])
def test_split_evenly_table(name: str, total: int, parts: int, want: list[int]) -> None:
    assert split_evenly(total, parts) == want


def test_split_errors() -> None:
    with pytest.raises(ValueError):
        split_evenly(1, 0)
    with pytest.raises(ValueError):
        split_round_robin([1], 0, 0)
    assert split_round_robin([], 3, 2) == ([[], [], []], 2)


# ---------------------------------------------------------------------------------------------
# vus_at: k6's ramping-vus steps


def k6_vus(start: int, stages: list[tuple[float, int]], t: float) -> int:
    """Replays k6's getRawExecutionSteps: going up, VU k arrives when the line reaches k;
    going down, VU k leaves when the line reaches k − 1; a 0-length stage jumps."""
    steps: list[tuple[F, int]] = [(F(0), start)]
    t_end, cur = F(0), start
    for d, target in stages:
        d = F(d)
        t_start, t_end = t_end, t_end + d
        if target != cur:
            if d == 0:
                steps.append((t_end, target))
            elif target > cur:
                steps += [(t_start + d * (k - cur) / (target - cur), k) for k in range(cur + 1, target + 1)]
            else:
                steps += [(t_start + d * (cur - k + 1) / (cur - target), k - 1)
                          for k in range(cur, target, -1)]
        cur = target
    x, vus = F(t), start
    if x < 0:
        return start
    for when, v in steps:
        if when <= x:
            vus = v
    return vus


VUS = [
    # name, start, stages, [(t, vus)]
    ("ramp up floors", 0, [(10, 10)], [(-1, 0), (0, 0), (0.99, 0), (1, 1), (5.5, 5), (9.99, 9), (10, 10), (99, 10)]),
    ("ramp down keeps VUs until the line drops below", 10, [(10, 0)],
     [(0, 10), (0.5, 10), (1, 9), (1.01, 9), (9.99, 1), (10, 0)]),
    ("k6 jump test", 5, [(1, 5), (0, 3), (1, 3)], [(0.5, 5), (0.999, 5), (1, 3), (1.5, 3), (2, 3), (3, 3)]),
    ("odd float durations", 0, [(0.3, 3), (0.1, 3), (0.7, 1)], [(0.1, 1), (0.2, 2), (0.3, 3), (0.4, 3), (0.75, 2)]),
    ("no stages", 4, [], [(0, 4), (10, 4)]),
]


@pytest.mark.parametrize("name,start,stages,points", VUS, ids=[c[0] for c in VUS])
def test_vus_at_table(name: str, start: int, stages: list[tuple[float, int]],
                      points: list[tuple[float, int]]) -> None:
    for t, want in points:
        assert vus_at(start, stages, t) == want == k6_vus(start, stages, t), t


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 15), st.lists(st.tuples(durations, st.integers(0, 15)), max_size=4),
       st.floats(-1, 12, allow_nan=False))
def test_prop_vus_at_matches_k6_steps(start: int, stages: list[tuple[float, int]], t: float) -> None:
    assert vus_at(start, stages, t) == k6_vus(start, stages, t)
