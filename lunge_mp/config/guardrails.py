"""`guardrails:` → `plan.Guardrails`, every problem collected with its field path.

```yaml
guardrails:
  maxRate: 20000            # requests/s; a higher open-model target is capped and reported
  maxTotalRequests: 5000000
  maxDuration: 2h
  maxMemoryMB: 4096         # load generator's own memory (RSS of all its processes)
  maxCPUPercent: 95         # load generator's own CPU, averaged over the box
  emergencyStop: true       # a breach stops the run (exit 111); false: only warn
  warnThresholds: {rate: 0.8, memory: 0.8, cpu: 0.7}
  allowedHosts: ["127.0.0.1", "*.staging.example.com", "10.0.0.0/8", "api.example.com:8443"]
  maxQueueDepth: 100000     # a monitored Redis queue's backlog (coordinator/queue_monitor.py)
```

Seed 004 spells the keys in snake_case (`max_rate`, `emergency_stop`, `warn_thresholds`
with `rate_warning` ...); both spellings are accepted, one of each. Omitted keys keep the
defaults of `plan.Guardrails`. Pure: no clock, no network (hosts are only checked for shape).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lunge_mp.analysis.hosts import host_pattern_problem
from lunge_mp import limits
from lunge_mp.config.errors import Errors, describe, index, join
from lunge_mp.config.fields import Fields
from lunge_mp.plan import Guardrails, WarnThresholds

KEYS = ("maxRate", "maxTotalRequests", "maxDuration", "maxMemoryMB", "maxCPUPercent", "emergencyStop",
        "warnThresholds", "allowedHosts", "maxQueueDepth")
WARN_KEYS = ("rate", "memory", "cpu")
#: other spellings (seed 004's snake_case) → the canonical key
ALIASES = {
    "max_rate": "maxRate", "max_total_requests": "maxTotalRequests", "max_duration": "maxDuration",
    "max_memory_mb": "maxMemoryMB", "max_cpu_percent": "maxCPUPercent", "emergency_stop": "emergencyStop",
    "warn_thresholds": "warnThresholds", "allowed_hosts": "allowedHosts", "max_queue_depth": "maxQueueDepth",
    "max_total_jobs": "maxTotalRequests",     # seed 004's name: every job is one request
    "maxMemoryMb": "maxMemoryMB", "maxCpuPercent": "maxCPUPercent",
}
WARN_ALIASES = {"rate_warning": "rate", "memory_warning": "memory", "cpu_warning": "cpu",
                "rateWarning": "rate", "memoryWarning": "memory", "cpuWarning": "cpu"}


def _canonical(m: Mapping[Any, Any], path: str, errs: Errors, aliases: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in m.items():
        if not isinstance(key, str):
            errs.add(join(path, key), f"field names must be strings, got {describe(key)}")
            continue
        name = aliases.get(key, key)
        if name in out:
            errs.add(join(path, key), f"given twice (as '{name}' and '{key}'); keep one")
            continue
        out[name] = value
    return out


def parse_guardrails(m: Mapping[Any, Any] | None, path: str, errs: Errors) -> Guardrails:
    defaults = Guardrails()
    if m is None:
        return defaults
    doc = _canonical(m, path, errs, ALIASES)
    f = Fields(errs, doc, path)
    f.check_keys(KEYS)
    cpu = f.number("maxCPUPercent", defaults.max_cpu_percent, positive=True)
    if isinstance(cpu, float) and cpu > 100:
        f.error("maxCPUPercent", f"must be a percentage of the box's CPU, at most 100, got {cpu:g}")
        cpu = defaults.max_cpu_percent
    return Guardrails(
        max_rate=float(f.number("maxRate", defaults.max_rate, positive=True, bound=limits.RATE)),
        max_total_requests=int(f.int("maxTotalRequests", defaults.max_total_requests, minimum=1,
                                     bound=limits.TOTAL_REQUESTS)),
        max_duration=float(f.duration("maxDuration", defaults.max_duration, positive=True)),
        max_memory_mb=float(f.number("maxMemoryMB", defaults.max_memory_mb, positive=True,
                                     bound=limits.MEMORY_MB)),
        max_cpu_percent=float(cpu),
        emergency_stop=f.bool("emergencyStop", defaults.emergency_stop),
        warn_thresholds=_warn_thresholds(f.mapping("warnThresholds"), join(path, "warnThresholds"), errs),
        allowed_hosts=_allowed_hosts(f.list("allowedHosts"), join(path, "allowedHosts"), errs),
        max_queue_depth=int(f.int("maxQueueDepth", defaults.max_queue_depth, minimum=1)),
    )


def _warn_thresholds(m: Mapping[Any, Any] | None, path: str, errs: Errors) -> WarnThresholds:
    defaults = WarnThresholds()
    if m is None:
        return defaults
    doc = _canonical(m, path, errs, WARN_ALIASES)
    f = Fields(errs, doc, path)
    f.check_keys(WARN_KEYS)
    values = {}
    for key in WARN_KEYS:
        value = f.number(key, getattr(defaults, key), positive=True)
        if value > 1:
            f.error(key, f"must be a fraction of the limit between 0 and 1 (0.8 = 80%), got {value:g}")
            value = getattr(defaults, key)
        values[key] = float(value)
    return WarnThresholds(**values)


def _allowed_hosts(items: list[Any] | None, path: str, errs: Errors) -> tuple[str, ...]:
    if items is None:
        return ()
    out = []
    for i, item in enumerate(items):
        at = index(path, i)
        if not isinstance(item, str) or not item.strip():
            errs.add(at, f"must be a host name, address or pattern such as '*.staging.example.com', "
                         f"got {describe(item)}")
            continue
        problem = host_pattern_problem(item.strip())
        if problem:
            errs.add(at, problem)
            continue
        out.append(item.strip())
    return tuple(out)
