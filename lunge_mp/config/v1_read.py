"""Reading a config file when it may be a Lunge v1 file: `${name}` from its environment; and
`load_plan`, a config file (either version) → its Plan.

Lunge's v1 YAML files write `path: /users/${userId}` with `userId` defined under the
environment, not in the process environment. `${...}` is expanded in the text before it is
parsed (envexpand.py), so a v1 file is read twice: once as it is, to find the environment's
variables, then expanded with them, and parsed again. Lookup order for `${name}`: the CLI's
overrides (`-e KEY=VALUE` / `--var`), the chosen environment's variables, the process
environment. A text that does not parse before expansion (`{"vus": ${VUS}}` in JSON) is not a
v1 file of that kind and is read the ordinary way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lunge_mp import limits
from lunge_mp.config.envexpand import expand_env
from lunge_mp.config.errors import ConfigError
from lunge_mp.config.loader import detect_format, load_document, parse_text, plan_from_document, read_text
from lunge_mp.config.v1 import is_v1
from lunge_mp.config.v1_dialect import environment_variables, normalise_v1
from lunge_mp.plan import Plan


def load_plan(path: str | os.PathLike[str], overrides: dict[str, str] | None = None,
              environ: Mapping[str, str] | None = None,
              thresholds: Mapping[str, list[str]] | None = None) -> Plan:
    """Read, expand, parse and validate the config at `path`.

    `overrides` (the CLI's `-e KEY=VALUE`) win over `environ` (default: os.environ) for
    `${KEY}` references, and also replace `variables.KEY` when the file defines it.
    """
    source = str(path)
    overrides = dict(overrides or {})
    return plan_from_document(load_config_document(source, None, overrides, environ), source, overrides,
                              thresholds)


def load_config_document(path: str, environment: str | None = None,
                         overrides: Mapping[str, str] | None = None,
                         environ: Mapping[str, str] | None = None) -> Any:
    """The parsed document (v1 normalised, v2 as it is), `${...}` expanded for `environment`.

    With no environment named and several defined, a v1 file's `${name}` may come from any of
    them (the first that defines it); that is what `validate` checks.
    """
    environ = os.environ if environ is None else environ
    text = read_text(path)
    fmt = detect_format(path, text)
    try:
        raw = parse_text(text, fmt, path)
    except ConfigError:
        raw = None
    if not is_v1(raw):
        return load_document(path, overrides, environ)
    raw = normalise_v1(raw)
    own = _lookup_variables(raw, environment)
    own = {k: expand_env(v, overrides, environ, source=path, max_chars=limits.CONFIG_BYTES) if "${" in v else v
           for k, v in own.items()}
    merged = {**own, **dict(overrides or {})}
    expanded = expand_env(text, merged, environ, skip_comments=fmt == "yaml", source=path,
                          max_chars=limits.CONFIG_BYTES)
    return normalise_v1(parse_text(expanded, fmt, path))


def _lookup_variables(doc: Mapping[str, Any], environment: str | None) -> dict[str, str]:
    variables = environment_variables(doc, environment)
    if variables or environment is not None:
        return variables
    envs = doc.get("environments")
    merged: dict[str, str] = {}
    for name in (envs if isinstance(envs, Mapping) else {}):
        for key, value in environment_variables(doc, name).items():
            merged.setdefault(key, value)
    return merged
