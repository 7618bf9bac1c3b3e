"""`executor: pattern` → the pattern's shape (executors/shapes.py) in the plan, checked here
with every error's field path.

Seed 004 spells pattern keys in snake_case (`base_rate`), Lunge configs in camelCase
(`baseRate`); both are accepted and stored as camelCase. Duration-valued keys become float
seconds, so schedule/ never parses text. Defaults (phase 0, rampType linear, seed 0) are the
shapes' own.

Each type has its own keys (`TYPE_KEYS`, required first); any other pattern key is an error
that names the type's keys. Then the numbers must make a curve the schedule can run:

| type      | required                                                   | optional | rules |
|-----------|------------------------------------------------------------|----------|-------|
| sine      | duration, baseRate, amplitude, period                      | phase    | amplitude ≤ baseRate (R ≥ 0) |
| burst     | duration, baseRate, burstRate, burstDuration, burstInterval |          | burstDuration < burstInterval |
| ramp      | duration, startRate, endRate                               | rampType | exponential: both rates > 0 |
| staircase | duration, startRate, stepRate, stepDuration                | maxRate  | stepDuration < duration, maxRate ≥ startRate |
| custom    | phases: [{duration, rate} or {duration, startRate, endRate}] |        | non-empty, rate xor start/end |
| chaos     | duration, baseRate, maxRate                                | seed     | maxRate ≥ baseRate, seed ≥ 0 |

Rates are ≥ 0, durations ≥ 1us, a pattern whose rate is 0 for the whole run is refused (it
would send nothing: checked exactly, e.g. a run shorter than a burst of rate 0), and piecewise patterns change rate at most MAX_RATE_CHANGES times.

The pattern's length is `duration`, or for `custom` the sum of its phases' durations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lunge_mp import limits
from lunge_mp.config.errors import Errors, describe, index, join
from lunge_mp.config.fields import Fields, unknown_key_message
from lunge_mp.executors.shapes import Shape, shape_from
from lunge_mp.schedule.patterns import CHAOS_INTERVAL, MAX_RATE_CHANGES, MIN_DURATION, chaos_levels

PATTERN_TYPES = ("sine", "burst", "ramp", "staircase", "custom", "chaos")
RAMP_TYPES = ("linear", "exponential", "logarithmic")
# e^(λD) = endRate/startRate must stay far inside float range (e^709): 1e12 is e^27.6
MAX_EXPONENTIAL_RATIO = 1e12

DURATION_KEYS = ("duration", "period", "burstDuration", "burstInterval", "stepDuration")
RATE_KEYS = ("baseRate", "maxRate", "amplitude", "burstRate", "startRate", "endRate", "stepRate")
PATTERN_KEYS = ("type", *DURATION_KEYS, *RATE_KEYS, "phase", "rampType", "seed", "phases")
PHASE_KEYS = ("duration", "rate", "startRate", "endRate", "name")

#: type → (required keys, optional keys), `type` aside
TYPE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sine": (("duration", "baseRate", "amplitude", "period"), ("phase",)),
    "burst": (("duration", "baseRate", "burstRate", "burstDuration", "burstInterval"), ()),
    "ramp": (("duration", "startRate", "endRate"), ("rampType",)),
    "staircase": (("duration", "startRate", "stepRate", "stepDuration"), ("maxRate",)),
    "custom": (("phases",), ()),
    "chaos": (("duration", "baseRate", "maxRate"), ("seed",)),
}
EXAMPLES = {"duration": "5m", "baseRate": "100", "amplitude": "50", "period": "1m", "burstRate": "400",
            "burstDuration": "10s", "burstInterval": "1m", "startRate": "10", "endRate": "1000",
            "stepRate": "100", "stepDuration": "30s", "maxRate": "500"}


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


def _secs(x: float) -> str:
    return f"{x:g}s"


def _duration(f: Fields, key: str, required: bool = False) -> float | None:
    """A duration > 0 and, as instants are whole microseconds, at least 1us."""
    seconds = f.duration(key, required=required, positive=True)
    if seconds is not None and seconds < MIN_DURATION:
        f.error(key, "must be at least 1us")
        return None
    return seconds


def parse_pattern(value: object, path: str, errs: Errors) -> Shape | None:
    """The pattern's shape; None when it is unusable (each reason in `errs`)."""
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping like {{type: sine, duration: 5m, baseRate: 100, ...}}, "
                       f"got {describe(value)}")
        return None
    errors_before = len(errs)
    raw = _normalise_keys(value, path, errs)
    f = Fields(errs, raw, path)
    kind = f.str("type", required=f"required; use one of {', '.join(PATTERN_TYPES)}",
                 choices=PATTERN_TYPES)
    required, optional = TYPE_KEYS.get(kind, ((), ()))
    own = ("type", *required, *optional) if kind else PATTERN_KEYS
    for key in raw:
        if key in own:
            continue
        if key in PATTERN_KEYS:
            extra = "; the length is the sum of the phases' durations" if kind == "custom" and \
                key == "duration" else ""
            f.error(key, f"not used by a {kind} pattern (its keys: {', '.join(own)}){extra}")
        else:
            f.error(key, unknown_key_message(key, own))

    out: dict[str, object] = {}
    if kind is not None:
        out["type"] = kind
    for key in DURATION_KEYS:
        if key in own:
            seconds = _duration(f, key)
            if seconds is not None:
                out[key] = seconds
    for key in RATE_KEYS:
        if key in own:
            number = f.number(key, minimum=0, bound=limits.RATE)
            if number is not None:
                out[key] = number
    if "phase" in own and f.has("phase"):
        phase = f.number("phase", bound=limits.PHASE)
        if phase is not None:
            out["phase"] = phase
    if "seed" in own and f.has("seed"):
        seed = f.int("seed", minimum=0, bound=limits.SEED)
        if seed is not None:
            out["seed"] = seed
    if "rampType" in own:
        ramp_type = f.str("rampType", choices=RAMP_TYPES)
        if ramp_type is not None:
            out["rampType"] = ramp_type

    if "phases" in own and (kind == "custom" or f.has("phases")):
        phases = f.list("phases", required="required for a custom pattern: a list of "
                        "{duration, rate} or {duration, startRate, endRate}", nonempty=True)
        if phases is not None:
            parsed = [_parse_phase(p, index(f.at("phases"), i), errs) for i, p in enumerate(phases)]
            out["phases"] = [p for p in parsed if p is not None]

    for key in required:
        if not f.has(key) and key != "phases":
            example = f", e.g. {key}: {EXAMPLES[key]}" if key in EXAMPLES else ""
            f.error(key, f"required for a {kind} pattern{example}")
    if kind is not None:
        _check_curve(kind, out, f)
        if len(errs) == errors_before and _sends_nothing(kind, out):
            errs.add(path, f"the rate of this {kind} pattern is 0 for the whole run, so it would "
                           "send nothing; give it a rate > 0")
    return shape_from(out) if len(errs) == errors_before else None


