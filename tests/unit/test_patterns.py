"""lunge_mp.schedule.patterns and config.patterns: traffic patterns against slow references.

Two references, neither sharing code with the implementation:

`ExactRef` (burst, staircase, custom, linear ramp, chaos): R is given by the pattern's own
definition at interior points (`t mod I < W`, `⌊t/S⌋`, ...) in `fractions.Fraction`, piecewise
linear between listed breakpoints, so the midpoint rule integrates it exactly. Instants are
checked on the definition of t_n = inf{t : H(t) > n}: μ = ⌊10⁶·t_n⌋ ⟺ H(μ/10⁶) ≤ n < H((μ+1)/10⁶).

`NumRef` (sine, exponential and logarithmic ramps): R from its formula, H by 5-point
Gauss–Legendre over fine cells (no closed form), t_n by bisection over integer µs; the
implementation must be within 1 µs of it.
"""

from __future__ import annotations

import math
import random
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction as F
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunge_mp.config import ConfigError, plan_from_dict
from lunge_mp.config.patterns import PATTERN_KEYS, TYPE_KEYS, camel
from lunge_mp.executors.shapes import shape_from
from lunge_mp.plan import ScenarioPlan
from lunge_mp.schedule.arrivals import ArrivalClock
from lunge_mp.schedule.patterns import (
    Burst,
    Chaos,
    Custom,
    ExponentialRamp,
    LinearRamp,
    LogarithmicRamp,
    Sine,
    Staircase,
    chaos_levels,
)
from lunge_mp.schedule.rates import ExactRateFn, RateFn, invert_hits
from tests.plans import scenario_of

US = 10**6
INF = math.inf


# ---------------------------------------------------------------------------------------------
# References


class ExactRef:
    """R(t) (Fraction → Fraction) linear between consecutive `breaks`; H exact by midpoints."""

    def __init__(self, rate: Callable[[F], F], breaks: list[F], end: F) -> None:
        self.R, self.D = rate, end
        self.pts = sorted({F(0), end} | {b for b in breaks if 0 < b < end})
        self.cum = [F(0)]
        for a, b in zip(self.pts, self.pts[1:]):
            self.cum.append(self.cum[-1] + rate((a + b) / 2) * (b - a))
        self.total = self.cum[-1]

    def H(self, t: F) -> F:
        if t <= 0:
            return F(0)
        if t >= self.D:
            return self.total
        i = bisect_right(self.pts, t) - 1
        a = self.pts[i]
        return self.cum[i] + self.R((a + t) / 2) * (t - a)

    def count_before(self, t: float) -> int:
        return math.ceil(self.total) if t == INF else math.ceil(self.H(F(t)))

    def is_instant(self, n: int, us: int) -> bool:
        return self.H(F(us, US)) <= n < self.H(F(us + 1, US))


GL5 = [(0.0, 128 / 225), (0.5384693101056831, 0.4786286704993665), (-0.5384693101056831, 0.4786286704993665),
       (0.9061798459386640, 0.2369268850561891), (-0.9061798459386640, 0.2369268850561891)]


def gauss(rate: Callable[[float], float], a: float, b: float) -> float:
    m, h = 0.5 * (a + b), 0.5 * (b - a)
    return h * sum(w * rate(m + h * x) for x, w in GL5)


class NumRef:
    """R(t) (float) on [0, D); H by Gauss–Legendre over `cells` equal cells plus the partial one."""

    def __init__(self, rate: Callable[[float], float], duration: float, cells: int = 1024) -> None:
        self.R, self.D = rate, duration
        self.pts = [duration * i / cells for i in range(cells + 1)]
        self.cum = [0.0]
        for a, b in zip(self.pts, self.pts[1:]):
            self.cum.append(self.cum[-1] + gauss(rate, a, b))
        self.total = self.cum[-1]

    def H(self, t: float) -> float:
        if t <= 0:
            return 0.0
        if t >= self.D:
            return self.total
        i = min(bisect_right(self.pts, t) - 1, len(self.pts) - 2)
        return self.cum[i] + gauss(self.R, self.pts[i], t)

    def instant_us(self, n: int) -> int:
        """The largest μ with H(μ/10⁶) ≤ n, by bisection."""
        lo, hi = 0, math.ceil(self.D * US)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.H(mid / US) <= n:
                lo = mid
            else:
                hi = mid
        return lo

    def near_instant(self, n: int, us: int) -> bool:
        """⌊10⁶·t_n⌋ ∈ {us − 1, us, us + 1}: t_n ∈ [(us − 1)/10⁶, (us + 2)/10⁶), up to ε = 10⁻¹²·n
        in H. The ε matters only where H is flat to float precision over microseconds: at an
        isolated zero of R, H − n ~ k·(t − t_n)³, so no float64 evaluation of H (neither this
        reference nor the implementation) pins t_n closer than a few µs there."""
        eps = 1e-12 * max(1.0, n)
        return self.H((us - 1) / US) <= n + eps and n - eps < self.H((us + 2) / US)

    def count_ok(self, count: int) -> bool:
        """⌈H(D)⌉, or ±1 where H(D) is too close to an integer for a numeric reference."""
        if abs(self.total - round(self.total)) < 1e-6:
            return abs(count - round(self.total)) <= 1
        return count == math.ceil(self.total)


