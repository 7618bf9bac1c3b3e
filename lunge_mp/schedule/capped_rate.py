"""A rate function capped by `guardrails.maxRate`: R_c(t) = min(R(t), c), H_c(t) = ∫₀ᵗ R_c.

Piecewise-linear functions (Constant, PiecewiseLinear and the piecewise patterns, all built
on `rates._Pieces`) stay exact: a piece (t₀, d, v₀ → v₁) that crosses c is split at

    τ* = (c − v₀)/a,   a = (v₁ − v₀)/d          (a Fraction: inputs are exact binary values)

into a part below c, kept, and a part above c, replaced by the constant c. The result is a
`LinearPieces`, so counts ⌈H_c(t)⌉ and instants are computed in integers as before.

Smooth functions (sine, exponential and logarithmic ramps) get `CappedRate`: the intervals
[aᵢ, bᵢ] where R > c are found on a grid of at least 4096 points (256 per sine period) and
each crossing refined by bisection to 1e-12 s; then

    H_c(t) = H(t) − Σᵢ Eᵢ(t),   Eᵢ(t) = H(min(t, bᵢ)) − H(aᵢ) − c·(min(t, bᵢ) − aᵢ)  for t > aᵢ,

and t_n = inf{t : H_c(t) > n} by the safeguarded Newton of `rates.invert_hits`. An excursion
above c narrower than one grid step (the peak within ~0.01% of c for a sine) is not seen;
its excess is below c·step/1000 hits. Pure.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from fractions import Fraction

from lunge_mp.schedule import rates
from lunge_mp.schedule.rates import LinearPieces, RateFn, invert_hits

GRID_MIN = 4096
GRID_PER_PERIOD = 256
GRID_MAX = 1_000_000
BISECT_ITER = 60


def _pieces(fn: RateFn) -> list | None:
    # _Pieces is the shared base of every exact piecewise function in schedule.rates
    return fn._pieces if isinstance(fn, rates._Pieces) else None   # noqa: SLF001


def peak_rate(fn: RateFn) -> float:
    """max R(t) over [0, D): exact for piecewise functions, closed form for the smooth patterns,
    else the largest of 20,001 samples."""
    pieces = _pieces(fn)
    if pieces is not None:
        return float(max((max(p.v0, p.v1) for p in pieces), default=0))
    if hasattr(fn, "b") and hasattr(fn, "a") and hasattr(fn, "p"):   # Sine: B + A
        return float(fn.b + fn.a)
    if hasattr(fn, "r0") and hasattr(fn, "r1"):                      # monotone ramps
        return float(max(fn.r0, fn.r1))
    d = fn.duration
    n = 20_000
    return max(fn.rate(min(d * i / n, math.nextafter(d, 0.0))) for i in range(n + 1)) if d > 0 else 0.0


def capped(fn: RateFn, cap: float) -> RateFn:
    """min(R, cap) as a RateFn (the same `fn` when it never exceeds the cap)."""
    if cap <= 0 or peak_rate(fn) <= cap:
        return fn
    pieces = _pieces(fn)
    if pieces is not None:
        return _capped_pieces(pieces, Fraction(cap))
    return CappedRate(fn, cap)


def _capped_pieces(pieces: list, c: Fraction) -> LinearPieces:
    out: list[tuple[Fraction, Fraction]] = []
    for p in pieces:
        v0, v1, d = p.v0, p.v1, p.d
        out.append((Fraction(0), min(v0, c)))          # a jump to the piece's capped start
        if (v0 <= c and v1 <= c) or (v0 >= c and v1 >= c):
            out.append((d, min(v1, c)))
            continue
        tau = (c - v0) / ((v1 - v0) / d)               # where the line crosses c, inside (0, d)
        if v0 < c:                                     # rising through c: line, then flat at c
            out += [(tau, c), (d - tau, c)]
        else:                                          # falling through c: flat at c, then line
            out += [(tau, c), (d - tau, v1)]
    return LinearPieces(min(pieces[0].v0, c) if pieces else Fraction(0), out)


class CappedRate:
    """min(R(t), cap) for a smooth RateFn (see the module docstring for the math)."""

    def __init__(self, fn: RateFn, cap: float) -> None:
        self.fn = fn
        self.cap = float(cap)
        self.duration = fn.duration
        self.intervals = _above(fn, self.cap)
        self._starts = [a for a, _ in self.intervals]
        self._cum: list[float] = []          # total excess of intervals before i
        total = 0.0
        for a, b in self.intervals:
            self._cum.append(total)
            total += self._excess(a, b)
        self._total_excess = total

    def __repr__(self) -> str:
        return f"CappedRate({self.fn!r}, cap={self.cap!r})"

    def _excess(self, a: float, x: float) -> float:
        return max(0.0, self.fn.hits(x) - self.fn.hits(a) - self.cap * (x - a))

    def rate(self, t: float) -> float:
        return min(self.fn.rate(t), self.cap)

    def hits(self, t: float) -> float:
        t = min(max(t, 0.0), self.duration)
        i = bisect_right(self._starts, t) - 1
        if i < 0:
            return self.fn.hits(t)
        a, b = self.intervals[i]
        excess = self._cum[i] + self._excess(a, min(t, b))
        return max(0.0, self.fn.hits(t) - excess)

    def time_of_hit(self, n: float) -> float:
        return invert_hits(self, n)


def _above(fn: RateFn, cap: float) -> list[tuple[float, float]]:
    """The intervals of [0, D] where R(t) > cap."""
    d = fn.duration
    if d <= 0:
        return []
    steps = GRID_MIN
    period = getattr(fn, "p", None)
    if isinstance(period, (int, float)) and period > 0:
        steps = max(steps, math.ceil(d / period * GRID_PER_PERIOD))
    steps = min(steps, GRID_MAX)
    last = math.nextafter(d, 0.0)

    def over(t: float) -> bool:
        return fn.rate(min(t, last)) > cap

    def crossing(lo: float, hi: float, rising: bool) -> float:
        for _ in range(BISECT_ITER):
            mid = 0.5 * (lo + hi)
            if over(mid) == rising:
                hi = mid
            else:
                lo = mid
            if hi - lo <= 1e-12 * max(1.0, hi):
                break
        return hi

    out: list[tuple[float, float]] = []
    start = 0.0 if over(0.0) else None
    prev_t, prev = 0.0, start is not None
    for i in range(1, steps + 1):
        t = d * i / steps
        now = over(t)
        if now and not prev:
            start = crossing(prev_t, t, True)
        elif prev and not now and start is not None:
            out.append((start, crossing(prev_t, t, False)))
            start = None
        prev_t, prev = t, now
    if start is not None:
        out.append((start, d))
    return out