def _check_curve(kind: str, p: dict[str, Any], f: Fields) -> None:
    """Rules between fields of one pattern; each only when the fields it needs parsed."""

    def have(*keys: str) -> bool:
        return all(k in p for k in keys)

    if kind == "sine" and have("baseRate", "amplitude") and p["amplitude"] > p["baseRate"]:
        f.error("amplitude", f"must be <= baseRate ({p['baseRate']:g}) so the rate "
                             f"baseRate + amplitude·sin(...) never goes below 0; "
                             f"lower amplitude or raise baseRate")
    if kind == "burst" and have("burstDuration", "burstInterval"):
        if p["burstDuration"] >= p["burstInterval"]:
            f.error("burstDuration", f"must be < burstInterval ({_secs(p['burstInterval'])}): each "
                                     "interval starts with its burst, then runs at baseRate; for one "
                                     "constant rate use executor constant-arrival-rate")
        elif "duration" in p and 2 * math.ceil(p["duration"] / p["burstInterval"]) > MAX_RATE_CHANGES:
            f.error("burstInterval", f"{_secs(p['burstInterval'])} makes too many bursts over "
                                     f"{_secs(p['duration'])} (at most {MAX_RATE_CHANGES // 2}); "
                                     "use a longer burstInterval")
    if kind == "ramp" and have("startRate", "endRate") and p.get("rampType") == "exponential":
        for key in ("startRate", "endRate"):
            if p[key] == 0:
                f.error(key, "must be > 0 for rampType exponential (a rate growing by a constant "
                             f"factor never leaves 0); use rampType: linear or a {key} > 0")
        low, high = sorted((p["startRate"], p["endRate"]))
        if low > 0 and high / low > MAX_EXPONENTIAL_RATIO:
            f.error("startRate" if p["startRate"] == low else "endRate",
                    f"startRate and endRate must be within a factor of {MAX_EXPONENTIAL_RATIO:.0e} of each "
                    f"other for rampType exponential (got {p['startRate']:g} and {p['endRate']:g}); "
                    f"raise the smaller one")
    if kind == "staircase" and have("startRate", "maxRate") and p["maxRate"] < p["startRate"]:
        f.error("maxRate", f"must be >= startRate ({p['startRate']:g})")
    if kind == "staircase" and have("duration", "stepDuration"):
        if p["stepDuration"] >= p["duration"]:
            f.error("stepDuration", f"must be < duration ({_secs(p['duration'])}), else the rate "
                                    "never steps; for one constant rate use executor constant-arrival-rate")
        elif math.ceil(p["duration"] / p["stepDuration"]) > MAX_RATE_CHANGES:
            f.error("stepDuration", f"{_secs(p['stepDuration'])} makes too many steps over "
                                    f"{_secs(p['duration'])} (at most {MAX_RATE_CHANGES}); use a longer one")
    if kind == "chaos" and have("baseRate", "maxRate") and p["maxRate"] < p["baseRate"]:
        f.error("maxRate", f"must be >= baseRate ({p['baseRate']:g})")
    if kind == "chaos" and "duration" in p and p["duration"] > MAX_RATE_CHANGES * CHAOS_INTERVAL:
        f.error("duration", f"chaos changes its rate every {_secs(CHAOS_INTERVAL)}: at most "
                            f"{_secs(MAX_RATE_CHANGES * CHAOS_INTERVAL)}; run several scenarios "
                            "with startTime for longer")