# -- the patterns' definitions, written independently of schedule.patterns -------------------


def fmod(t: F, i: F) -> F:
    return t - i * math.floor(t / i)


def burst_ref(d: float, b: float, q: float, w: float, i: float) -> ExactRef:
    D, B, Q, W, I = map(F, (d, b, q, w, i))
    breaks = [k * I + x for k in range(math.ceil(D / I) + 1) for x in (F(0), W)]
    return ExactRef(lambda t: Q if fmod(t, I) < W else B, breaks, D)


def staircase_ref(d: float, r0: float, step: float, s: float, cap: float | None = None) -> ExactRef:
    D, R0, STEP, S = map(F, (d, r0, step, s))

    def rate(t: F) -> F:
        r = R0 + math.floor(t / S) * STEP
        return r if cap is None else min(r, F(cap))
    return ExactRef(rate, [k * S for k in range(math.ceil(D / S) + 1)], D)


def custom_ref(phases: list[dict[str, float]]) -> ExactRef:
    spans: list[tuple[F, F, F, F]] = []         # start, duration, startRate, endRate
    t = F(0)
    for ph in phases:
        d = F(ph["duration"])
        s = F(ph.get("rate", ph.get("startRate", 0)))
        e = F(ph.get("rate", ph.get("endRate", 0)))
        spans.append((t, d, s, e))
        t += d

    def rate(x: F) -> F:
        for t0, d, s, e in spans:
            if t0 <= x < t0 + d:
                return s + (e - s) * (x - t0) / d
        return F(0)
    return ExactRef(rate, [sp[0] for sp in spans], t)


def linear_ref(d: float, r0: float, r1: float) -> ExactRef:
    D, R0, R1 = F(d), F(r0), F(r1)
    return ExactRef(lambda t: R0 + (R1 - R0) * t / D, [], D)


def chaos_ref(fn: Chaos) -> ExactRef:
    levels = [F(x) for x in fn.levels]
    return ExactRef(lambda t: levels[math.floor(t)], list(map(F, range(len(levels)))), F(fn.duration))


def sine_ref(d: float, b: float, a: float, p: float, phi: float = 0.0) -> NumRef:
    return NumRef(lambda t: b + a * math.sin(2 * math.pi * t / p + phi), d, cells=max(1024, math.ceil(64 * d / p)))


def exp_ref(d: float, r0: float, r1: float) -> NumRef:
    return NumRef(lambda t: r0 * (r1 / r0) ** (t / d), d)


def log_ref(d: float, r0: float, r1: float) -> NumRef:
    return NumRef(lambda t: r0 + (r1 - r0) * math.log10(1 + 9 * t / d), d, cells=4096)


# ---------------------------------------------------------------------------------------------
# Named cases


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[[], RateFn]
    ref: Callable[[RateFn], Any]


EXACT = [
    Case("burst seed-004 shape scaled, run cut mid-burst", lambda: Burst(6.25, 20, 400, 0.5, 2),
         lambda f: burst_ref(6.25, 20, 400, 0.5, 2)),
    Case("burst from idle: base 0, arrivals only in bursts", lambda: Burst(3, 0, 1000, 0.1, 1),
         lambda f: burst_ref(3, 0, 1000, 0.1, 1)),
    Case("burst odd floats I=0.3 W=0.1", lambda: Burst(2.0, 33.3, 777.7, 0.1, 0.3),
         lambda f: burst_ref(2.0, 33.3, 777.7, 0.1, 0.3)),
    Case("burst below base (a dip)", lambda: Burst(2.5, 500, 50, 0.25, 1),
         lambda f: burst_ref(2.5, 500, 50, 0.25, 1)),
    Case("staircase 100 +100 every 0.5s", lambda: Staircase(3, 100, 100, 0.5),
         lambda f: staircase_ref(3, 100, 100, 0.5)),
    Case("staircase from 0: first arrival at the first step", lambda: Staircase(2, 0, 50, 0.4),
         lambda f: staircase_ref(2, 0, 50, 0.4)),
    Case("staircase capped at maxRate", lambda: Staircase(3, 100, 300, 0.5, 700),
         lambda f: staircase_ref(3, 100, 300, 0.5, 700)),
    Case("staircase odd floats", lambda: Staircase(1.05, 33.3, 70.7, 0.1),
         lambda f: staircase_ref(1.05, 33.3, 70.7, 0.1)),
    Case("custom CONFIG.md shape scaled: constant then linear",
         lambda: Custom([{"duration": 1, "rate": 50}, {"duration": 0.5, "startRate": 50, "endRate": 300}]),
         lambda f: custom_ref([{"duration": 1, "rate": 50}, {"duration": 0.5, "startRate": 50, "endRate": 300}])),
    Case("custom jumps, a silent phase, linear down to 0",
         lambda: Custom([{"duration": 0.3, "rate": 900}, {"duration": 0.2, "rate": 0},
                         {"duration": 0.7, "startRate": 400, "endRate": 0}, {"duration": 0.1, "rate": 13.7}]),
         lambda f: custom_ref([{"duration": 0.3, "rate": 900}, {"duration": 0.2, "rate": 0},
                               {"duration": 0.7, "startRate": 400, "endRate": 0}, {"duration": 0.1, "rate": 13.7}])),
    Case("linear ramp 0 -> 1000 over 2s", lambda: LinearRamp(2, 0, 1000), lambda f: linear_ref(2, 0, 1000)),
    Case("linear ramp 500 -> 0 over 1.5s", lambda: LinearRamp(1.5, 500, 0), lambda f: linear_ref(1.5, 500, 0)),
    Case("chaos 100/500 seed 42, 5.5s", lambda: Chaos(5.5, 100, 500, 42), chaos_ref),
    Case("chaos 0/300 seed 7, 4s", lambda: Chaos(4, 0, 300, 7), chaos_ref),
]

