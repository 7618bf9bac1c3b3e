"""`lunge-mp perf --url ...`: command-line flags → a Lunge v2 document. Pure.

The document then goes through the same validation as a file, so every flag error is
reported with the config field it maps to.
"""

from __future__ import annotations

from typing import Any

import yaml


def parse_stages(text: str) -> list[dict[str, Any]]:
    """`30s:10,1m:50,30s:0` → [{duration: 30s, target: 10}, ...]."""
    stages = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        duration, sep, target = part.partition(":")
        if not sep:
            raise ValueError(f"stage '{part}' must be DURATION:TARGET, e.g. 30s:10")
        stages.append({"duration": duration.strip(), "target": _scalar(target)})
    if not stages:
        raise ValueError("no stages given; write them like 30s:10,1m:50,30s:0")
    return stages


def parse_pattern(text: str) -> dict[str, Any]:
    """`sine:baseRate=100,amplitude=50,period=1m,duration=5m` → {type: sine, baseRate: 100, ...}."""
    kind, _, rest = text.partition(":")
    pattern: dict[str, Any] = {"type": kind.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"pattern option '{part}' must be KEY=VALUE, e.g. baseRate=100")
        pattern[key.strip()] = _scalar(value)
    return pattern


def _scalar(text: str) -> Any:
    """`100` → 100, `1m` → "1m", `true` → True: what the same text means in YAML."""
    try:
        return yaml.safe_load(text.strip())
    except yaml.YAMLError:
        return text.strip()


def quick_config(url: str, executor: str | None = None, vus: int | None = None,
                 duration: str | None = None, rate: float | None = None, stages: str | None = None,
                 pre_allocated_vus: int | None = None, max_vus: int | None = None,
                 pattern: str | None = None, method: str = "GET", headers: dict[str, str] | None = None,
                 body: str | None = None, timeout: str | None = None,
                 thresholds: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The document for one scenario named `quick` that sends METHOD URL per iteration.

    Without --executor: --pattern → pattern, --rate → constant-arrival-rate,
    --stages → ramping-vus, else constant-vus (10 VUs for 30 s by default).
    """
    if executor is None:
        executor = ("pattern" if pattern else "constant-arrival-rate" if rate is not None
                    else "ramping-vus" if stages else "constant-vus")
    scenario: dict[str, Any] = {"executor": executor}
    open_model = executor in ("constant-arrival-rate", "ramping-arrival-rate", "pattern")
    if executor in ("constant-vus", "per-vu-iterations", "shared-iterations"):
        scenario["vus"] = vus if vus is not None else 10
    if executor in ("constant-vus", "constant-arrival-rate"):
        scenario["duration"] = duration or "30s"
    if executor == "constant-arrival-rate":
        scenario["rate"] = rate
    if executor in ("ramping-vus", "ramping-arrival-rate"):
        scenario["stages"] = parse_stages(stages) if stages else None
    if executor == "pattern":
        scenario["pattern"] = parse_pattern(pattern) if pattern else None
    if open_model:
        if pre_allocated_vus is not None:
            scenario["preAllocatedVUs"] = pre_allocated_vus
        if max_vus is not None:
            scenario["maxVUs"] = max_vus
    request: dict[str, Any] = {"name": f"{method.upper()} {url}", "method": method, "url": url}
    if headers:
        request["headers"] = headers
    if body is not None:
        request["body"] = body
    if timeout:
        request["timeout"] = timeout
    scenario["requests"] = [request]
    doc: dict[str, Any] = {"name": f"perf {url}", "scenarios": {"quick": scenario}}
    if thresholds:
        doc["thresholds"] = thresholds
    return doc
