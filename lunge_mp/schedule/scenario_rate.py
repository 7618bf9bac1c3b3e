"""An open-model scenario's rate function: its executor's own, with its guardrail cap. Pure.

The one way to get a scenario's R(t) (time from the scenario's own start). `capped=False`
gives the rate the config asks for, before maxRate's cap (`rate_cap`, set by
analysis/guardrails.apply_caps): the shares of maxRate and a scaled rate start from it.
"""

from __future__ import annotations

from lunge_mp.plan import ScenarioPlan
from lunge_mp.schedule.capped_rate import capped as cap
from lunge_mp.schedule.patterns import pattern_fn
from lunge_mp.schedule.rates import Constant, PiecewiseLinear, RateFn


def rate_fn(scenario: ScenarioPlan, *, capped: bool = True) -> RateFn:
    """The scenario's rate function; with `capped`, limited to its guardrail cap (if any)."""
    fn = _own(scenario)
    return cap(fn, scenario.rate_cap) if capped and scenario.rate_cap else fn


def _own(scenario: ScenarioPlan) -> RateFn:
    ex = scenario.executor
    if ex == "constant-arrival-rate":
        return Constant(scenario.rate, scenario.duration)
    if ex == "ramping-arrival-rate":
        return PiecewiseLinear(scenario.start_rate, [(s.duration, s.target) for s in scenario.stages])
    if ex == "pattern":
        try:
            return pattern_fn(scenario.pattern or {})
        except ValueError as e:
            raise ValueError(f"scenarios.{scenario.name}.{e}") from None
    raise ValueError(f"scenarios.{scenario.name}.executor: {ex!r} is not an arrival-rate executor; "
                     "closed-model scenarios have no rate function")