SMOOTH = [
    Case("sine seed-004 test shape, 2.5 periods", lambda: Sine(150, 10, 5, 60), lambda f: sine_ref(150, 10, 5, 60)),
    Case("sine touching 0 (A = B), phase π/2", lambda: Sine(4.2, 200, 200, 1.5, math.pi / 2),
         lambda f: sine_ref(4.2, 200, 200, 1.5, math.pi / 2)),
    Case("sine fast: 2000 ± 1500 every 0.7s", lambda: Sine(1.3, 2000, 1500, 0.7, 1.0),
         lambda f: sine_ref(1.3, 2000, 1500, 0.7, 1.0)),
    Case("sine negative phase, A = 0", lambda: Sine(1.1, 300, 0, 2, -2.5), lambda f: sine_ref(1.1, 300, 0, 2, -2.5)),
    Case("exponential ramp 10 -> 1000 over 3s", lambda: ExponentialRamp(3, 10, 1000), lambda f: exp_ref(3, 10, 1000)),
    Case("exponential ramp down 800 -> 5 over 2s", lambda: ExponentialRamp(2, 800, 5), lambda f: exp_ref(2, 800, 5)),
    Case("exponential ramp flat 50 -> 50", lambda: ExponentialRamp(2.3, 50, 50), lambda f: exp_ref(2.3, 50, 50)),
    Case("logarithmic ramp 0 -> 1000 over 2s", lambda: LogarithmicRamp(2, 0, 1000), lambda f: log_ref(2, 0, 1000)),
    Case("logarithmic ramp down 1000 -> 10 over 3s", lambda: LogarithmicRamp(3, 1000, 10),
         lambda f: log_ref(3, 1000, 10)),
]


@pytest.mark.parametrize("case", EXACT, ids=[c.name for c in EXACT])
def test_exact_patterns_match_fraction_reference(case: Case) -> None:
    fn = case.fn()
    ref = case.ref(fn)
    assert isinstance(fn, ExactRateFn)
    assert fn.duration == float(ref.D)
    clock = ArrivalClock(fn)
    got = clock.take_until(INF)
    assert len(got) == clock.total_expected() == math.ceil(ref.total)
    for n, us in enumerate(got):
        assert ref.is_instant(n, us), (n, us)
    for i in range(-1, 102):                   # float API against the exact one
        t = float(ref.D) * i / 100
        assert fn.hits(t) == pytest.approx(float(ref.H(F(t))), rel=1e-12, abs=1e-9)
        assert fn.count_before(t) == ref.count_before(t)
        # the float API rounds breakpoints to floats: skip t within rounding of one
        if 0 <= t < fn.duration and all(abs(p - F(t)) > F(1, 10**12) for p in ref.pts):
            assert fn.rate(t) == pytest.approx(float(ref.R(F(t))), rel=1e-12, abs=1e-9)
    assert fn.rate(fn.duration) == 0.0 and fn.rate(-0.1) == 0.0


