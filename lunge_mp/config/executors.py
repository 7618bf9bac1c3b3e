"""Executor-specific scenario keys → the fields of that executor's Struct
(lunge_mp/executors/), one small function per executor, registered with its keys in ENTRIES.

| executor              | keys (required in *bold* terms below)                         |
|-----------------------|---------------------------------------------------------------|
| constant-vus          | vus > 0, duration > 0                                         |
| ramping-vus           | stages (non-empty, target = VUs), startVUs >= 0               |
| per-vu-iterations     | vus > 0, iterations > 0 (each), maxDuration (default 10m)     |
| shared-iterations     | vus > 0, iterations > 0 (total), maxDuration (default 10m)    |
| constant-arrival-rate | rate > 0, duration > 0, timeUnit, preAllocatedVUs, maxVUs     |
| ramping-arrival-rate  | stages (target = rate), startRate, timeUnit, preAllocatedVUs, maxVUs |
| pattern               | pattern, preAllocatedVUs, maxVUs                              |

Every open-model executor also takes `arrivals` (constant, the default | poisson | uniform)
and `seed` (an integer, for the random ones; left out, each run draws one and reports it).

Rates are stored per second: `rate: 600, timeUnit: 1m` becomes 10/s (k6's timeUnit).
Open-model VU pools: preAllocatedVUs defaults to 10, maxVUs to max(preAllocatedVUs, 100);
maxVUs below preAllocatedVUs is an error (k6 refuses it too). A stage list's length is the
sum of its stages (the executor computes it). A zero-length stage is allowed (an instant step, as in k6); a zero total is not.
shared-iterations does not require iterations >= vus: the extra VUs simply find no work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lunge_mp import limits
from lunge_mp.config.errors import Errors, describe, index
from lunge_mp.config.fields import Fields
from lunge_mp.config.patterns import parse_pattern
from lunge_mp.plan import Stage
from lunge_mp.schedule.random_arrivals import PROCESSES as ARRIVAL_PROCESSES

DEFAULT_MAX_DURATION = 600.0
DEFAULT_PRE_ALLOCATED_VUS = 10
DEFAULT_MAX_VUS = 100

_POOL = ("preAllocatedVUs", "maxVUs", "arrivals", "seed")   # every open-model executor

def _required(executor: str) -> str:
    return f"required for executor '{executor}'"


def constant_vus(f: Fields, executor: str) -> dict[str, Any]:
    return {
        "vus": f.int("vus", 0, required=_required(executor), minimum=1, bound=limits.VUS),
        "duration": f.duration("duration", 0.0, required=_required(executor), positive=True),
    }


def ramping_vus(f: Fields, executor: str) -> dict[str, Any]:
    stages = _stages(f, executor, integer_targets=True, unit=1.0)
    return {
        "start_vus": f.int("startVUs", 0, minimum=0, bound=limits.VUS),
        "stages": stages,
    }


def iterations(f: Fields, executor: str) -> dict[str, Any]:
    return {
        "vus": f.int("vus", 0, required=_required(executor), minimum=1, bound=limits.VUS),
        "iterations": f.int("iterations", 0, required=_required(executor), minimum=1,
                            bound=limits.ITERATIONS),
        "max_duration": f.duration("maxDuration", DEFAULT_MAX_DURATION, positive=True),
    }


def constant_arrival_rate(f: Fields, executor: str) -> dict[str, Any]:
    unit = _time_unit(f)
    rate = f.number("rate", 0.0, required=_required(executor) + " (iterations per timeUnit, default 1s)",
                    positive=True)
    return {
        "rate": _per_second(f, "rate", rate, unit),
        "duration": f.duration("duration", 0.0, required=_required(executor), positive=True),
        **_pool(f),
    }


def ramping_arrival_rate(f: Fields, executor: str) -> dict[str, Any]:
    unit = _time_unit(f)
    stages = _stages(f, executor, integer_targets=False, unit=unit)
    return {
        "start_rate": _per_second(f, "startRate", f.number("startRate", 0.0, minimum=0), unit),
        "stages": stages,
        **_pool(f),
    }


def pattern(f: Fields, executor: str) -> dict[str, Any]:
    spec = None
    if f.has("pattern"):
        spec = parse_pattern(f.raw("pattern"), f.at("pattern"), f.errs)
    else:
        f.error("pattern", _required(executor) + ", e.g. pattern: {type: sine, duration: 5m, "
                           "baseRate: 100, amplitude: 50, period: 1m}")
    return {"pattern": spec, **_pool(f)}


Parser = Callable[[Fields, str], dict[str, Any]]

#: one entry per executor (lunge_mp/executors/): its keys, and the parser that reads them into
#: the fields of its Struct
ENTRIES: dict[str, tuple[tuple[str, ...], Parser]] = {
    "constant-vus": (("vus", "duration"), constant_vus),
    "ramping-vus": (("stages", "startVUs"), ramping_vus),
    "per-vu-iterations": (("vus", "iterations", "maxDuration"), iterations),
    "shared-iterations": (("vus", "iterations", "maxDuration"), iterations),
    "constant-arrival-rate": (("rate", "timeUnit", "duration", *_POOL), constant_arrival_rate),
    "ramping-arrival-rate": (("stages", "startRate", "timeUnit", *_POOL), ramping_arrival_rate),
    "pattern": (("pattern", *_POOL), pattern),
}
EXECUTOR_KEYS: dict[str, tuple[str, ...]] = {name: keys for name, (keys, _) in ENTRIES.items()}
PARSERS: dict[str, Parser] = {name: parse for name, (_, parse) in ENTRIES.items()}
ALL_EXECUTOR_KEYS = tuple(dict.fromkeys(k for keys in EXECUTOR_KEYS.values() for k in keys))


# -- shared pieces ------------------------------------------------------------------------------

def _time_unit(f: Fields) -> float:
    return f.duration("timeUnit", 1.0, positive=True)


def _per_second(f: Fields, key: str, rate: float, unit: float) -> float:
    """`rate` per timeUnit as a rate per second, held to limits.RATE (0.0 when over it)."""
    problem = limits.RATE.problem(rate / unit, "/s")
    if problem:
        f.error(key, problem)
        return 0.0
    return rate / unit


def _pool(f: Fields) -> dict[str, Any]:
    """The keys every open-model executor has: its VU pool, and how arrivals are spread
    (`arrivals: constant | poisson | uniform`, `seed` for the random ones)."""
    pre = f.int("preAllocatedVUs", DEFAULT_PRE_ALLOCATED_VUS, minimum=0, bound=limits.VUS)
    max_vus = f.int("maxVUs", max(pre, DEFAULT_MAX_VUS), minimum=1, bound=limits.VUS)
    if max_vus < pre:
        f.error("maxVUs", f"must be >= preAllocatedVUs ({pre}); raise maxVUs or lower preAllocatedVUs")
    arrivals = f.str("arrivals", "constant", choices=ARRIVAL_PROCESSES)
    seed = f.int("seed", None, minimum=0)
    return {"pre_allocated_vus": pre, "max_vus": max_vus, "arrivals": arrivals, "arrival_seed": seed}


def _stages(f: Fields, executor: str, *, integer_targets: bool, unit: float) -> tuple[Stage, ...]:
    what = "VUs" if integer_targets else "iterations per timeUnit"
    items = f.list("stages", required=f"{_required(executor)}: a list of {{duration, target}} "
                   f"(target = {what})", nonempty=True)
    if items is None:
        return ()
    out = []
    for i, item in enumerate(items):
        stage = _stage(item, index(f.at("stages"), i), f.errs, integer_targets, unit)
        if stage is not None:
            out.append(stage)
    if len(out) == len(items) and sum(s.duration for s in out) <= 0:
        f.error("stages", "total duration must be > 0")
    return tuple(out)


def _stage(value: object, path: str, errs: Errors, integer_targets: bool, unit: float) -> Stage | None:
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping like {{duration: 30s, target: 10}}, got {describe(value)}")
        return None
    before = len(errs)
    f = Fields(errs, value, path)
    f.check_keys(("duration", "target", "name"))
    duration = f.duration("duration", required=True)
    if integer_targets:
        target: Any = f.int("target", required=True, minimum=0, bound=limits.VUS)
    else:
        target = f.number("target", required=True, minimum=0)
        if target is not None:
            problem = limits.RATE.problem(target / unit, "/s")
            if problem:
                f.error("target", problem)
    name = f.str("name", "")
    if len(errs) > before:
        return None
    return Stage(duration=duration, target=float(target) / unit, name=name)
