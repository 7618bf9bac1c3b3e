"""Lunge's other way of writing a v1 file → the canonical v1 shape `v1.py` reads. Pure.

Lunge's YAML examples (e.g. its `examples/jsonplaceholder-test.yaml`) write a v1 file
differently from its JSON reference (`doc/Configuration.md`); both run here:

    written                                    read as
    top-level `baseURL` / `baseUrl`            every environment's baseUrl, unless it has one
                                               (a file with no environments gets `default`)
    environments.dev: {userId: "1"}            environments.dev.variables (an environment with
                                               none of baseUrl / headers / variables holds
                                               its variables directly)
    environments.dev.baseURL                   environments.dev.baseUrl
    requests.x.path                            requests.x.url
    `description` (top, request, suite, test)  kept for people, not used
    top-level `name`                           kept for people, not used
    top-level `tests: {name: {request, assertions}}`
                                               kept: functional tests that apply to their
                                               request wherever it runs (lunge_mp/functional)

`${name}` in such files takes its value from the chosen environment's variables; that is the
loader's job (v1_read.py), since `${...}` is expanded in the text before parsing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENV_KEYS = ("baseUrl", "baseURL", "headers", "variables")
DESCRIPTIVE = ("name", "description")


def normalise_v1(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical v1 document for `doc` (which is left unchanged)."""
    out: dict[str, Any] = {k: v for k, v in doc.items() if k not in ("baseURL", "baseUrl", *DESCRIPTIVE)}
    base = doc.get("baseURL", doc.get("baseUrl"))
    envs = doc.get("environments")
    if isinstance(envs, Mapping):
        out["environments"] = {name: _environment(env, base) for name, env in envs.items()}
    elif envs is None and isinstance(base, str):
        out["environments"] = {"default": {"baseUrl": base}}
    requests = doc.get("requests")
    if isinstance(requests, Mapping):
        out["requests"] = {name: _request(req) for name, req in requests.items()}
    suites = doc.get("suites")
    if isinstance(suites, Mapping):
        out["suites"] = {name: _suite(s) for name, s in suites.items()}
    tests = doc.get("tests")
    if isinstance(tests, Mapping):
        out["tests"] = {name: _drop(t, ("description",)) for name, t in tests.items()}
    return out


def _environment(env: object, base: object) -> object:
    if not isinstance(env, Mapping):
        return env
    if env and not any(k in env for k in ENV_KEYS):
        env = {"variables": dict(env)}
    out = {("baseUrl" if k == "baseURL" else k): v for k, v in env.items()}
    if "baseUrl" not in out and isinstance(base, str):
        out["baseUrl"] = base
    return out


def _request(req: object) -> object:
    if not isinstance(req, Mapping):
        return req
    out = _drop(req, ("description",))
    if "path" in out and "url" not in out:
        out["url"] = out.pop("path")
    return out


def _suite(suite: object) -> object:
    if not isinstance(suite, Mapping):
        return suite
    out = _drop(suite, ("description",))
    if isinstance(out.get("tests"), list):
        out["tests"] = [_drop(t, ("description",)) if isinstance(t, Mapping) else t for t in out["tests"]]
    return out


def _drop(m: object, keys: tuple[str, ...]) -> Any:
    if not isinstance(m, Mapping):
        return m
    return {k: v for k, v in m.items() if k not in keys}


def environment_variables(doc: Mapping[str, Any], environment: str | None) -> dict[str, str]:
    """The variables of the environment a run uses (of a normalised document), as text:
    the named one, else the only one; {} when that cannot be told (the run reports it)."""
    envs = doc.get("environments")
    if not isinstance(envs, Mapping) or not envs:
        return {}
    if environment is None:
        if len(envs) != 1:
            return {}
        environment = next(iter(envs))
    env = envs.get(environment)
    variables = env.get("variables") if isinstance(env, Mapping) else None
    if not isinstance(variables, Mapping):
        return {}
    return {str(k): str(v) for k, v in variables.items()
            if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