@pytest.mark.parametrize("case", SMOOTH, ids=[c.name for c in SMOOTH])
def test_smooth_patterns_within_a_microsecond_of_numeric_reference(case: Case) -> None:
    fn = case.fn()
    ref = case.ref(fn)
    assert not isinstance(fn, ExactRateFn)
    got = ArrivalClock(fn).take_until(INF)
    assert ref.count_ok(len(got)), (len(got), ref.total)
    assert got == sorted(got) and all(0 <= us < fn.duration * US for us in got)
    for n, us in enumerate(got):
        assert ref.near_instant(n, us), (n, us)
    for n in {0, len(got) - 1, *range(0, len(got), max(1, len(got) // 40))}:
        assert abs(ref.instant_us(n) - got[n]) <= 1 or ref.near_instant(n, got[n]), n
    for i in range(-1, 102):
        t = fn.duration * i / 100
        assert fn.hits(t) == pytest.approx(ref.H(t), rel=1e-9, abs=1e-7)
        if 0 <= t < fn.duration:
            assert fn.rate(t) == pytest.approx(ref.R(t), rel=1e-9, abs=1e-7)
            assert fn.rate(t) >= 0.0


@pytest.mark.parametrize("case", SMOOTH, ids=[c.name for c in SMOOTH])
def test_smooth_time_of_hit_agrees_with_invert_hits_in_any_order(case: Case) -> None:
    fn = case.fn()
    total = ArrivalClock(case.fn()).total_expected()
    order = list(range(total))
    random.Random(1).shuffle(order)
    for n in order[:300]:                      # random access: the warm start must not matter
        t = fn.time_of_hit(n)
        assert abs(t - invert_hits(fn, n)) <= 1e-9, n
        assert abs(fn.hits(t) - n) <= 1e-6 * max(1.0, n)
    assert fn.time_of_hit(total) == INF
    assert fn.time_of_hit(-1) == 0.0
    with pytest.raises(ValueError):
        fn.time_of_hit(math.nan)


def test_sine_whole_periods_hold_exactly_base_times_duration() -> None:
    # H(D) = B·D when D is a whole number of periods: no phantom arrival from cos rounding
    for b, a, p, periods in [(10, 5, 60, 5), (100, 50, 0.1, 37), (1000, 1000, 0.3, 11)]:
        fn = Sine(p * periods, b, a, p)
        assert ArrivalClock(fn).total_expected() == round(b * p * periods)


def test_burst_starts_at_zero_and_then_every_interval() -> None:
    fn = Burst(5, 10, 100, 1, 2)
    assert [fn.rate(t) for t in (0, 0.99, 1, 1.99, 2, 3.5, 4, 4.999)] == [100, 100, 10, 10, 100, 10, 100, 100]
    assert fn.hits(5) == 3 * 100 + 2 * 10     # bursts [0,1) [2,3) [4,5), base [1,2) [3,4)
    idle = ArrivalClock(Burst(3, 0, 10, 0.5, 1)).take_until(INF)
    assert idle == [k * US + 100_000 * j for k in range(3) for j in range(5)]


def test_staircase_and_log_ramp_shapes() -> None:
    assert [Staircase(2, 100, 50, 0.5).rate(t) for t in (0, 0.49, 0.5, 1.0, 1.99)] == [100, 100, 150, 200, 250]
    assert [Staircase(2, 100, 300, 0.5, 500).rate(t) for t in (0, 0.5, 1.5)] == [100, 400, 500]
    fn = LogarithmicRamp(10, 0, 1000)          # seed 004: log10(1 + 9·progress)
    assert fn.rate(0) == 0 and fn.rate(5) == pytest.approx(1000 * math.log10(5.5))
    assert fn.rate(9.999999) == pytest.approx(1000, rel=1e-6)
    ex = ExponentialRamp(3, 10, 1000)
    assert ex.rate(1.5) == pytest.approx(100) and ex.hits(3) == pytest.approx(990 * 3 / math.log(100))


def test_chaos_levels_walk_and_spike() -> None:
    levels = chaos_levels(600, 100, 500, 42)
    assert len(levels) == 600 and levels[0] == 100
    assert all(0 <= x <= 500 for x in levels)
    assert len(set(levels)) > 100                       # it moves
    assert 30 < sum(levels) / len(levels) < 300         # and hovers around baseRate
    assert chaos_levels(2.5, 100, 500, 42) == levels[:3]
    assert Chaos(600, 100, 500, 42).levels == levels


def pattern_fn(spec: dict[str, Any]) -> RateFn:
    """A pattern's rate function from its config form, as the plan holds and builds it."""
    return shape_from(spec).rate_fn()


def test_pattern_fn_builds_each_type_and_names_bad_fields() -> None:
    specs: list[tuple[dict[str, Any], type]] = [
        ({"type": "sine", "duration": 60.0, "baseRate": 100.0, "amplitude": 50.0, "period": 10.0}, Sine),
        ({"type": "burst", "duration": 60.0, "baseRate": 1.0, "burstRate": 9.0, "burstDuration": 1.0,
          "burstInterval": 10.0}, Burst),
        ({"type": "ramp", "duration": 60.0, "startRate": 1.0, "endRate": 9.0}, LinearRamp),
        ({"type": "ramp", "duration": 60.0, "startRate": 1.0, "endRate": 9.0, "rampType": "exponential"},
         ExponentialRamp),
        ({"type": "ramp", "duration": 60.0, "startRate": 1.0, "endRate": 9.0, "rampType": "logarithmic"},
         LogarithmicRamp),
        ({"type": "staircase", "duration": 60.0, "startRate": 1.0, "stepRate": 1.0, "stepDuration": 5.0},
         Staircase),
        ({"type": "custom", "phases": [{"duration": 60.0, "rate": 3.0}]}, Custom),
        ({"type": "chaos", "duration": 60.0, "baseRate": 1.0, "maxRate": 9.0, "seed": 3}, Chaos),
    ]
    for spec, cls in specs:
        fn = pattern_fn(spec)
        assert type(fn) is cls and isinstance(fn, RateFn) and fn.duration == 60.0
        assert repr(fn).startswith(cls.__name__ + "(")
    bad = [
        ({"type": "sine", "duration": 1.0, "baseRate": 1.0, "amplitude": 2.0, "period": 1.0}, r"pattern\.amplitude"),
        ({"type": "sine", "duration": 1.0, "baseRate": 1.0, "amplitude": 1.0, "period": 0.0}, r"pattern\.period"),
        ({"type": "ramp", "duration": 1.0, "startRate": 0.0, "endRate": 5.0, "rampType": "exponential"},
         r"pattern\.startRate: .*use rampType: linear"),
        ({"type": "burst", "duration": 1.0, "baseRate": 1.0, "burstRate": 2.0, "burstDuration": 2.0,
          "burstInterval": 1.0}, r"pattern\.burstDuration"),
        ({"type": "chaos", "duration": 1.0, "baseRate": 9.0, "maxRate": 1.0}, r"pattern\.maxRate"),
        ({"type": "staircase", "duration": 1.0, "startRate": -1.0, "stepRate": 1.0, "stepDuration": 0.1},
         r"pattern\.startRate"),
        ({"type": "custom", "phases": []}, r"pattern\.phases"),
        ({"type": "custom", "phases": [{"duration": 1.0, "rate": 1.0, "startRate": 2.0}]}, r"phases\[0\]"),
        ({"type": "sine"}, r"missing required field `duration`"),   # a shape cannot lack a field
        ({"type": "wave"}, r"Invalid value 'wave' - at `\$\.type`"),
    ]
    for spec, match in bad:
        with pytest.raises(ValueError, match=match):
            pattern_fn(spec)


def plan(executor: str, **kw: object) -> ScenarioPlan:
    return scenario_of(executor, name="s", requests=(), **kw)


def test_rate_fn_for_dispatches_patterns() -> None:
    fn = plan("pattern", pattern=shape_from({"type": "burst", "duration": 2.0, "baseRate": 0.0,
                                             "burstRate": 10.0, "burstDuration": 0.5,
                                             "burstInterval": 1.0})).rate_fn()
    assert isinstance(fn, Burst) and ArrivalClock(fn).total_expected() == 10
    with pytest.raises(ValueError, match=r"^scenarios\.s\.pattern\.amplitude: must be <= baseRate"):
        plan("pattern", pattern=shape_from({"type": "sine", "duration": 1.0, "baseRate": 1.0,
                                            "amplitude": 2.0, "period": 1.0})).rate_fn()


def test_generic_path_speed_at_10k_per_second() -> None:
    """A guard, not the benchmark: the smooth patterns stay far below 20 µs per arrival."""
    for fn in (Sine(3, 10_000, 5_000, 1.0), LogarithmicRamp(3, 0, 20_000), ExponentialRamp(3, 1_000, 30_000)):
        clock = ArrivalClock(fn)
        start = time.perf_counter()
        count = 0
        for k in range(1, 31):
            count += len(clock.take_until(k / 10))
        per = (time.perf_counter() - start) / count
        assert count > 20_000 and per < 20e-6, (fn, per)


# ---------------------------------------------------------------------------------------------
# Properties

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
secs = st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 0.7, 1.0]) | st.floats(0.05, 1.5)
small_rate = st.sampled_from([0.0, 1.0, 50.0, 99.9]) | st.floats(0, 400)


@st.composite
def exact_patterns(draw: st.DrawFn) -> tuple[RateFn, ExactRef]:
    kind = draw(st.sampled_from(["burst", "staircase", "custom", "linear", "chaos"]))
    d = draw(st.floats(0.05, 2.5))
    if kind == "burst":
        i = draw(secs)
        w = i * draw(st.floats(0.05, 0.95))
        b, q = draw(small_rate), draw(small_rate)
        return Burst(d, b, q, w, i), burst_ref(d, b, q, w, i)
    if kind == "staircase":
        r0, step, s = draw(small_rate), draw(st.floats(0, 200)), draw(secs)
        cap = draw(st.none() | st.floats(r0, r0 + 600))
        return Staircase(d, r0, step, s, cap), staircase_ref(d, r0, step, s, cap)
    if kind == "custom":
        phases = draw(st.lists(st.one_of(
            st.builds(lambda d_, r: {"duration": d_, "rate": r}, secs, small_rate),
            st.builds(lambda d_, a, b: {"duration": d_, "startRate": a, "endRate": b}, secs, small_rate, small_rate)),
            min_size=1, max_size=4))
        return Custom(phases), custom_ref(phases)
    if kind == "linear":
        r0, r1 = draw(small_rate), draw(small_rate)
        return LinearRamp(d, r0, r1), linear_ref(d, r0, r1)
    base = draw(small_rate)
    fn = Chaos(d * 2, base, base + draw(st.floats(0, 300)), draw(st.integers(0, 2**64)))
    return fn, chaos_ref(fn)


@st.composite
def smooth_patterns(draw: st.DrawFn) -> tuple[RateFn, NumRef]:
    kind = draw(st.sampled_from(["sine", "exponential", "logarithmic"]))
    d = draw(st.floats(0.05, 2.0))
    if kind == "sine":
        b = draw(st.floats(0, 1500))
        a = b * draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1))
        p, phi = draw(secs), draw(st.floats(-7, 7))
        return Sine(d, b, a, p, phi), sine_ref(d, b, a, p, phi)
    r0, r1 = draw(st.floats(0.5, 1500)), draw(st.floats(0.5, 1500))
    if kind == "exponential":
        return ExponentialRamp(d, r0, r1), exp_ref(d, r0, r1)
    r0 = draw(st.sampled_from([0.0, r0]))
    return LogarithmicRamp(d, r0, r1), log_ref(d, r0, r1)


