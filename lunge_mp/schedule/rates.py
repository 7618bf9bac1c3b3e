"""Rate functions: how many iterations per second a scenario asks for, and when.

A rate function is R(t) ≥ 0 on [0, D) (D = `duration`, R = 0 outside) together with

    H(t) = ∫₀ᵗ R(s) ds            the expected number of hits by t (t clamped to [0, D]),
    t_n  = inf{t ≥ 0 : H(t) > n}  the instant of hit n (n = 0, 1, 2, ...), ∞ if H(D) ≤ n.

t_n is "the smallest t with H(t) ≥ n" wherever R > 0 around it; the strict form only differs
where H sits flat on an integer (a zero-rate stretch), where it puts the hit at the end of the
flat stretch, when the rate comes back. With it, for every window [a, b):

    #{n : a ≤ t_n < b} = ⌈H(b)⌉ − ⌈H(a)⌉          (so |count − ∫ₐᵇ R| < 1),

because t_n < b ⟺ n < H(b) for continuous, non-decreasing H. In particular the whole run
holds exactly ⌈H(D)⌉ hits, all with t_n < D.

`Constant` and `PiecewiseLinear` also implement `ExactRateFn`: the hit count ⌈H(t)⌉ and the
instants ⌊10⁶·t_n⌋ µs computed exactly in integer arithmetic over the float inputs' exact
binary values (no drift, no off-by-one at window edges). So do the piecewise traffic patterns
(burst, staircase, custom, chaos, linear ramp: `patterns`, built on `LinearPieces`). The smooth
ones (sine, exponential and logarithmic ramps) only implement the three `RateFn` methods, with
closed-form H and a closed-form or warm-started Newton inverse; `invert_hits` is the generic
numeric inverse for any other shape.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Protocol, runtime_checkable

US_PER_S = 1_000_000


@runtime_checkable
class RateFn(Protocol):
    """R(t) iterations/s at t seconds from scenario start, for t in [0, duration)."""

    duration: float

    def rate(self, t: float) -> float:
        """R(t); 0 for t < 0 and t ≥ duration."""
        ...

    def hits(self, t: float) -> float:
        """H(t) = ∫₀ᵗ R, with t clamped to [0, duration]."""
        ...

    def time_of_hit(self, n: float) -> float:
        """t_n = inf{t : H(t) > n}; 0 for n < 0; math.inf if H(duration) ≤ n."""
        ...


@runtime_checkable
class ExactRateFn(RateFn, Protocol):
    """A RateFn whose hit count and instants are computed exactly (integer arithmetic)."""

    def count_before(self, t: float) -> int:
        """#{n ≥ 0 : t_n < t} = ⌈H(t)⌉ exactly (t clamped to [0, duration]; t = ∞ allowed)."""
        ...

    def instants_us(self, start: int, stop: int) -> list[int]:
        """[⌊10⁶·t_n⌋ for n in range(start, stop)] exactly; needs 0 ≤ start ≤ stop ≤ total."""
        ...


# ---------------------------------------------------------------------------------------------
# Validation helpers


