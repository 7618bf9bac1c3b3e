"""Traffic patterns (seed 004, `executor: pattern`) as rate functions.

Every pattern is a `RateFn` on [0, D): R(t) ≥ 0 always, H(t) = ∫₀ᵗ R, t_n = inf{t : H(t) > n}
(see `rates`). Two families:

Piecewise (exact: `ExactRateFn` through `LinearPieces`, instants computed in integers)
    Burst        R = burstRate for the first burstDuration of every burstInterval, starting
                 at t = 0 (seed 004: `elapsed % interval < burstDuration`), else baseRate.
    Staircase    R = startRate + k·stepRate on [k·S, (k+1)·S), capped at maxRate if given.
    Custom       phases in order: {duration, rate} constant, {duration, startRate, endRate}
                 linear; the rate jumps between phases.
    Chaos        a seeded random walk with spikes, constant over each 1-second interval.
    LinearRamp   R = r₀ + (r₁ − r₀)·t/D.

Smooth (float: closed-form H, inverse by closed form or warm-started safeguarded Newton)
    Sine              R = B + A·sin(2πt/P + φ), A ≤ B.
    ExponentialRamp   R = r₀·(r₁/r₀)^(t/D), r₀, r₁ > 0 (closed-form inverse).
    LogarithmicRamp   R = r₀ + (r₁ − r₀)·log₁₀(1 + 9t/D) (seed 004's curve).

Breakpoints of the piecewise patterns are computed exactly (k·I as a Fraction of the floats'
binary values), so the 1000th burst starts at exactly 1000·I, not at a drifting float sum.
The plan holds a pattern as a tagged type (executors/shapes.py), whose `rate_fn()` builds one
of these. Constructors raise ValueError naming the field (`pattern.period: must be > 0`); the
config layer checks the same rules first, with the path.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from fractions import Fraction

from lunge_mp.schedule.rates import LinearPieces, RateFn

#: a piecewise pattern may change its rate at most this often (bursts, steps, chaos seconds);
#: building costs ~45 µs per piece, so the cap keeps plan time under ~5 s.
MAX_RATE_CHANGES = 100_000
#: chaos holds each rate for this long (seconds)
CHAOS_INTERVAL = 1.0
CHAOS_SPIKE_PROBABILITY = 0.05
CHAOS_REVERSION = 0.1          # θ: pull of the walk back towards baseRate, per interval
CHAOS_STEP = 0.1               # σ as a fraction of maxRate: the walk's largest step
#: logarithmic ramp: R = r₀ + (r₁ − r₀)·ln(1 + K·t/D)/ln(1 + K); K = 9 is seed 004's log₁₀ curve
LOG_RAMP_K = 9.0


#: the shortest duration a pattern may use (its instants are whole microseconds)
MIN_DURATION = 1e-6


def _num(value: object, what: str, *, positive: bool = False) -> float:
    """A finite float ≥ 0 (> 0 if `positive`), else ValueError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what}: must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        raise ValueError(f"{what}: must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return x


def _secs(value: object, what: str, *, positive: bool = False) -> float:
    """A duration in seconds: 0 (unless `positive`) or at least MIN_DURATION."""
    x = _num(value, what, positive=positive)
    if 0 < x < MIN_DURATION:
        raise ValueError(f"{what}: must be at least 1us, got {value!r}")
    return x


class _Params:
    """`repr` from `self.params` (the constructor's arguments, by name)."""

    params: dict[str, object]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


# ---------------------------------------------------------------------------------------------
# Piecewise patterns: exact


class _Steps(_Params, LinearPieces):
    """R piecewise constant: `levels` [(Tᵢ, rᵢ)] (T₀ = 0, increasing, exact) until `end`."""

    def __init__(self, levels: Sequence[tuple[Fraction, Fraction]], end: Fraction) -> None:
        levels = [lv for i, lv in enumerate(levels)
                  if i == 0 or (lv[0] < end and lv[1] != levels[i - 1][1])]
        pieces: list[tuple[Fraction, Fraction]] = []
        bounds = [t for t, _ in levels[1:]] + [end]
        for (t, r), t_next in zip(levels, bounds):
            t_next = min(t_next, end)
            if t_next > t:
                pieces += [(Fraction(0), r), (t_next - t, r)]     # jump to r, hold it
        super().__init__(levels[0][1] if levels else Fraction(0), pieces)


class Burst(_Steps):
    """Bursts of `burst_rate` over a base rate, the first one at t = 0 (as seed 004's
    `elapsed % interval < burstDuration`). With I = burstInterval, W = burstDuration < I:

        R(t) = q if (t mod I) < W else b;
        H(t) = k·(q·W + b·(I − W)) + q·min(s, W) + b·max(0, s − W),   k = ⌊t/I⌋, s = t − k·I.

    A burst cut by the end of the run is shortened. Exact.
    """

    def __init__(self, duration: float, base_rate: float, burst_rate: float,
                 burst_duration: float, burst_interval: float) -> None:
        d = Fraction(_secs(duration, "pattern.duration"))
        b = Fraction(_num(base_rate, "pattern.baseRate"))
        q = Fraction(_num(burst_rate, "pattern.burstRate"))
        w = Fraction(_secs(burst_duration, "pattern.burstDuration", positive=True))
        i = Fraction(_secs(burst_interval, "pattern.burstInterval", positive=True))
        if w >= i:
            raise ValueError(f"pattern.burstDuration: must be < burstInterval ({burst_interval!r}s)")
        cycles = math.ceil(d / i)
        if 2 * cycles > MAX_RATE_CHANGES:
            raise ValueError(f"pattern.burstInterval: {cycles} bursts; at most {MAX_RATE_CHANGES // 2}")
        levels: list[tuple[Fraction, Fraction]] = []
        for k in range(cycles):
            levels += [(k * i, q), (k * i + w, b)]
        super().__init__(levels, d)
        self.params = dict(duration=duration, base_rate=base_rate, burst_rate=burst_rate,
                           burst_duration=burst_duration, burst_interval=burst_interval)


class Staircase(_Steps):
    """Steps up every `step_duration` S: R(t) = min(r₀ + ⌊t/S⌋·Δ, M) (M = maxRate, ∞ if not
    given); H sums the whole steps and the part of the current one. Exact."""

    def __init__(self, duration: float, start_rate: float, step_rate: float,
                 step_duration: float, max_rate: float | None = None) -> None:
        d = Fraction(_secs(duration, "pattern.duration"))
        r0 = Fraction(_num(start_rate, "pattern.startRate"))
        delta = Fraction(_num(step_rate, "pattern.stepRate"))
        s = Fraction(_secs(step_duration, "pattern.stepDuration", positive=True))
        cap = None if max_rate is None else Fraction(_num(max_rate, "pattern.maxRate"))
        if cap is not None and cap < r0:
            raise ValueError(f"pattern.maxRate: must be >= startRate ({start_rate!r})")
        steps = math.ceil(d / s)
        if steps > MAX_RATE_CHANGES:
            raise ValueError(f"pattern.stepDuration: {steps} steps; at most {MAX_RATE_CHANGES}")
        levels: list[tuple[Fraction, Fraction]] = []
        for k in range(max(steps, 1)):
            r = r0 + k * delta
            if cap is not None and r >= cap:
                levels.append((k * s, cap))
                break                                   # flat from here on
            levels.append((k * s, r))
        super().__init__(levels, d)
        self.params = dict(duration=duration, start_rate=start_rate, step_rate=step_rate,
                           step_duration=step_duration, max_rate=max_rate)


class Custom(_Params, LinearPieces):
    """Phases in order; phase i over [Tᵢ, Tᵢ + dᵢ) is constant (`rate`) or linear
    (`startRate` → `endRate`), and the rate jumps between phases:

        R(Tᵢ + τ) = sᵢ + (eᵢ − sᵢ)·τ/dᵢ;   H(Tᵢ + τ) = Hᵢ + sᵢ·τ + (eᵢ − sᵢ)·τ²/(2dᵢ).

    D = Σ dᵢ (exact). Exact.
    """

    def __init__(self, phases: Sequence[Mapping[str, object]]) -> None:
        pieces: list[tuple[Fraction, Fraction]] = []
        self.phases: list[tuple[float, float, float]] = []     # (duration, start, end)
        for i, ph in enumerate(phases):
            where = f"pattern.phases[{i}]"
            d = _secs(ph.get("duration"), f"{where}.duration", positive=True)
            if "rate" in ph:
                if "startRate" in ph or "endRate" in ph:
                    raise ValueError(f"{where}: give rate, or startRate and endRate, not both")
                s = e = _num(ph["rate"], f"{where}.rate")
            elif "startRate" in ph and "endRate" in ph:
                s = _num(ph["startRate"], f"{where}.startRate")
                e = _num(ph["endRate"], f"{where}.endRate")
            else:
                raise ValueError(f"{where}: needs rate, or startRate and endRate")
            pieces += [(Fraction(0), Fraction(s)), (Fraction(d), Fraction(e))]
            self.phases.append((d, s, e))
        if not pieces:
            raise ValueError("pattern.phases: must not be empty")
        super().__init__(pieces[0][1], pieces)
        self.params = dict(phases=[dict(ph) for ph in phases])


def chaos_levels(duration: float, base_rate: float, max_rate: float, seed: int) -> list[float]:
    """The rate of each CHAOS_INTERVAL of a chaos pattern (the last one may be cut short).

    Interval 0 runs at b = baseRate. Each later interval draws u, v = two `random()` values
    of `random.Random(seed)` (the one part of `random` guaranteed the same across Python
    versions) and, with L the walk's level (L₀ = b, M = maxRate):

        u < p (spike, p = 5%):  rate = L + (M − L)·(1 + v)/2        (L itself unchanged)
        else (walk):            L ← clamp(L + θ·(b − L) + σ·M·(2v − 1), 0, M);  rate = L

    θ = 0.1 pulls the walk back towards b, σ = 0.1 bounds a step to a tenth of M. Rates are
    rounded to 0.001/s. Two draws per interval, always, so a longer run with the same seed
    starts with the same rates as a shorter one.
    """
    b = _num(base_rate, "pattern.baseRate")
    m = _num(max_rate, "pattern.maxRate")
    d = _secs(duration, "pattern.duration")
    if m < b:
        raise ValueError(f"pattern.maxRate: must be >= baseRate ({base_rate!r})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"pattern.seed: must be an integer >= 0, got {seed!r}")
    n = math.ceil(d / CHAOS_INTERVAL)
    if n > MAX_RATE_CHANGES:
        raise ValueError(f"pattern.duration: chaos changes its rate every {CHAOS_INTERVAL:g}s; "
                         f"at most {MAX_RATE_CHANGES} changes ({MAX_RATE_CHANGES * CHAOS_INTERVAL:g}s)")
    rnd = random.Random(seed)
    level = b
    out = [b] if n else []
    for _ in range(1, n):
        u, v = rnd.random(), rnd.random()
        if u < CHAOS_SPIKE_PROBABILITY:
            rate = level + (m - level) * (1.0 + v) / 2.0
        else:
            level += CHAOS_REVERSION * (b - level) + CHAOS_STEP * m * (2.0 * v - 1.0)
            level = min(m, max(0.0, level))
            rate = level
        out.append(min(m, max(0.0, round(rate, 3))))
    return out


class Chaos(_Steps):
    """A reproducible random walk between 0 and maxRate with spikes (see `chaos_levels`):
    R(t) = rate of interval ⌊t/Δ⌋, Δ = CHAOS_INTERVAL = 1 s. Same seed, same instants. Exact."""

    def __init__(self, duration: float, base_rate: float, max_rate: float, seed: int = 0) -> None:
        self.levels = chaos_levels(duration, base_rate, max_rate, seed)
        step = Fraction(CHAOS_INTERVAL)
        super().__init__([(k * step, Fraction(r)) for k, r in enumerate(self.levels)],
                         Fraction(_secs(duration, "pattern.duration")))
        self.params = dict(duration=duration, base_rate=base_rate, max_rate=max_rate, seed=seed)


class LinearRamp(_Params, LinearPieces):
    """R(t) = r₀ + (r₁ − r₀)·t/D;  H(t) = r₀·t + (r₁ − r₀)·t²/(2D). Exact."""

    def __init__(self, duration: float, start_rate: float, end_rate: float) -> None:
        d = Fraction(_secs(duration, "pattern.duration"))
        r0 = Fraction(_num(start_rate, "pattern.startRate"))
        r1 = Fraction(_num(end_rate, "pattern.endRate"))
        super().__init__(r0, [(d, r1)])
        self.params = dict(duration=duration, start_rate=start_rate, end_rate=end_rate)


# ---------------------------------------------------------------------------------------------
# Smooth patterns: closed-form H, fast float inverse


class _Smooth(_Params):
    """Base of the smooth patterns: subclasses give `_h(t)` = H(t) and `_r(t)` = R(t) on
    [0, D] in closed form and `_slope` ≥ sup |R'|, and get `time_of_hit` by Newton on
    H(t) − n = 0 warm-started from the last point evaluated.

    Newton from a point t with h = H(t), r = R(t) > 0 lands at t + (n − h)/r, at most
    sup|R'|·(t* − t)²/(2r) from the root t*: when that bound is below `_tol` (0.1 ns) the
    candidate is returned without evaluating H again. Consecutive arrivals are 1/R apart, so
    an arrival costs about one evaluation (none on gentle curves at high rates). Otherwise a
    bracket [lo, hi] with H(lo) ≤ n < H(hi) is kept and the step falls back to bisection when
    Newton leaves it or stops halving (rtsafe), e.g. next to an isolated R = 0.

    H(D) just above an integer k, by less than 10⁻¹² of `_mag` (the size of the terms summed
    into H(D), so the size of their rounding error), is taken as k: ⌈H(D)⌉ does not grow a
    phantom last arrival out of rounding (B·D for whole periods of a sine).
    """

    duration: float
    _slope: float
    _mag: float

    def _h(self, t: float) -> float:
        raise NotImplementedError

    def _r(self, t: float) -> float:
        raise NotImplementedError

    def _hr(self, t: float) -> tuple[float, float]:
        """(H(t), R(t)) in one call: the solver's only evaluation."""
        return self._h(t), self._r(t)

    def _finish_init(self, duration: float) -> None:
        self.duration = duration
        total = self._h(duration) if duration > 0 else 0.0
        below = math.floor(total)
        if 0 < total - below <= 1e-12 * self._mag:
            total = float(below)
        self._total_f = total
        self._tol = max(1e-10, 8.0 * math.ulp(duration))
        self._t_max = math.nextafter(duration, 0.0) if duration > 0 else 0.0
        self._at = (0.0, 0.0, self._r(0.0) if duration > 0 else 0.0)

    def rate(self, t: float) -> float:
        return self._r(t) if 0.0 <= t < self.duration else 0.0

    def hits(self, t: float) -> float:
        if t <= 0.0:
            return 0.0
        if t >= self.duration:
            return self._total_f
        return min(self._h(t), self._total_f)

    def total_hits(self) -> int:
        """⌈H(duration)⌉."""
        return math.ceil(self._total_f)

    def time_of_hit(self, n: float) -> float:
        if math.isnan(n):
            raise ValueError("time_of_hit: n is NaN")
        if n < 0:
            return 0.0
        if n >= self._total_f:
            return math.inf
        hr, tol, slope = self._hr, self._tol, self._slope
        t, h, r = self._at
        lo, hi = 0.0, self._t_max
        if h <= n:
            lo = t
        else:
            hi = t
        dx_old = dx = math.inf
        for _ in range(300):
            if r > 0.0:
                step = (n - h) / r
                cand = t + step
                if slope * step * step <= 2.0 * r * tol and lo - tol <= cand <= hi + tol:
                    self._at = (t, h, r)
                    return min(max(cand, lo), hi)
                newton = lo < cand < hi and abs(step) <= 0.5 * dx_old
            else:
                newton = False
            if newton:
                dx_old, dx = dx, abs(step)
                t = cand
            else:
                dx_old, dx = dx, 0.5 * (hi - lo)
                t = lo + dx
            h, r = hr(t)
            if h <= n:
                lo = t
            else:
                hi = t
            if hi - lo <= tol:
                self._at = (t, h, r)
                return hi
        self._at = (t, h, r)
        return hi


class Sine(_Smooth):
    """R(t) = B + A·sin(ωt + φ), ω = 2π/P, φ in radians (seed 004's SinePattern); A ≤ B, so
    R ≥ 0 without clamping (rounding aside). With c = A/ω:

        H(t) = B·t + c·(cos φ − cos(ωt + φ)).

    ωt is evaluated as ω·(t mod P) so whole periods cancel exactly. No closed-form inverse:
    warm-started Newton (see `_Smooth`), sup|R'| = A·ω. Where R touches 0 (A = B) H is flat
    to third order, H − n ≈ R''·(t − t_n)³/6, so float64 H (error ~ ulp(H)) places an arrival
    that falls exactly there only to a few µs; everywhere else to well under 1 µs.
    """

    def __init__(self, duration: float, base_rate: float, amplitude: float, period: float,
                 phase: float = 0.0) -> None:
        d = _secs(duration, "pattern.duration")
        self.b = _num(base_rate, "pattern.baseRate")
        self.a = _num(amplitude, "pattern.amplitude")
        self.p = _secs(period, "pattern.period", positive=True)
        if isinstance(phase, bool) or not isinstance(phase, (int, float)) or not math.isfinite(phase):
            raise ValueError(f"pattern.phase: must be a number (radians), got {phase!r}")
        if self.a > self.b:
            raise ValueError(f"pattern.amplitude: must be <= baseRate ({base_rate!r}) so the rate "
                             "never goes below 0")
        self.phi = float(phase)
        self._w = 2.0 * math.pi / self.p
        self._c = self.a / self._w
        self._cos_phi = math.cos(self.phi)
        self._slope = self.a * self._w
        self._mag = self.b * d + 2.0 * self._c
        self._finish_init(d)
        self.params = dict(duration=duration, base_rate=base_rate, amplitude=amplitude, period=period,
                           phase=phase)

    def _r(self, t: float) -> float:
        return max(0.0, self.b + self.a * math.sin(self._w * math.fmod(t, self.p) + self.phi))

    def _h(self, t: float) -> float:
        return self.b * t + self._c * (self._cos_phi - math.cos(self._w * math.fmod(t, self.p) + self.phi))

    def _hr(self, t: float) -> tuple[float, float]:
        theta = self._w * math.fmod(t, self.p) + self.phi
        return (self.b * t + self._c * (self._cos_phi - math.cos(theta)),
                max(0.0, self.b + self.a * math.sin(theta)))


class ExponentialRamp(_Smooth):
    """R(t) = r₀·(r₁/r₀)^(t/D) = r₀·e^(λt), λ = ln(r₁/r₀)/D, r₀ > 0 and r₁ > 0;

        H(t) = r₀·(e^(λt) − 1)/λ         (r₀·t when λ = 0),
        t_n  = ln(1 + λ·n/r₀)/λ           (closed form; expm1/log1p keep small λ exact).
    """

    def __init__(self, duration: float, start_rate: float, end_rate: float) -> None:
        d = _secs(duration, "pattern.duration")
        r0 = _num(start_rate, "pattern.startRate")
        r1 = _num(end_rate, "pattern.endRate")
        for key, v in (("startRate", r0), ("endRate", r1)):
            if v <= 0:
                raise ValueError(f"pattern.{key}: must be > 0 for rampType exponential; "
                                 f"use rampType: linear or a {key} > 0")
        self.r0, self.r1 = r0, r1
        self._lam = math.log(r1 / r0) / d if d > 0 else 0.0
        self._slope = abs(self._lam) * max(r0, r1)
        self._mag = max(r0, r1) * d
        self._finish_init(d)
        self.params = dict(duration=duration, start_rate=start_rate, end_rate=end_rate)

    def _r(self, t: float) -> float:
        return self.r0 * math.exp(self._lam * t)

    def _h(self, t: float) -> float:
        lam = self._lam
        return self.r0 * math.expm1(lam * t) / lam if lam else self.r0 * t

    def time_of_hit(self, n: float) -> float:
        if math.isnan(n):
            raise ValueError("time_of_hit: n is NaN")
        if n < 0:
            return 0.0
        if n >= self._total_f:
            return math.inf
        lam = self._lam
        t = math.log1p(lam * n / self.r0) / lam if lam else n / self.r0
        return min(t, self._t_max)


class LogarithmicRamp(_Smooth):
    """Seed 004's logarithmic ramp: fast at first, flattening towards r₁. With K = 9,
    x = K·t/D and L = ln(1 + K) (so the curve is log₁₀(1 + 9t/D)):

        R(t) = r₀ + (r₁ − r₀)·ln(1 + x)/L,
        H(t) = r₀·t + (r₁ − r₀)·(D/(K·L))·((1 + x)·ln(1 + x) − x).

    R goes from r₀ to r₁ (either direction, either may be 0) and stays between them, so
    R ≥ 0. Inverse by warm-started Newton, sup|R'| = |r₁ − r₀|·K/(D·L) (at t = 0).
    """

    def __init__(self, duration: float, start_rate: float, end_rate: float) -> None:
        d = _secs(duration, "pattern.duration")
        self.r0 = _num(start_rate, "pattern.startRate")
        self.r1 = _num(end_rate, "pattern.endRate")
        self._dr = self.r1 - self.r0
        self._ln = math.log1p(LOG_RAMP_K)
        self._kd = LOG_RAMP_K / d if d > 0 else 0.0
        self._hc = self._dr / (self._kd * self._ln) if d > 0 else 0.0
        self._slope = abs(self._dr) * self._kd / self._ln
        self._mag = (self.r0 + abs(self._dr) * LOG_RAMP_K) * d
        self._finish_init(d)
        self.params = dict(duration=duration, start_rate=start_rate, end_rate=end_rate)

    def _r(self, t: float) -> float:
        return max(0.0, self.r0 + self._dr * math.log1p(self._kd * t) / self._ln)

    def _h(self, t: float) -> float:
        x = self._kd * t
        return self.r0 * t + self._hc * ((1.0 + x) * math.log1p(x) - x)

    def _hr(self, t: float) -> tuple[float, float]:
        x = self._kd * t
        lg = math.log1p(x)
        return (self.r0 * t + self._hc * ((1.0 + x) * lg - x),
                max(0.0, self.r0 + self._dr * lg / self._ln))