def window(fn: RateFn, a: float, b: float) -> tuple[int, int]:
    clock = ArrivalClock(fn)
    return len(clock.take_until(a)), len(clock.take_until(b))


@PROPS
@given(exact_patterns(), st.data())
def test_prop_exact_patterns(pair: tuple[RateFn, ExactRef], data: st.DataObject) -> None:
    fn, ref = pair
    got = ArrivalClock(fn).take_until(INF)
    assert len(got) == math.ceil(ref.total)
    assert got == sorted(got) and all(0 <= us and F(us) < ref.D * US for us in got)
    if got:
        picks = {0, len(got) - 1} | set(data.draw(st.lists(st.integers(0, len(got) - 1), max_size=8)))
        for n in picks:
            assert ref.is_instant(n, got[n]), n
    a = data.draw(st.floats(-0.1, fn.duration + 0.1))
    b = data.draw(st.floats(a, fn.duration + 0.2) | st.just(INF))
    before, inside = window(fn, a, b)
    assert before == ref.count_before(a)
    assert inside == ref.count_before(b) - ref.count_before(a)


@PROPS
@given(smooth_patterns(), st.data())
def test_prop_smooth_patterns(pair: tuple[RateFn, NumRef], data: st.DataObject) -> None:
    fn, ref = pair
    got = ArrivalClock(fn).take_until(INF)
    assert ref.count_ok(len(got)), (len(got), ref.total)
    assert got == sorted(got) and all(0 <= us < fn.duration * US for us in got)
    if got:
        picks = {0, len(got) - 1} | set(data.draw(st.lists(st.integers(0, len(got) - 1), max_size=8)))
        for n in picks:
            assert ref.near_instant(n, got[n]), n
    a = data.draw(st.floats(0, fn.duration))
    b = data.draw(st.floats(a, fn.duration))
    _, inside = window(fn, a, b)
    assert abs(inside - (ref.H(b) - ref.H(a))) < 1 + 1e-6


