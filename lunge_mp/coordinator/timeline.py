"""When each scenario runs and what it asks for at time t: pure, `t` in seconds from t0."""

from __future__ import annotations

from lunge_mp.plan import Plan, ScenarioPlan
from lunge_mp.schedule.rates import RateFn, rate_fn_for
from lunge_mp.schedule.split import split_evenly, vus_at

SUPPORTED = ("constant-vus", "ramping-vus", "constant-arrival-rate", "ramping-arrival-rate")


def unsupported(plan: Plan) -> list[str]:
    """Errors for executors this version cannot run yet (checked before any traffic)."""
    return [
        f"scenarios.{s.name}.executor: '{s.executor}' is not supported by this version yet; "
        f"use one of {', '.join(SUPPORTED)}"
        for s in plan.scenarios if s.executor not in SUPPORTED
    ]


def scenario_end(s: ScenarioPlan) -> float:
    return s.start_time + s.duration


def run_end(plan: Plan) -> float:
    """When the last scenario stops starting iterations (graceful stops come after)."""
    return max(scenario_end(s) for s in plan.scenarios)


def longest_graceful_stop(plan: Plan) -> float:
    return max(s.graceful_stop for s in plan.scenarios)


def target_vus(s: ScenarioPlan, t: float) -> int:
    """Closed model: VUs the scenario should run at `t` (0 outside its window)."""
    local = t - s.start_time
    if local < 0 or local >= s.duration:
        return 0
    if s.executor == "ramping-vus":
        return vus_at(s.start_vus, [(st.duration, st.target) for st in s.stages], local)
    return s.vus


_RATE_FNS: dict[int, tuple[ScenarioPlan, RateFn]] = {}


def target_rate(s: ScenarioPlan, t: float) -> float:
    """Open model: iterations/s the scenario asks for at `t` (for the live view and buckets)."""
    local = t - s.start_time
    if local < 0 or local >= s.duration:
        return 0.0
    cached = _RATE_FNS.get(id(s))
    if cached is None or cached[0] is not s:  # building one costs ~0.1 ms: keep it
        cached = _RATE_FNS[id(s)] = (s, rate_fn_for(s))
    return cached[1].rate(local)


def vu_shares(plan: Plan, workers: int) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Each worker's share of every open scenario's preAllocatedVUs and maxVUs."""
    pre: dict[str, list[int]] = {}
    mx: dict[str, list[int]] = {}
    for s in plan.scenarios:
        if s.is_open:
            pre[s.name] = split_evenly(s.pre_allocated_vus, workers)
            mx[s.name] = [max(share, 1) for share in split_evenly(max(s.max_vus, s.pre_allocated_vus), workers)]
    return pre, mx