def _sends_nothing(kind: str, p: dict[str, Any]) -> bool:
    """H(D) = 0 for a pattern that passed every other check (so its required keys are set)."""
    if kind == "sine":
        return p["baseRate"] == 0
    if kind == "burst":     # the first burst [0, min(W, D)), then base rate if the run goes on
        return not (p["burstRate"] > 0 or (p["baseRate"] > 0 and p["duration"] > p["burstDuration"]))
    if kind == "ramp":
        return max(p["startRate"], p["endRate"]) == 0
    if kind == "staircase":  # stepDuration < duration: at least one step happens
        return p["startRate"] == 0 and (p["stepRate"] == 0 or p.get("maxRate") == 0)
    if kind == "custom":
        return not any(ph.get(k) for ph in p["phases"] for k in ("rate", "startRate", "endRate"))
    if kind == "chaos":      # from baseRate 0 a short walk may never leave 0
        return not any(chaos_levels(p["duration"], p["baseRate"], p["maxRate"], p.get("seed", 0)))
    return False


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
    seconds = _duration(f, "duration", required=True)
    if seconds is not None:
        out["duration"] = seconds
    for key in ("rate", "startRate", "endRate"):
        number = f.number(key, minimum=0, bound=limits.RATE)
        if number is not None:
            out[key] = number
    name = f.str("name")
    if name is not None:
        out["name"] = name
    if f.has("rate") and (f.has("startRate") or f.has("endRate")):
        errs.add(path, "give rate (constant), or startRate and endRate (linear), not both")
    elif not f.has("rate") and not (f.has("startRate") and f.has("endRate")):
        errs.add(path, "needs rate, or startRate and endRate")
    return out