@PROPS
@given(st.just(0.0) | st.floats(1e-6, 40), st.floats(0, 1000), st.floats(1, 1000), st.integers(0, 2**63),
       st.integers(0, 2**63))
def test_prop_chaos_reproducible_by_seed(d: float, base: float, spread: float, seed: int, other: int) -> None:
    top = base + spread
    levels = chaos_levels(d, base, top, seed)
    assert len(levels) == math.ceil(d) and all(0 <= x <= top for x in levels)
    assert levels[:1] == [base][:len(levels)]
    assert chaos_levels(d, base, top, seed) == levels
    assert chaos_levels(d + 10, base, top, seed)[:len(levels)] == levels
    a, b = Chaos(d, base, top, seed), Chaos(d, base, top, seed)
    assert ArrivalClock(a).take_until(INF) == ArrivalClock(b).take_until(INF)
    if d > 8 and seed != other:
        assert chaos_levels(d, base, top, other) != levels


# ---------------------------------------------------------------------------------------------
# Config: validation of pattern dicts, with field paths

P = "scenarios.api.pattern"


def doc(pattern: object) -> dict[str, Any]:
    return {"name": "t", "settings": {"baseUrl": "http://127.0.0.1:8080"},
            "scenarios": {"api": {"executor": "pattern", "pattern": pattern, "requests": [{"url": "/"}]}}}


