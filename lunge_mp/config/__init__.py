"""Config loading: Lunge v2 YAML/JSON → a validated, normalised `lunge_mp.plan.Plan`.

    load_plan(path, overrides=None, environ=None) -> Plan     read + ${VAR} expansion + parse + validate
    plan_from_dict(doc, source="") -> Plan                    the pure part: document → Plan
    ConfigError.errors                                        every problem, as `field.path: problem; fix`
    parse_duration(value) -> float                            `1h30m`, `250ms`, `30` → seconds (lunge_mp.units)

Modules: envexpand (${VAR}), loader (files, YAML/JSON), validate (top level,
settings, variables, options), scenarios + executors + patterns (scenarios), http_requests
(requests, assertions, extraction), thresholds (the thresholds block), fields/errors (typed
readers and the error collector).
"""

from __future__ import annotations


def __getattr__(name: str):
    """The exports, imported when first used (PEP 562): a worker needs one small module of this
    package (config.statuses) and must not load YAML, v1 and validation with it (start-up)."""
    if name == "parse_duration":
        from lunge_mp.units import parse_duration as value
    elif name == "expand_env":
        from lunge_mp.config.envexpand import expand_env as value
    elif name == "ConfigError":
        from lunge_mp.config.errors import ConfigError as value
    elif name == "parse_text":
        from lunge_mp.config.loader import parse_text as value
    elif name == "load_plan":
        from lunge_mp.config.v1_read import load_plan as value
    elif name == "plan_from_dict":
        from lunge_mp.config.validate import plan_from_dict as value
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = ["ConfigError", "expand_env", "load_plan", "parse_duration", "parse_text", "plan_from_dict"]
