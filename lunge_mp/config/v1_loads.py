"""A v1 performance test's `load` and `thresholds` → the v2 scenario, warmup and thresholds. Pure.

The translation table is in v1.py's docstring (and docs/CONFIG.md, "Lunge v1 files"); this
module validates the load values (from the file or the perf flags, each with its own field
path or flag name) and builds the v2 scenario fields from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lunge_mp import limits
from lunge_mp.suggest import suggest
from lunge_mp.units import parse_duration
from lunge_mp.config.errors import Errors, describe
from lunge_mp.config.fields import Fields, as_int, as_number

LOAD_KEYS = ("concurrency", "duration", "rps", "rampUp", "rampDown", "iterations", "warmup")
WARMUP_KEYS = ("duration", "rps", "concurrency")
THRESHOLD_KEYS = ("maxResponseTime", "maxErrorRate", "minThroughput")
# load key → the perf flag that overrides it
FLAGS = {"concurrency": "--concurrency", "duration": "--duration", "rps": "--rps", "rampUp": "--ramp-up",
         "rampDown": "--ramp-down", "iterations": "--iterations"}
DEFAULT_CONCURRENCY = 10
DEFAULT_DURATION = 30.0


# -- load ---------------------------------------------------------------------------------------

def check_load(values: Mapping[str, tuple[Any, str]], errs: Errors, path: str) -> dict[str, Any]:
    """Validated load values: key → (value, field path or flag) in, key → value out."""
    out: dict[str, Any] = {}
    for key, (value, at) in values.items():
        if key not in LOAD_KEYS:
            hint = suggest(str(key), LOAD_KEYS)
            errs.add(at, "unknown field" + (f"; did you mean '{hint}'?" if hint else f"; known fields: "
                                                                                      f"{', '.join(LOAD_KEYS)}"))
            continue
        if value is None:
            continue
        if key in ("concurrency", "iterations"):
            n = as_int(value)
            if n is None or n < 1:
                errs.add(at, f"must be a whole number > 0, got {describe(value)}")
                continue
            too_big = (limits.VUS if key == "concurrency" else limits.ITERATIONS).problem(n)
            if too_big:
                errs.add(at, too_big)
                continue
            out[key] = n
        elif key == "rps":
            n = as_number(value)
            if n is None or n <= 0:
                errs.add(at, f"must be a number of requests per second > 0, got {describe(value)}")
                continue
            if limits.RATE.problem(n, "/s"):
                errs.add(at, limits.RATE.problem(n, "/s"))   # type: ignore[arg-type]
                continue
            out[key] = n
        elif key == "warmup":
            w = _warmup(value, at, errs)
            if w is not None:
                out[key] = w
        else:
            seconds = _seconds(value, at, errs, positive=key == "duration")
            if seconds is not None:
                out[key] = seconds
    return out


def _seconds(value: object, at: str, errs: Errors, positive: bool = False) -> float | None:
    try:
        seconds = parse_duration(value)
    except ValueError as e:
        errs.add(at, str(e))
        return None
    if positive and seconds <= 0:
        errs.add(at, "must be > 0")
        return None
    return seconds


def _warmup(value: object, path: str, errs: Errors) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping like {{\"duration\": \"10s\"}}, got {describe(value)}")
        return None
    f = Fields(errs, value, path)
    f.check_keys(WARMUP_KEYS)
    before = len(errs)
    duration = f.duration("duration", None, required="required: how long to warm up, e.g. \"10s\"",
                          positive=True)
    out = {"duration": duration, "rps": f.number("rps", None, positive=True, bound=limits.RATE),
           "concurrency": f.int("concurrency", None, minimum=1, bound=limits.VUS)}
    return out if len(errs) == before else None


def scenario_for(load: Mapping[str, Any], path: str, errs: Errors) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(v2 scenario fields without requests, v2 warmup or None) for a validated load."""
    explicit_c = load.get("concurrency")
    c = explicit_c or DEFAULT_CONCURRENCY
    rps = load.get("rps")
    up, down = load.get("rampUp", 0.0), load.get("rampDown", 0.0)
    iterations = load.get("iterations")
    duration = load.get("duration")
    if duration is None and iterations is None:
        duration = DEFAULT_DURATION
    scenario: dict[str, Any]
    if iterations is not None and (rps is not None or up or down):
        errs.add(path, "iterations run at the pace of the VUs; give duration instead of iterations "
                       "with rps, rampUp or rampDown")
        return {}, None
    if iterations is not None:
        scenario = {"executor": "shared-iterations", "vus": c, "iterations": iterations}
        if duration is not None:
            scenario["maxDuration"] = duration
    else:
        hold = duration - up - down
        if hold < 0:
            errs.add(path, f"rampUp + rampDown ({up + down:g}s) must not be longer than duration "
                           f"({duration:g}s): duration is the whole test, ramps included")
            return {}, None
        stages = [{"duration": d, "target": t} for d, t in
                  ((up, rps or c), (hold, rps or c), (down, 0)) if d > 0]
        if rps is not None and (up or down):
            scenario = {"executor": "ramping-arrival-rate", "startRate": 0 if up else rps, "stages": stages}
        elif rps is not None:
            scenario = {"executor": "constant-arrival-rate", "rate": rps, "duration": duration}
        elif up or down:
            scenario = {"executor": "ramping-vus", "startVUs": 0 if up else c, "stages": stages}
        else:
            scenario = {"executor": "constant-vus", "vus": c, "duration": duration}
        if rps is not None:
            scenario["preAllocatedVUs"] = c
            if explicit_c:
                scenario["maxVUs"] = c
    warmup = None
    w = load.get("warmup")
    if w is not None:
        if w.get("rps"):
            warmup = {"duration": w["duration"], "rate": w["rps"]}
        elif w.get("concurrency"):
            warmup = {"duration": w["duration"], "vus": w["concurrency"]}
        elif rps is not None:
            warmup = {"duration": w["duration"], "rate": rps}
        else:
            warmup = {"duration": w["duration"], "vus": c}
    return scenario, warmup