def errors_of(pattern: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        plan_from_dict(doc(pattern))
    return info.value.errors


SINE = {"type": "sine", "duration": "1m", "baseRate": 100, "amplitude": 50, "period": "10s"}
BURST = {"type": "burst", "duration": "1m", "baseRate": 10, "burstRate": 100, "burstDuration": "5s",
         "burstInterval": "20s"}
RAMP = {"type": "ramp", "duration": "1m", "startRate": 10, "endRate": 100}
STAIRS = {"type": "staircase", "duration": "1m", "startRate": 10, "stepRate": 10, "stepDuration": "10s"}
CUSTOM = {"type": "custom", "phases": [{"duration": "10s", "rate": 5}]}
CHAOS = {"type": "chaos", "duration": "1m", "baseRate": 10, "maxRate": 50}

VALID = [
    ("sine", SINE, 60.0),
    ("sine snake_case with phase", {"type": "sine", "duration": 60, "base_rate": 5, "amplitude": 5,
                                    "period": 7, "phase": -1.5}, 60.0),
    ("burst", BURST, 60.0),
    ("burst snake_case", {"type": "burst", "duration": "1m", "base_rate": 0, "burst_rate": 100,
                          "burst_duration": "5s", "burst_interval": "20s"}, 60.0),
    ("ramp linear by default", RAMP, 60.0),
    ("ramp logarithmic from 0", {**RAMP, "startRate": 0, "rampType": "logarithmic"}, 60.0),
    ("ramp exponential down", {**RAMP, "startRate": 100, "endRate": 1, "ramp_type": "exponential"}, 60.0),
    ("staircase capped", {**STAIRS, "max_rate": 30}, 60.0),
    ("custom mixed phases", {"type": "custom", "phases": [{"duration": "10s", "rate": 5},
                                                          {"duration": "5s", "start_rate": 5, "end_rate": 0}]}, 15.0),
    ("chaos with seed", {**CHAOS, "seed": 42}, 60.0),
    ("chaos base = max", {**CHAOS, "maxRate": 10}, 60.0),
]


@pytest.mark.parametrize("name,pattern,length", VALID, ids=[c[0] for c in VALID])
def test_valid_patterns_plan_and_build(name: str, pattern: dict[str, Any], length: float) -> None:
    (s,) = plan_from_dict(doc(pattern)).scenarios
    assert s.duration == length and s.pattern is not None
    assert all("_" not in key for key in msgspec.to_builtins(s.pattern))   # camelCase on the wire
    fn = s.rate_fn()
    assert fn.duration == length and ArrivalClock(fn).total_expected() > 0


INVALID = [
    ("sine amplitude above base", {**SINE, "amplitude": 150},
     [f"~{P}.amplitude: must be <= baseRate (100) so the rate"]),
    ("sine period zero", {**SINE, "period": 0}, [f"{P}.period: must be > 0"]),
    ("sine missing period", {k: v for k, v in SINE.items() if k != "period"},
     [f"{P}.period: required for a sine pattern, e.g. period: 1m"]),
    ("sine key of another type", {**SINE, "maxRate": 500},
     [f"~{P}.maxRate: not used by a sine pattern (its keys: type, duration, baseRate, amplitude, period, phase)"]),
    ("sine negative base", {**SINE, "baseRate": -1}, [f"{P}.baseRate: must be >= 0"]),
    ("burst longer than its interval", {**BURST, "burstDuration": "20s"},
     [f"~{P}.burstDuration: must be < burstInterval (20s)"]),
    ("burst negative rate snake_case", {**{k: v for k, v in BURST.items() if k != "burstRate"}, "burst_rate": -5},
     [f"{P}.burstRate: must be >= 0"]),
    ("burst too many bursts", {**BURST, "duration": "10h", "burstInterval": "100ms", "burstDuration": "10ms"},
     [f"~{P}.burstInterval: 0.1s makes too many bursts"]),
    ("burst all zero", {**BURST, "baseRate": 0, "burstRate": 0},
     [f"{P}: the rate of this burst pattern is 0 for the whole run, so it would send nothing; give it a rate > 0"]),
    ("burst run ends inside a silent first burst", {**BURST, "duration": "4s", "burstRate": 0},
     [f"~{P}: the rate of this burst pattern is 0 for the whole run"]),
    ("exponential from 0", {**RAMP, "startRate": 0, "rampType": "exponential"},
     [f"{P}.startRate: must be > 0 for rampType exponential (a rate growing by a constant factor never "
      "leaves 0); use rampType: linear or a startRate > 0"]),
    ("exponential to 0", {**RAMP, "endRate": 0, "rampType": "exponential"}, [f"~{P}.endRate: must be > 0"]),
    ("exponential beyond float range", {**RAMP, "startRate": 5e-324, "rampType": "exponential"},
     [f"~{P}.startRate: startRate and endRate must be within a factor of 1e+12"]),
    ("ramp type typo", {**RAMP, "rampType": "expo"}, [f"~{P}.rampType: unknown value 'expo'"]),
    ("ramp missing endRate", {k: v for k, v in RAMP.items() if k != "endRate"},
     [f"{P}.endRate: required for a ramp pattern, e.g. endRate: 1000"]),
    ("staircase maxRate below start", {**STAIRS, "maxRate": 5}, [f"{P}.maxRate: must be >= startRate (10)"]),
    ("staircase never steps", {**STAIRS, "stepDuration": "1m"}, [f"~{P}.stepDuration: must be < duration (60s)"]),
    ("custom empty phases", {"type": "custom", "phases": []}, [f"{P}.phases: must not be empty"]),
    ("custom with duration", {**CUSTOM, "duration": "1m"},
     [f"~{P}.duration: not used by a custom pattern (its keys: type, phases); the length is the sum"]),
    ("custom phase rate and startRate", {"type": "custom", "phases": [{"duration": "1s", "rate": 1, "startRate": 2,
                                                                       "endRate": 3}]},
     [f"{P}.phases[0]: give rate (constant), or startRate and endRate (linear), not both"]),
    ("custom phase half linear", {"type": "custom", "phases": [{"duration": "1s", "startRate": 2}]},
     [f"{P}.phases[0]: needs rate, or startRate and endRate"]),
    ("custom phase zero duration", {"type": "custom", "phases": [{"duration": 0, "rate": 2}]},
     [f"{P}.phases[0].duration: must be > 0"]),
    ("custom all silent", {"type": "custom", "phases": [{"duration": "1s", "rate": 0}]},
     [f"~{P}: the rate of this custom pattern is 0 for the whole run"]),
    ("chaos from 0 that never leaves 0", {**CHAOS, "baseRate": 0, "duration": "1s"},
     [f"~{P}: the rate of this chaos pattern is 0 for the whole run"]),
    ("sub-microsecond period", {**SINE, "period": 1e-9}, [f"{P}.period: must be at least 1us"]),
    ("sub-microsecond phase", {"type": "custom", "phases": [{"duration": "1ns", "rate": 2}]},
     [f"{P}.phases[0].duration: must be at least 1us"]),
    ("chaos max below base", {**CHAOS, "maxRate": 5}, [f"{P}.maxRate: must be >= baseRate (10)"]),
    ("chaos negative seed", {**CHAOS, "seed": -1}, [f"{P}.seed: must be >= 0"]),
    ("chaos seed not integer", {**CHAOS, "seed": 1.5}, [f"~{P}.seed: must be an integer"]),
    ("chaos too long", {**CHAOS, "duration": "30h"}, [f"~{P}.duration: chaos changes its rate every 1s"]),
    ("typo suggests the type's key", {**CHAOS, "seeed": 1}, [f"{P}.seeed: unknown field; did you mean 'seed'?"]),
    ("both spellings", {**SINE, "base_rate": 100}, [f"~{P}.base_rate: given twice"]),
    ("not a mapping", [1], [f"~{P}: must be a mapping"]),
]


@pytest.mark.parametrize("name,pattern,expected", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_patterns_name_the_field(name: str, pattern: object, expected: list[str]) -> None:
    errors = errors_of(pattern)
    for want in expected:
        if want.startswith("~"):
            assert any(want[1:] in e for e in errors), (want, errors)
        else:
            assert want in errors, (want, errors)


_anything = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(-1, 1e7), st.floats(0, 1e-5),
                      st.sampled_from(["0s", "-1s", "x", "100h", "1ns", "linear", "exponential"]),
                      st.lists(st.dictionaries(st.sampled_from(["duration", "rate", "startRate", "end_rate"]),
                                               st.one_of(st.floats(-1, 300), st.sampled_from(["1s", "2s"])),
                                               max_size=4), max_size=3))
_secs_values = st.sampled_from(["1s", "250ms", "1m", "90s", "10m", "1us"]) | st.floats(1e-6, 1e4)
_rate_values = st.sampled_from([0, 1, 100]) | st.floats(0, 2000)
_phase = st.fixed_dictionaries({"duration": _secs_values}, optional={"rate": _rate_values, "startRate": _rate_values,
                                                                     "endRate": _rate_values})
_PLAUSIBLE = {"phase": st.floats(-10, 10), "seed": st.integers(0, 2**70), "phases": st.lists(_phase, max_size=3),
              "rampType": st.sampled_from(["linear", "exponential", "logarithmic"]),
              **{k: _secs_values for k in ("duration", "period", "burstDuration", "burstInterval", "stepDuration")}}


BASES = {"sine": SINE, "burst": BURST, "ramp": RAMP, "staircase": STAIRS, "custom": CUSTOM, "chaos": CHAOS}


@st.composite
def pattern_edits(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A type and up to two fields to replace: mostly its own keys (either spelling) with
    values of the right kind, sometimes any key or any value."""
    kind = draw(st.sampled_from(sorted(BASES)))
    required, optional = TYPE_KEYS[kind]
    own = [*required, *optional]
    edits: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(own * 8 + list(PATTERN_KEYS) + ["nope"]))
        if draw(st.booleans()):
            key = "".join("_" + c.lower() if c.isupper() else c for c in key)     # snake_case
        plausible = _PLAUSIBLE.get(camel(key), _rate_values)
        edits[key] = draw(st.one_of(plausible, plausible, plausible, _anything))
    return kind, edits


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern_edits())
def test_prop_config_accepts_only_what_the_schedule_can_build(edit: tuple[str, dict[str, Any]]) -> None:
    """A valid pattern of each type with up to three fields replaced."""
    kind, edits = edit
    replaced = {camel(k) for k in edits}            # `base_rate` replaces `baseRate`
    pattern = {**{k: v for k, v in BASES[kind].items() if k not in replaced}, **edits}
    try:
        plan = plan_from_dict(doc(pattern))
    except ConfigError as e:
        assert e.errors and all(x.startswith("scenarios.api.pattern") for x in e.errors), e.errors
        return
    (s,) = plan.scenarios
    fn = s.rate_fn()                            # never a ValueError for an accepted config
    assert fn.duration == pytest.approx(s.duration, rel=1e-12) and fn.hits(fn.duration) > 0
