"""When each scenario runs and what it asks for at time t: pure, `t` in seconds from t0."""

from __future__ import annotations

from lunge_mp.plan import Plan, ScenarioPlan
from lunge_mp.schedule.rates import RateFn, rate_fn_for
from lunge_mp.schedule.split import split_evenly, vus_at

SUPPORTED = ("constant-vus", "ramping-vus", "per-vu-iterations", "shared-iterations",
             "constant-arrival-rate", "ramping-arrival-rate")


def unsupported(plan: Plan) -> list[str]:
    """Errors for executors this version cannot run yet (checked before any traffic)."""
    return [
        f"scenarios.{s.name}.executor: '{s.executor}' is not supported by this version yet; "
        f"use one of {', '.join(SUPPORTED)}"
        for s in plan.scenarios if s.executor not in SUPPORTED
    ]


def target_vus(s: ScenarioPlan, local: float) -> int:
    """Closed model: VUs the scenario runs `local` seconds after its start (0 outside it)."""
    if local < 0 or (s.duration and local >= s.duration):
        return 0
    if s.executor == "ramping-vus":
        return vus_at(s.start_vus, [(st.duration, st.target) for st in s.stages], local)
    return s.vus


_RATE_FNS: dict[int, tuple[ScenarioPlan, RateFn]] = {}


def target_rate(s: ScenarioPlan, local: float) -> float:
    """Open model: iterations/s the scenario asks for `local` seconds after its start."""
    if local < 0 or local >= s.duration:
        return 0.0
    cached = _RATE_FNS.get(id(s))
    if cached is None or cached[0] is not s:  # building one costs ~0.1 ms: keep it
        cached = _RATE_FNS[id(s)] = (s, rate_fn_for(s))
    return cached[1].rate(local)


def iteration_shares(total: int, vus: list[int]) -> list[int]:
    """shared-iterations: split `total` over workers in proportion to their VUs, exactly.

    Largest remainder: floor shares first, then one more each to the largest fractions.
    """
    all_vus = sum(vus)
    if all_vus == 0:
        return [0] * len(vus)
    exact = [total * v / all_vus for v in vus]
    shares = [int(x) for x in exact]
    by_fraction = sorted(range(len(vus)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_fraction[: total - sum(shares)]:
        shares[i] += 1
    return shares


def vu_shares(plan: Plan, workers: int) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Each worker's share of every open scenario's preAllocatedVUs and maxVUs."""
    pre: dict[str, list[int]] = {}
    mx: dict[str, list[int]] = {}
    for s in plan.scenarios:
        if s.is_open:
            pre[s.name] = split_evenly(s.pre_allocated_vus, workers)
            mx[s.name] = [max(share, 1) for share in split_evenly(max(s.max_vus, s.pre_allocated_vus), workers)]
    return pre, mx
