"""`executor: pattern` → the normalised pattern dict stored in ScenarioPlan.pattern.

Seed 004 spells pattern keys in snake_case (`base_rate`), Lunge configs in camelCase
(`baseRate`); both are accepted and stored as camelCase. Duration-valued keys become float
seconds, so schedule/ never parses text. Only shape is checked here (known keys, types,
non-negative rates, a length); whether the numbers make a sensible curve is schedule/'s job.

The pattern's length is `duration`, or for `custom` the sum of its phases' durations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lunge_mp.config.errors import Errors, describe, index, join
from lunge_mp.config.fields import Fields, unknown_key_message

PATTERN_TYPES = ("sine", "burst", "ramp", "staircase", "custom", "chaos")
RAMP_TYPES = ("linear", "exponential", "logarithmic")

DURATION_KEYS = ("duration", "period", "burstDuration", "burstInterval", "stepDuration")
RATE_KEYS = ("baseRate", "maxRate", "amplitude", "burstRate", "startRate", "endRate", "stepRate")
PATTERN_KEYS = ("type", *DURATION_KEYS, *RATE_KEYS, "phase", "rampType", "seed", "phases")
PHASE_KEYS = ("duration", "rate", "startRate", "endRate", "name")


def camel(key: str) -> str:
    """`base_rate` → `baseRate`; camelCase keys pass through."""
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _normalise_keys(m: Mapping[Any, Any], path: str, errs: Errors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in m.items():
        if not isinstance(key, str):
            errs.add(join(path, key), f"field names must be strings, got {describe(key)}")
            continue
        name = camel(key)
        if name in out:
            errs.add(join(path, key), f"given twice (as '{name}' and '{key}'); keep one")
            continue
        out[name] = value
    return out


def parse_pattern(value: object, path: str, errs: Errors) -> tuple[dict[str, object] | None, float]:
    """Return (normalised pattern, its length in seconds); (None, 0.0) when it is unusable."""
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping like {{type: sine, duration: 5m, baseRate: 100, ...}}, "
                       f"got {describe(value)}")
        return None, 0.0
    raw = _normalise_keys(value, path, errs)
    f = Fields(errs, raw, path)
    for key in raw:
        if key not in PATTERN_KEYS:
            errs.add(join(path, key), unknown_key_message(key, PATTERN_KEYS))
    out: dict[str, object] = {}
    kind = f.str("type", required=f"required; use one of {', '.join(PATTERN_TYPES)}",
                 choices=PATTERN_TYPES)
    if kind is not None:
        out["type"] = kind
    for key in DURATION_KEYS:
        seconds = f.duration(key, positive=True)
        if seconds is not None:
            out[key] = seconds
    for key in RATE_KEYS:
        number = f.number(key, minimum=0)
        if number is not None:
            out[key] = number
    if f.has("phase"):
        phase = f.number("phase")
        if phase is not None:
            out["phase"] = phase
    if f.has("seed"):
        seed = f.int("seed")
        if seed is not None:
            out["seed"] = seed
    ramp_type = f.str("rampType", choices=RAMP_TYPES)
    if ramp_type is not None:
        out["rampType"] = ramp_type

    phases_total = 0.0
    if kind == "custom" or f.has("phases"):
        phases = f.list("phases", required="required for a custom pattern: a list of "
                        "{duration, rate} or {duration, startRate, endRate}", nonempty=True)
        if phases is not None:
            parsed = [_parse_phase(p, index(f.at("phases"), i), errs) for i, p in enumerate(phases)]
            out["phases"] = [p for p in parsed if p is not None]
            phases_total = sum(float(p["duration"]) for p in out["phases"] if "duration" in p)  # type: ignore[union-attr]

    length = float(out.get("duration", 0.0)) or phases_total  # type: ignore[arg-type]
    if kind is not None and kind != "custom" and "duration" not in out and not f.has("duration"):
        f.error("duration", f"required for a {kind} pattern, e.g. duration: 5m")
    return out, length


def _parse_phase(value: object, path: str, errs: Errors) -> dict[str, object] | None:
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping like {{duration: 1m, rate: 50}}, got {describe(value)}")
        return None
    raw = _normalise_keys(value, path, errs)
    f = Fields(errs, raw, path)
    for key in raw:
        if key not in PHASE_KEYS:
            errs.add(join(path, key), unknown_key_message(key, PHASE_KEYS))
    out: dict[str, object] = {}
    seconds = f.duration("duration", required=True, positive=True)
    if seconds is not None:
        out["duration"] = seconds
    for key in ("rate", "startRate", "endRate"):
        number = f.number(key, minimum=0)
        if number is not None:
            out[key] = number
    name = f.str("name")
    if name is not None:
        out["name"] = name
    if not f.has("rate") and not (f.has("startRate") and f.has("endRate")):
        errs.add(path, "needs rate, or startRate and endRate")
    return out

