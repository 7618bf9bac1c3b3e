"""`scenarios:` (name → scenario) → ScenarioPlan tuples (each its executor's Struct), in file order.

A scenario is the executor's own keys (executors.py) plus the common ones below. A key that
belongs to a different executor gets a message naming this scenario's executor and its keys
(`rate` on constant-vus), which is the usual mistake when switching executors; any other
unknown key gets a spelling suggestion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lunge_mp.config.data import parse_data
from lunge_mp.config.errors import Errors, describe, join
from lunge_mp.config.executors import ALL_EXECUTOR_KEYS, EXECUTOR_KEYS, PARSERS
from lunge_mp.config.fields import Fields, unknown_key_message
from lunge_mp.config.http_requests import parse_requests
from lunge_mp.executors import BY_NAME, EXECUTORS
from lunge_mp.plan import Pacing, ScenarioPlan, Settings
from lunge_mp.suggest import suggest

COMMON_KEYS = ("executor", "startTime", "gracefulStop", "gracefulRampDown", "pacing", "tags", "requests",
               "data")
PACING_TYPES = ("none", "constant", "random")
PACING_KEYS = {"none": ("type",), "constant": ("type", "duration"), "random": ("type", "min", "max")}


def parse_scenarios(value: object, path: str, errs: Errors, settings: Settings,
                    base_ok: bool = True, data: Mapping[str, str] | None = None) -> tuple[ScenarioPlan, ...]:
    """`data`: names of the top-level data sources → their field paths (a scenario's own
    data source may not reuse one)."""
    if value is None:
        errs.add(path, "required: at least one scenario, e.g. scenarios: {api: {executor: constant-vus, "
                       "vus: 10, duration: 30s, requests: [{url: /health}]}}")
        return ()
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping of scenario name → scenario, got {describe(value)}")
        return ()
    if not value:
        errs.add(path, "must define at least one scenario")
        return ()
    out = []
    for name, body in value.items():
        if not isinstance(name, str) or not name.strip():
            errs.add(join(path, name), f"scenario names must be non-empty strings, got {describe(name)}")
            continue
        plan = parse_scenario(name, body, join(path, name), errs, settings, base_ok, data)
        if plan is not None:
            out.append(plan)
    return tuple(out)


def parse_scenario(name: str, value: object, path: str, errs: Errors, settings: Settings,
                   base_ok: bool = True, data: Mapping[str, str] | None = None) -> ScenarioPlan | None:
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping with executor and requests, got {describe(value)}")
        return None
    f = Fields(errs, value, path)
    executor = _executor(f)
    _check_keys(f, executor)
    fields: dict[str, Any] = PARSERS[executor](f, executor) if executor else {}
    requests = f.list("requests", required="required: a list of requests, e.g. [{url: /health}]",
                      nonempty=True)
    common = dict(
        name=name,
        requests=parse_requests(requests or [], f.at("requests"), errs, settings, base_ok),
        start_time=f.duration("startTime", 0.0),
        graceful_stop=f.duration("gracefulStop", 30.0),
        graceful_ramp_down=f.duration("gracefulRampDown", 30.0),
        pacing=parse_pacing(f),
        tags=f.str_map("tags"),
        data=parse_data(f.raw("data"), f.at("data"), errs, data)[0],
    )
    return BY_NAME[executor](**common, **fields) if executor else None  # type: ignore[return-value]


def _executor(f: Fields) -> str | None:
    choices = ", ".join(EXECUTORS)
    if not f.has("executor"):
        f.error("executor", f"required; use one of {choices}")
        return None
    value = f.raw("executor")
    if not isinstance(value, str):
        f.error("executor", f"must be a string, got {describe(value)}; use one of {choices}")
        return None
    if value not in EXECUTORS:
        hint = suggest(value, EXECUTORS)
        f.error("executor", f"unknown executor '{value}'; use one of {choices}"
                            + (f" (did you mean '{hint}'?)" if hint else ""))
        return None
    return value


def _check_keys(f: Fields, executor: str | None) -> None:
    """Unknown keys; when the executor is unknown, any executor's key is let through."""
    own = EXECUTOR_KEYS[executor] if executor else ALL_EXECUTOR_KEYS
    known = COMMON_KEYS + own
    for key in f.m:
        if not isinstance(key, str):
            f.errs.add(join(f.path, key), f"field names must be strings, got {describe(key)}")
        elif key in known:
            continue
        elif key in ALL_EXECUTOR_KEYS:
            f.error(key, f"not used by executor '{executor}' (its keys: {', '.join(own)}); "
                         f"remove it or change the executor")
        else:
            f.error(key, "unknown field" if f.errs.full else unknown_key_message(key, known))


def parse_pacing(f: Fields) -> Pacing:
    """`pacing: {type: none | constant (duration) | random (min, max)}` → Pacing."""
    m = f.mapping("pacing")
    if m is None:
        return Pacing()
    p = Fields(f.errs, m, f.at("pacing"))
    kind = p.str("type", None, choices=PACING_TYPES)
    if kind is None and not p.has("type"):
        kind = "none"
    all_keys = ("type", "duration", "min", "max")
    own = PACING_KEYS.get(kind, all_keys) if kind else all_keys
    for key in m:
        if key in own:
            continue
        if key in all_keys:
            p.error(key, f"not used by pacing type '{kind}' (its keys: {', '.join(own)})")
        else:
            p.errs.add(join(p.path, key), unknown_key_message(str(key), all_keys))
    if kind == "constant":
        return Pacing(type=kind, duration=p.duration("duration", 0.0, required=True))
    if kind == "random":
        low = p.duration("min", 0.0, required=True)
        high = p.duration("max", 0.0, required=True)
        if high < low:
            p.error("max", f"must be >= min ({low:g}s)")
        return Pacing(type=kind, min=low, max=high)
    return Pacing()
