"""Arrival instants of an open-model scenario, handed out in time order.

Arrival n (n = 0, 1, 2, ...) happens at t_n = inf{t : H(t) > n} (see `rates`), so

    arrivals with t_n < T   = ⌈H(min(T, D))⌉            (T clamped at 0),
    arrivals in [a, b)      = ⌈H(b)⌉ − ⌈H(a)⌉            (the integral ∫ₐᵇ R within ±1),
    arrivals in the run     = ⌈H(D)⌉,

and instants are reported as μ_n = ⌊10⁶·t_n⌋ integer microseconds from scenario start.
For an `ExactRateFn` (Constant, PiecewiseLinear) both the counts and μ_n are exact; for any
other RateFn they come from its float `hits` and `time_of_hit` (μ_n kept non-decreasing).

Pure: time is always an argument, nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from lunge_mp.schedule.rates import US_PER_S, ExactRateFn, RateFn


class ArrivalClock:
    """Hands out the arrivals of one rate function in order, each exactly once.

    `take_until(T)` returns μ_n for every not-yet-taken n with t_n < T (and t_n < D): the
    indices [next_index, ⌈H(T)⌉). Each μ_n is computed from n alone (never accumulated), so
    any sequence of calls with growing T yields the same instants as one call.
    """

    __slots__ = ("_fn", "_next", "_total", "_count_before", "_instants", "_last_us")

    def __init__(self, fn: RateFn) -> None:
        self._fn = fn
        self._next = 0
        self._last_us = 0
        self._count_before: Callable[[float], int]
        self._instants: Callable[[int, int], list[int]]
        if isinstance(fn, ExactRateFn):
            self._count_before = fn.count_before
            self._instants = fn.instants_us
        else:
            self._count_before = self._generic_count_before
            self._instants = self._generic_instants
        self._total = self._count_before(math.inf)

    @property
    def fn(self) -> RateFn:
        return self._fn

    @property
    def next_index(self) -> int:
        """How many arrivals were taken so far (= the index of the next one)."""
        return self._next

    @property
    def done(self) -> bool:
        """No arrival is left."""
        return self._next >= self._total

    def total_expected(self) -> int:
        """⌈H(D)⌉: every arrival this clock will ever hand out."""
        return self._total

    def take_until(self, t_end: float) -> list[int]:
        """μ_n (µs, non-decreasing) of the not-yet-taken arrivals with t_n < t_end."""
        if math.isnan(t_end):
            raise ValueError("take_until: t_end is NaN")
        stop = min(self._count_before(t_end), self._total)
        if stop <= self._next:
            return []
        out = self._instants(self._next, stop)
        self._next = stop
        return out

    # fallback for RateFns without exact arithmetic ----------------------------------------
    def _generic_count_before(self, t: float) -> int:
        """⌈H(t)⌉ from the float H."""
        if t <= 0:
            return 0
        return math.ceil(self._fn.hits(min(t, self._fn.duration)))

    def _generic_instants(self, start: int, stop: int) -> list[int]:
        """⌊10⁶·time_of_hit(n)⌋, clamped to stay non-decreasing and below 10⁶·D."""
        toh = self._fn.time_of_hit
        cap = max(0, math.ceil(self._fn.duration * US_PER_S) - 1)
        last = self._last_us
        out: list[int] = []
        for n in range(start, stop):
            t = toh(n)
            us = cap if math.isinf(t) else min(cap, max(last, math.floor(t * US_PER_S)))
            out.append(us)
            last = us
        self._last_us = last
        return out
