"""Randomised arrival instants for the open model: `arrivals: poisson` or `uniform`. Pure.

The deterministic schedule puts arrival n at t_n = inf{t : H(t) > n} (arrivals.py), i.e. at
the integer points n of the "hits" axis x = H(t). Randomised schedules place arrivals at
random points x_k of that axis and map them back through the rate function, t = H⁻¹(x)
(`RateFn.time_of_hit`), so the rate shape (stages, patterns, guardrail caps) is kept:

- `poisson`: x_k = E_0 + … + E_k with E_i ~ Exp(1). By the time-rescaling theorem this is a
  Poisson process of intensity R(t): gaps are exponential at a constant rate, the count in
  any window [a, b) is Poisson with mean H(b) − H(a), so the expected rate equals the
  deterministic schedule's; the total over the run is random (mean H(D)).
- `uniform`: x_k = k + U_k·w_k with U_k ~ U[0, 1): each arrival jittered uniformly within its
  own unit of H (w_k = min(1, H(D) − k) for the last, partial one). The count is exactly
  ⌈H(D)⌉, as deterministic, and arrivals never swap places; only their instants move (by
  less than one mean gap).

Seeded: the same `seed` and rate function give the same instants, however the arrivals are
taken (in one call or many) and over however many workers (the coordinator draws them).
`RandomArrivalClock` has `ArrivalClock`'s interface.
"""

from __future__ import annotations

import math
import random

from lunge_mp.schedule.arrivals import ArrivalClock
from lunge_mp.schedule.rates import US_PER_S, RateFn

PROCESSES = ("constant", "poisson", "uniform")


class RandomArrivalClock:
    """Arrivals of `fn` at random points of its hits axis (module docstring), in order."""

    __slots__ = ("_fn", "_process", "_rng", "_h_end", "_next", "_x", "_last_us", "_cap_us", "_units")

    def __init__(self, fn: RateFn, process: str, seed: int) -> None:
        if process not in ("poisson", "uniform"):
            raise ValueError(f"unknown arrival process {process!r}")
        self._fn = fn
        self._process = process
        self._rng = random.Random(seed)
        self._h_end = fn.hits(fn.duration)
        self._units = math.ceil(self._h_end)          # uniform: one arrival per unit of H
        self._next = 0
        self._last_us = 0
        self._cap_us = max(0, math.ceil(fn.duration * US_PER_S) - 1)
        self._x = self._draw()

    @property
    def fn(self) -> RateFn:
        return self._fn

    @property
    def next_index(self) -> int:
        return self._next

    @property
    def done(self) -> bool:
        return self._x >= self._h_end

    def total_expected(self) -> int:
        """⌈H(D)⌉: the mean (poisson) or exact (uniform) number of arrivals."""
        return self._units

    def _draw(self) -> float:
        """The hits-axis position of arrival `_next`."""
        k = self._next
        if self._process == "poisson":
            prev = self._x if k else 0.0
            return prev + self._rng.expovariate(1.0)
        if k >= self._units:
            return math.inf
        return k + self._rng.random() * min(1.0, self._h_end - k)

    def take_until(self, t_end: float) -> list[int]:
        """µs instants (non-decreasing) of the not-yet-taken arrivals before `t_end`."""
        if math.isnan(t_end):
            raise ValueError("take_until: t_end is NaN")
        if t_end <= 0:
            return []
        limit = self._h_end if t_end >= self._fn.duration else min(self._h_end, self._fn.hits(t_end))
        out: list[int] = []
        toh, last, cap = self._fn.time_of_hit, self._last_us, self._cap_us
        while self._x < limit:
            t = toh(self._x)
            us = cap if math.isinf(t) else min(cap, max(last, math.floor(t * US_PER_S)))
            out.append(us)
            last = us
            self._next += 1
            self._x = self._draw()
        self._last_us = last
        return out


def clock_for(fn: RateFn, process: str = "constant", seed: int = 0) -> ArrivalClock | RandomArrivalClock:
    """The arrival clock of an open scenario: deterministic (`constant`) or randomised."""
    if process == "constant":
        return ArrivalClock(fn)
    return RandomArrivalClock(fn, process, seed)