def _check(value: float, what: str) -> Fraction:
    """The exact value of a finite float ≥ 0, or ValueError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what}: must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what}: must be a finite number >= 0, got {value!r}")
    return Fraction(value)


def stage_pairs(stages: Iterable[object]) -> list[tuple[float, float]]:
    """(duration, target) pairs from `(duration, target)` tuples or objects with those fields."""
    out: list[tuple[float, float]] = []
    for i, st in enumerate(stages):
        if isinstance(st, (tuple, list)):
            if len(st) < 2:
                raise ValueError(f"stages[{i}]: expected (duration, target), got {st!r}")
            out.append((st[0], st[1]))
        else:
            try:
                out.append((st.duration, st.target))  # type: ignore[attr-defined]
            except AttributeError:
                raise ValueError(f"stages[{i}]: expected (duration, target), got {st!r}") from None
    return out


def _ceil(x: Fraction) -> int:
    return -((-x.numerator) // x.denominator)


# ---------------------------------------------------------------------------------------------
# Exact linear pieces


class _Piece:
    """R(t₀+τ) = v₀ + a·τ for τ ∈ [0, d), a = (v₁ − v₀)/d;  H(t₀+τ) = h₀ + v₀·τ + a·τ²/2.

    It holds the hits n ∈ [first, stop) = [⌈h₀⌉, ⌈h₁⌉), h₁ = h₀ + (v₀ + v₁)·d/2. With
    m = n − h₀ the instant solves a·τ²/2 + v₀·τ = m, in µs μ_n = ⌊10⁶·(t₀ + τ)⌋:

    a = 0:  τ = m/v₀, so μ_n = ⌊(A + B·n)/C⌋ with integers A, B, C (scaled by a common K).
    a ≠ 0:  10⁶·t = (P + √Q(n))/a,  P = 10⁶·(t₀·a − v₀),  Q(n) = 10¹²·(v₀² + 2a·(n − h₀)).
            Scaled by K (p = PK, α = aK, q = QK², all integers; s = ⌊√q⌋):
            a > 0:  μ_n = ⌊(p + s)/α⌋              (√q ∈ [s, s+1) cannot cross a multiple of 1/α)
            a < 0:  μ_n = ⌊(−p − ⌈√q⌉)/|α|⌋,  ⌈√q⌉ = ⌊√(q−1)⌋ + 1   (q > 0 inside the piece)
    The root taken, τ = 2m/(v₀ + √(v₀² + 2am)), is the one in [0, d): the first crossing.
    """

    __slots__ = ("t0", "d", "v0", "v1", "a", "h0", "h1", "first", "stop",
                 "t0f", "df", "v0f", "af", "h0f", "h1f", "_lin", "_quad")

    def __init__(self, t0: Fraction, d: Fraction, v0: Fraction, v1: Fraction, h0: Fraction) -> None:
        self.t0, self.d, self.v0, self.v1, self.h0 = t0, d, v0, v1, h0
        self.a = (v1 - v0) / d
        self.h1 = h0 + (v0 + v1) * d / 2
        self.first, self.stop = _ceil(h0), _ceil(self.h1)
        self.t0f, self.df, self.v0f = float(t0), float(d), float(v0)
        self.af, self.h0f, self.h1f = float(self.a), float(h0), float(self.h1)
        self._lin: tuple[int, int, int] | None = None
        self._quad: tuple[int, int, int, int] | None = None
        if self.stop > self.first:
            if self.a == 0:
                x = US_PER_S * (t0 * v0 - h0)          # μ = ⌊(x + 10⁶·n)/v₀⌋
                k = math.lcm(x.denominator, v0.denominator)
                self._lin = (int(x * k), US_PER_S * k, int(v0 * k))
            else:
                p = US_PER_S * (t0 * self.a - v0)
                q0 = US_PER_S**2 * (v0 * v0 - 2 * self.a * h0)
                q1 = 2 * US_PER_S**2 * self.a
                k = math.lcm(p.denominator, self.a.denominator, q0.denominator, q1.denominator)
                self._quad = (int(p * k), int(self.a * k), int(q0 * k * k), int(q1 * k * k))

    # exact ------------------------------------------------------------------------------
    def hits_exact(self, t: Fraction) -> Fraction:
        """H(t) for t in [t₀, t₀ + d]."""
        tau = t - self.t0
        return self.h0 + tau * (self.v0 + self.a * tau / 2)

    def instants_us(self, n0: int, n1: int) -> list[int]:
        """[μ_n for n in range(n0, n1)], first ≤ n0 ≤ n1 ≤ stop."""
        if n1 <= n0:
            return []
        if self._lin is not None:
            a, b, c = self._lin
            if b % c == 0:                      # whole µs per hit: μ_n = ⌊A/C⌋ + (B/C)·n
                step, base = b // c, a // c
                return list(range(base + step * n0, base + step * n1, step))
            return [x // c for x in range(a + b * n0, a + b * n1, b)]
        assert self._quad is not None
        p, alpha, q0, q1 = self._quad
        isqrt = math.isqrt
        qs = range(q0 + q1 * n0, q0 + q1 * n1, q1)
        if alpha > 0:
            return [(p + isqrt(q)) // alpha for q in qs]
        mp1, am = -p - 1, -alpha
        return [(mp1 - isqrt(q - 1)) // am for q in qs]

    # float ------------------------------------------------------------------------------
    def rate_f(self, t: float) -> float:
        return max(0.0, self.v0f + self.af * (t - self.t0f))

    def hits_f(self, t: float) -> float:
        tau = min(max(t - self.t0f, 0.0), self.df)
        return self.h0f + tau * (self.v0f + 0.5 * self.af * tau)

    def time_f(self, n: float) -> float:
        """Stable root τ = 2m/(v₀ + √(v₀² + 2am)) (no cancellation for either sign of a)."""
        m = n - self.h0f
        if m <= 0.0:
            return self.t0f
        if self.af == 0.0:
            tau = m / self.v0f
        else:
            disc = max(0.0, self.v0f * self.v0f + 2.0 * self.af * m)
            den = self.v0f + math.sqrt(disc)
            tau = 2.0 * m / den if den > 0.0 else self.df
        return self.t0f + min(tau, self.df)


class _Pieces:
    """Shared machinery for rate functions made of linear pieces (exact and float)."""

    def __init__(self, start: Fraction, pairs: list[tuple[Fraction, Fraction]]) -> None:
        pieces: list[_Piece] = []
        t, v, h = Fraction(0), start, Fraction(0)
        for d, target in pairs:
            if d > 0:                           # a zero-length stage is a jump of the rate
                piece = _Piece(t, d, v, target, h)
                pieces.append(piece)
                t, h = t + d, piece.h1
            v = target
        self._end = t
        self._total_hits = h
        self.duration = float(t)
        self._pieces = pieces
        self._starts_exact = [p.t0 for p in pieces]
        self._starts_f = [p.t0f for p in pieces]
        self._hit_pieces = [p for p in pieces if p.h1 > p.h0]
        self._hit_starts_f = [p.h0f for p in self._hit_pieces]
        self._total_f = float(h)
        self._total = _ceil(h)
        self._idx_pieces = [p for p in pieces if p.stop > p.first]
        self._idx_firsts = [p.first for p in self._idx_pieces]

    def _piece_at(self, t: float) -> _Piece:
        return self._pieces[max(0, bisect_right(self._starts_f, t) - 1)]

    def rate(self, t: float) -> float:
        if not (0.0 <= t < self.duration) or not self._pieces:
            return 0.0
        return self._piece_at(t).rate_f(t)

    def hits(self, t: float) -> float:
        if t <= 0.0 or not self._pieces:
            return 0.0
        if t >= self.duration:
            return self._total_f
        return self._piece_at(t).hits_f(t)

    def time_of_hit(self, n: float) -> float:
        if math.isnan(n):
            raise ValueError("time_of_hit: n is NaN")
        if n < 0:
            return 0.0
        if n >= self._total_f:
            return math.inf
        i = bisect_right(self._hit_starts_f, n) - 1
        return self._hit_pieces[i].time_f(n)

    def count_before(self, t: float) -> int:
        if math.isnan(t):
            raise ValueError("count_before: t is NaN")
        if t <= 0:
            return 0
        if math.isinf(t):
            return self._total
        x = Fraction(t)
        if x >= self._end:
            return self._total
        piece = self._pieces[bisect_right(self._starts_exact, x) - 1]
        return _ceil(piece.hits_exact(x))

    def instants_us(self, start: int, stop: int) -> list[int]:
        if not 0 <= start <= stop <= self._total:
            raise ValueError(f"instants_us: need 0 <= start <= stop <= {self._total}, got {start}, {stop}")
        out: list[int] = []
        i = bisect_right(self._idx_firsts, start) - 1
        pieces = self._idx_pieces
        while start < stop:
            p = pieces[i]
            end = min(stop, p.stop)
            out += p.instants_us(start, end)
            start, i = end, i + 1
        return out

    def total_hits(self) -> int:
        """⌈H(duration)⌉: how many hits the function holds."""
        return self._total


class Constant(_Pieces):
    """R(t) = r on [0, D);  H(t) = r·t;  t_n = n/r for n < r·D (⌈r·D⌉ hits).

    Instants are μ_n = ⌊10⁶·n/r⌋ computed from n in integers (r's exact binary value),
    never by accumulating 1/r.
    """

    def __init__(self, rate: float, duration: float) -> None:
        r = _check(rate, "rate")
        d = _check(duration, "duration")
        super().__init__(r, [(d, r)])
        self.r = float(rate)

    def __repr__(self) -> str:
        return f"Constant(rate={self.r!r}, duration={self.duration!r})"

    def rate(self, t: float) -> float:
        return self.r if 0.0 <= t < self.duration else 0.0

    def hits(self, t: float) -> float:
        return self.r * min(max(t, 0.0), self.duration)

    def time_of_hit(self, n: float) -> float:
        if math.isnan(n):
            raise ValueError("time_of_hit: n is NaN")
        if n < 0:
            return 0.0
        if n >= self._total_f:
            return math.inf
        return n / self.r


class PiecewiseLinear(_Pieces):
    """k6's ramping-arrival-rate: stages (dᵢ, vᵢ), the rate going linearly from the previous
    target (the first from `start`) to vᵢ over dᵢ seconds; a stage with dᵢ = 0 jumps.

    On stage i, t ∈ [Tᵢ, Tᵢ + dᵢ), τ = t − Tᵢ, aᵢ = (vᵢ − vᵢ₋₁)/dᵢ:
        R(t) = vᵢ₋₁ + aᵢ·τ;   H(t) = Hᵢ + vᵢ₋₁·τ + aᵢ·τ²/2;   Hᵢ₊₁ = Hᵢ + (vᵢ₋₁ + vᵢ)·dᵢ/2.
    Inverse on the stage holding n (Hᵢ ≤ n < Hᵢ₊₁), m = n − Hᵢ:
        aᵢ = 0: τ = m/vᵢ₋₁;   else τ = 2m/(vᵢ₋₁ + √(vᵢ₋₁² + 2aᵢ·m))  (stable for both signs).
    Stages with no hits (0 → 0) are skipped, so a hit never lands inside a zero-rate stretch.
    """

    def __init__(self, start: float, stages: Sequence[tuple[float, float]] | Iterable[object]) -> None:
        pairs = stage_pairs(stages)
        v0 = _check(start, "startRate")
        exact = [(_check(d, f"stages[{i}].duration"), _check(v, f"stages[{i}].target"))
                 for i, (d, v) in enumerate(pairs)]
        super().__init__(v0, exact)
        self.start = float(start)
        self.stages = tuple((float(d), float(v)) for d, v in pairs)

    def __repr__(self) -> str:
        return f"PiecewiseLinear(start={self.start!r}, stages={list(self.stages)!r})"


class LinearPieces(_Pieces):
    """Linear pieces whose breakpoints the caller computed exactly: `start` and [(dᵢ, vᵢ)] as
    in PiecewiseLinear (dᵢ = 0 is a jump), but given as Fractions, so a pattern that repeats
    a piece thousands of times (burst, staircase, chaos) puts the k-th breakpoint at exactly
    k·I instead of at a float sum that drifts. Same math, same exact instants.
    """

    def __init__(self, start: Fraction, pieces: Iterable[tuple[Fraction, Fraction]]) -> None:
        pairs = [(Fraction(d), Fraction(v)) for d, v in pieces]
        if start < 0 or any(d < 0 or v < 0 for d, v in pairs):
            raise ValueError("LinearPieces: durations and rates must be >= 0")
        super().__init__(Fraction(start), pairs)


# ---------------------------------------------------------------------------------------------
# Generic numeric inverse, for shapes without a closed form


def invert_hits(fn: RateFn, n: float, *, tol: float = 1e-12, max_iter: int = 200) -> float:
    """t_n = inf{t : H(t) > n} by safeguarded Newton on f(t) = H(t) − n, f'(t) = R(t).

    Keeps a bracket H(lo) ≤ n < H(hi) and takes the Newton step t − f/R when it stays inside
    the bracket and at least halves the previous step, else bisects (Numerical Recipes'
    rtsafe). Flat stretches (R = 0) bisect towards their right end, as the strict t_n asks.
    Stops when the step or the bracket is below tol·max(1, t). 0 for n < 0, ∞ if H(D) ≤ n.
    """
    if math.isnan(n):
        raise ValueError("invert_hits: n is NaN")
    if n < 0:
        return 0.0
    lo, hi = 0.0, float(fn.duration)
    if not fn.hits(hi) > n:
        return math.inf
    t = 0.5 * (lo + hi)
    dx_old = dx = hi - lo
    for _ in range(max_iter):
        f = fn.hits(t) - n
        if f <= 0.0:
            lo = t
        else:
            hi = t
        r = fn.rate(t)
        newton = t - f / r if r > 0.0 else math.nan
        if not (lo < newton < hi) or abs(2.0 * f) > abs(dx_old * r):
            dx_old, dx = dx, 0.5 * (hi - lo)
            t_new = lo + dx
        else:
            dx_old, dx = dx, newton - t
            t_new = newton
        scale = tol * max(1.0, abs(t_new))
        if abs(dx) <= scale or hi - lo <= scale:
            return t_new if hi - lo > scale else hi
        t = t_new
    return hi