def v1_thresholds(m: Mapping[str, Any], path: str, errs: Errors) -> dict[str, list[str]]:
    f = Fields(errs, m, path)
    f.check_keys(THRESHOLD_KEYS)
    out: dict[str, list[str]] = {}
    if f.has("maxResponseTime"):
        raw = f.raw("maxResponseTime")
        number = as_number(raw)
        ms = number
        if number is None:
            try:
                ms = parse_duration(raw) * 1000.0
            except ValueError:
                f.error("maxResponseTime", f"must be a duration like \"500ms\" or a number of milliseconds, "
                                           f"got {describe(raw)}")
        if ms is not None:
            out["http_req_duration"] = [f"max <= {ms:g}"]
    if f.has("maxErrorRate"):
        raw = f.raw("maxErrorRate")
        number = as_number(raw)
        if isinstance(raw, str) and raw.strip().endswith("%"):
            out["http_req_failed"] = [f"rate <= {raw.strip()}"]
        elif number is None or not 0 <= number <= 1:
            f.error("maxErrorRate", f"must be a fraction between 0 and 1 (0.01 = 1%) or \"1%\", "
                                    f"got {describe(raw)}")
        else:
            out["http_req_failed"] = [f"rate <= {number:g}"]
    if f.has("minThroughput"):
        number = f.number("minThroughput", None, minimum=0.0)
        if number is not None:
            out["http_reqs"] = [f"rate >= {number:g}"]
    return out


def describe_scenario(s: Mapping[str, Any]) -> str:
    """`constant-arrival-rate, 500/s, 2m, 50 VUs` for a v2 scenario mapping (numbers in seconds)."""
    from lunge_mp.config.summary import fmt_seconds

    ex = s.get("executor", "?")
    bits = [ex]
    if "rate" in s:
        bits.append(f"{s['rate']:g}/s")
    if "stages" in s:
        stages = " ".join(f"{fmt_seconds(st['duration'])}:{st['target']:g}" for st in s["stages"])
        bits.append(f"stages {stages}")
    if "vus" in s:
        bits.append(f"{s['vus']} VUs")
    if "iterations" in s:
        bits.append(f"{s['iterations']} iterations")
    if "duration" in s:
        bits.append(fmt_seconds(s["duration"]))
    if "maxVUs" in s:
        bits.append(f"{s['maxVUs']} VUs max")
    return ", ".join(bits)
