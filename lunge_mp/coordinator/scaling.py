"""Scaling a running scenario (the run loop applies it; see coordinator/control.py).

- a time-based closed scenario scales as its executor says (`scaled`): constant-vus runs
  `vus` VUs from now on (a factor multiplies its VUs); ramping-vus multiplies its start and
  stage targets by the factor (or by vus / the current target), so the ramp keeps its shape;
- an iteration-based one cannot be scaled;
- open model: from the horizon already dealt on, the rate is the scenario's rate times the
  factor (`rate` gives the factor as rate / the current target). The arrival schedule stays
  exact before that instant and continues from the same arrival index, and the scenario's
  guardrail cap (maxRate) still caps the scaled rate.
"""

from __future__ import annotations

import math

from lunge_mp.coordinator.dealing import LOOKAHEAD_S
from lunge_mp.schedule.arrivals import ArrivalClock
from lunge_mp.schedule.capped_rate import capped

MAX_FACTOR = 1000.0


class ScaledFrom:
    """R(t) before `at`, factor·R(t) from `at` on: a RateFn (schedule/rates.py)."""

    def __init__(self, fn, at: float, factor: float) -> None:
        self.fn, self.at, self.factor = fn, at, factor
        self.duration = fn.duration
        self._h_at = fn.hits(at)

    def rate(self, t: float) -> float:
        r = self.fn.rate(t)
        return r if t < self.at else r * self.factor

    def hits(self, t: float) -> float:
        h = self.fn.hits(t)
        return h if t <= self.at else self._h_at + self.factor * (h - self._h_at)

    def time_of_hit(self, n: float) -> float:
        if n < self._h_at:
            return self.fn.time_of_hit(n)
        return self.fn.time_of_hit(self._h_at + (n - self._h_at) / self.factor)


def scale(core, t: float, name: str, vus: int | None, factor: float | None,
          rate: float | None = None) -> tuple[str, dict]:
    """("ok", what changed) or (why not, {})."""
    if name not in core.lifecycle.states or name not in {s.name for s in core.plan.scenarios}:
        return f"no scenario named '{name}'", {}
    st = core.lifecycle.state(name)
    s = st.plan
    if s.iteration_based:
        return f"scenario {name} is iteration-based ({s.executor}): it has no VU count or rate to scale", {}
    if sum(x is not None for x in (vus, factor, rate)) != 1:
        return "give one of vus, rate or factor", {}
    local = t - (st.started_at if st.started_at is not None else t)
    if s.is_open:
        if vus is not None:
            return f"scenario {name} is open-model ({s.executor}): scale its rate (rate or factor), not vus", {}
        return _scale_open(core, s, max(0.0, local), factor, rate)
    if rate is not None:
        return f"scenario {name} is closed-model ({s.executor}): scale its VUs (vus or factor), not its rate", {}
    now_vus = s.target_vus(local)
    if factor is None:
        factor = vus / now_vus if now_vus else None
    if factor is not None and not 0 <= factor <= MAX_FACTOR:
        return f"factor must be between 0 and {MAX_FACTOR:g}", {}
    scaled = s.scaled(factor, vus, local)   # (the new plan, what changed); None: it needs a factor
    if scaled is None:
        return f"scenario {name} runs 0 VUs now: give a factor", {}
    st.plan, changed = scaled
    core.vus_sent.pop(name, None)
    return "ok", {**changed, "was": changed.get("was", now_vus)}


def _scale_open(core, s, local: float, factor: float | None, rate: float | None) -> tuple[str, dict]:
    clock = core.clocks.get(s.name)
    if clock is None:
        return f"scenario {s.name} has no arrival schedule", {}
    base = core.control.base_fns.get(s.name) or s.rate_fn()
    started = core.lifecycle.state(s.name).started_at is not None
    at = max(local + LOOKAHEAD_S, core.dealer.dealt_until(s.name)) if started else 0.0   # after what is dealt
    if rate is not None:         # the rate asked for now: a factor over the (uncapped) rate at `at`
        now = base.rate(at)
        if now <= 0:
            return f"scenario {s.name} asks for 0 iterations/s now: give a factor", {}
        factor = rate / now
    if factor is None or not 0 < factor <= MAX_FACTOR or math.isnan(factor):
        return f"factor must be above 0 and at most {MAX_FACTOR:g} (pause to send nothing)", {}
    scaled = ScaledFrom(base, at, factor)
    core.control.base_fns[s.name] = scaled
    new = ArrivalClock(capped(scaled, s.rate_cap) if s.rate_cap else scaled)
    # the new clock continues the old one: the same arrivals before `at`, none handed out twice
    new._next, new._last_us = clock._next, clock._last_us   # noqa: SLF001
    core.clocks[s.name] = new
    total = core.control.scale_factors.get(s.name, 1.0) * factor
    core.control.scale_factors = {**core.control.scale_factors, s.name: total}
    return "ok", {"factor": round(factor, 6), "totalFactor": round(total, 6),
                  "rate": round(new.fn.rate(at), 3), "capped": bool(s.rate_cap)}
