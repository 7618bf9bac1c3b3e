"""When each scenario runs and what it asks for at time t: pure, `t` in seconds from t0."""

from __future__ import annotations

from lunge_mp.plan import Plan, ScenarioPlan
from lunge_mp.schedule.rates import RateFn
from lunge_mp.schedule.split import split_evenly


def target_vus(s: ScenarioPlan, local: float) -> int:
    """Closed model: VUs the scenario runs `local` seconds after its start (0 outside it)."""
    return 0 if s.is_open else s.target_vus(local)


_RATE_FNS: dict[int, tuple[ScenarioPlan, RateFn]] = {}


def target_rate(s: ScenarioPlan, local: float) -> float:
    """Open model: iterations/s the scenario asks for `local` seconds after its start."""
    if local < 0 or local >= s.length:
        return 0.0
    cached = _RATE_FNS.get(id(s))
    if cached is None or cached[0] is not s:  # building one costs ~0.1 ms: keep it
        cached = _RATE_FNS[id(s)] = (s, s.target_fn())     # with its guardrail cap
    return cached[1].rate(local)


def arrival_processes(plan: Plan, run_id: str) -> dict[str, dict]:
    """Each open scenario's arrival process and seed: its `seed`, else one drawn from the run
    id (reported in results.json, so a run can be repeated with the same instants)."""
    base = int(run_id[:8], 16) if run_id else 0
    out = {}
    for i, s in enumerate(plan.scenarios):
        if s.is_open:
            seed = s.arrival_seed if s.arrival_seed is not None else (base + i) % 2**31
            out[s.name] = {"process": s.arrivals, "seed": seed}
    return out


def vu_shares(plan: Plan, workers: int) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Each worker's share of every open scenario's preAllocatedVUs and maxVUs."""
    pre: dict[str, list[int]] = {}
    mx: dict[str, list[int]] = {}
    for s in plan.scenarios:
        if s.is_open:
            pre[s.name] = split_evenly(s.pre_allocated_vus, workers)
            mx[s.name] = [max(share, 1) for share in split_evenly(max(s.max_vus, s.pre_allocated_vus), workers)]
    return pre, mx


def _targets_at(plan: Plan, starts: dict[str, float | None], t: float) -> tuple[float, float]:
    """Sum of target rates and of target VUs of every started scenario at `t` (from t0)."""
    rate = vus = 0.0
    for s in plan.scenarios:
        started = starts.get(s.name)
        if started is None:
            continue
        if s.is_open:
            rate += target_rate(s, t - started)
        else:
            vus += s.target_vus(t - started)
    return rate, vus


def phase(plan: Plan, starts: dict[str, float | None], t: int, measured_from: float) -> str:
    """The phase of the 1-second bucket starting at `t`: warmup, ramp-up, steady or ramp-down.

    It compares the targets (rate and VUs) near the start and near the end of the second:
    rising is ramp-up, falling (including a scenario ending) is ramp-down, equal is steady,
    no target at all is idle.
    """
    if t < measured_from:
        return "warmup"
    r0, v0 = _targets_at(plan, starts, t + 0.001)
    r1, v1 = _targets_at(plan, starts, t + 0.999)
    if r0 == r1 == v0 == v1 == 0:
        return "idle"
    if r1 > r0 + 1e-9 or v1 > v0:
        return "ramp-up" if r1 >= r0 - 1e-9 and v1 >= v0 else "steady"
    if r1 < r0 - 1e-9 or v1 < v0:
        return "ramp-down"
    return "steady"
