"""Warmup: a short run of every scenario's requests before the measured test. Pure.

`options.warmup: {duration, rate | vus}` becomes one extra scenario per scenario, named
`warmup:<name>` (as results.json shows it) with `warmup_of` = <name>, running that scenario's requests at an even share of the warmup rate (or
VUs) from t0. Their metrics go to a separate aggregate, so totals and thresholds never see
them. The measured test starts at a whole second, `offset` = ⌈duration⌉ + 1 s, after the
warmup's last iterations have had a 1 s graceful stop — so the phases never overlap and
1-second buckets stay aligned. Connections opened and DNS answers cached by the warmup stay
in each worker's pool for the test.
"""

from __future__ import annotations

import math

import msgspec

from lunge_mp.executors import ConstantArrivalRate, ConstantVUs
from lunge_mp.plan import Plan, ScenarioPlan
from lunge_mp.schedule.split import split_evenly

PREFIX = "warmup:"
GRACE_S = 1.0


def offset(plan: Plan) -> float:
    """Seconds from t0 to the measured test's start (0 without a warmup)."""
    w = plan.options.warmup
    return 0.0 if w is None else float(math.ceil(w.duration) + GRACE_S)


def scenarios(plan: Plan) -> tuple[ScenarioPlan, ...]:
    w = plan.options.warmup
    if w is None:
        return ()
    out = []
    n = len(plan.scenarios)
    vus = split_evenly(w.vus, n) if w.vus else [0] * n
    for s, share in zip(plan.scenarios, vus):
        common = dict(name=PREFIX + s.name, warmup_of=s.name, requests=s.requests, duration=w.duration, start_time=0.0,
                      graceful_stop=GRACE_S, graceful_ramp_down=s.graceful_ramp_down, pacing=s.pacing,
                      tags=s.tags, data=s.data)
        if w.rate:
            pre, most = (s.pre_allocated_vus, s.max_vus) if s.is_open else (0, 0)
            arrivals = dict(arrivals=s.arrivals, arrival_seed=s.arrival_seed, rate_cap=s.rate_cap) \
                if s.is_open else {}
            pool = max(pre, 10)
            out.append(ConstantArrivalRate(rate=w.rate / n, pre_allocated_vus=pool, max_vus=max(most, pool, 100),
                                           **arrivals, **common))
        elif share:
            out.append(ConstantVUs(vus=share, **common))
    return tuple(out)


def names(plan: Plan) -> frozenset[str]:
    """The warmup copies among `plan`'s scenarios (a worker plan: `with_warmup`)."""
    return frozenset(s.name for s in plan.scenarios if s.warmup_of)


def with_warmup(plan: Plan) -> Plan:
    """The plan workers run: warmup scenarios first, then the test's own."""
    extra = scenarios(plan)
    return msgspec.structs.replace(plan, scenarios=extra + plan.scenarios) if extra else plan
