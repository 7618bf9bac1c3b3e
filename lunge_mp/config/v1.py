"""Lunge v1 files (environments / requests / suites / performance) → a v2 document → Plan. Pure.

A v1 file describes requests once and runs them in environments; its `performance` block
(seed 001) names one request and a load:

    "performance": {"loadTest": {"request": "getUsers",
        "load": {"concurrency": 50, "duration": "2m", "rps": 500, "rampUp": "10s", "rampDown": "10s",
                 "iterations": 1000, "warmup": {"duration": "10s", "rps": 50, "concurrency": 5}},
        "thresholds": {"maxResponseTime": "500ms", "maxErrorRate": 0.01, "minThroughput": 400}}}

`lunge-mp perf -c FILE -e ENV -p TEST` runs one performance test; `-r REQUEST` runs one
request with the load given on the command line (`--concurrency --duration --rps --ramp-up
--ramp-down --iterations`), which also override a test's own load.

Translation (one scenario named after the test or request, one request named after the v1
request, so its metrics have that name):

    environment      baseUrl → settings.baseUrl, headers → settings.headers, variables → variables
    request          url (+ queryParams), method, headers, body, extract {name: "$.path"}
    load without rps
      iterations     shared-iterations: concurrency VUs share `iterations` (maxDuration = duration, if given)
      ramps          ramping-vus: 0 → concurrency over rampUp, hold, → 0 over rampDown
      otherwise      constant-vus: concurrency VUs for duration
    load with rps (iterations/s; concurrency, when given, is preAllocatedVUs and maxVUs)
      ramps          ramping-arrival-rate: 0 → rps over rampUp, hold, → 0 over rampDown
      otherwise      constant-arrival-rate at rps for duration
    duration         the whole test, ramps included (hold = duration − rampUp − rampDown);
                     30s when neither duration nor iterations is given
    concurrency      10 when not given (Lunge's default)
    warmup           options.warmup: its rps (or concurrency), else the test's rps (or concurrency)
    maxResponseTime  http_req_duration: max <= it           (a duration, or a number of ms)
    maxErrorRate     http_req_failed: rate <= it             (a fraction, or "1%")
    minThroughput    http_reqs: rate >= it                   (requests/s)

The load and thresholds are validated and translated in v1_loads.py. `suites`, `schemas`
and a request's `validate` are checked for shape here; suites run as functional tests and as
`perf -s` load tests through lunge_mp/functional; a test's `monitoring` / `reporting` are
accepted and not used. Lunge's YAML spelling of v1 files is read by v1_dialect.py first.
Errors carry v1 field paths (`performance.loadTest.load.rps: must be > 0`) or the flag
(`--rps: must be > 0`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from lunge_mp.config.errors import ConfigError, Errors, describe, join
from lunge_mp.config.fields import Fields, scalar_text
from lunge_mp.config.v1_loads import (FLAGS, LOAD_KEYS, check_load, describe_scenario,  # noqa: F401 (re-exported)
                                      scenario_for, v1_thresholds)
from lunge_mp.config.validate import plan_from_dict
from lunge_mp.plan import Plan
from lunge_mp.suggest import suggest

TOP_KEYS = ("environments", "requests", "suites", "schemas", "performance", "tests")
ENV_KEYS = ("baseUrl", "headers", "variables")
REQUEST_KEYS = ("url", "method", "headers", "queryParams", "body", "extract", "validate")
SUITE_KEYS = ("requests", "variables", "tests")
TEST_KEYS = ("name", "request", "load", "thresholds", "monitoring", "reporting")

_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_v1(doc: object) -> bool:
    """A Lunge v1 document: a mapping with v1 sections and no v2 `scenarios`."""
    return isinstance(doc, Mapping) and "scenarios" not in doc and any(k in doc for k in TOP_KEYS)


# -- the whole file ---------------------------------------------------------------------------

def check_v1(doc: Mapping[str, Any], errs: Errors) -> None:
    """Shape of every section, with v1 field paths."""
    f = Fields(errs, doc, "")
    f.check_keys(TOP_KEYS)
    envs = f.mapping("environments") or {}
    requests = f.mapping("requests") or {}
    for name, env in envs.items():
        _environment(env, join("environments", name), errs)
    for name, req in requests.items():
        _request(req, join("requests", name), errs)
    for name, suite in (f.mapping("suites") or {}).items():
        at = join("suites", name)
        if not isinstance(suite, Mapping):
            errs.add(at, f"must be a mapping with requests, got {describe(suite)}")
            continue
        s = Fields(errs, suite, at)
        s.check_keys(SUITE_KEYS)
        for i, ref in enumerate(s.list("requests") or []):
            _known(ref, requests, f"{at}.requests[{i}]", errs, "request")
    f.mapping("schemas")
    for name, test in (f.mapping("performance") or {}).items():
        at = join("performance", name)
        if not isinstance(test, Mapping):
            errs.add(at, f"must be a mapping with request and load, got {describe(test)}")
            continue
        t = Fields(errs, test, at)
        t.check_keys(TEST_KEYS)
        ref = t.str("request", required="required: the name of a request under requests", nonempty=True)
        if ref is not None:
            _known(ref, requests, t.at("request"), errs, "request")
        load = t.mapping("load")
        if load is not None:
            check_load({k: (v, f"{at}.load.{k}") for k, v in load.items()}, errs, f"{at}.load")
        thresholds = t.mapping("thresholds")
        if thresholds is not None:
            v1_thresholds(thresholds, t.at("thresholds"), errs)
        t.mapping("monitoring")
        t.mapping("reporting")


def _known(ref: object, names: Mapping[str, Any], path: str, errs: Errors, what: str) -> bool:
    if not isinstance(ref, str):
        errs.add(path, f"must be the name of a {what}, got {describe(ref)}")
        return False
    if ref not in names:
        hint = suggest(ref, [n for n in names if isinstance(n, str)])
        known = ", ".join(str(n) for n in names) or "none"
        errs.add(path, f"unknown {what} '{ref}'" + (f"; did you mean '{hint}'?" if hint else f"; known: {known}"))
        return False
    return True


def _environment(env: object, path: str, errs: Errors) -> dict[str, Any]:
    if not isinstance(env, Mapping):
        errs.add(path, f"must be a mapping with baseUrl and variables, got {describe(env)}")
        return {}
    f = Fields(errs, env, path)
    f.check_keys(ENV_KEYS)
    out: dict[str, Any] = {"headers": f.str_map("headers"), "variables": {}}
    base = f.str("baseUrl", "")
    if base:
        out["baseUrl"] = base
    for name, value in (f.mapping("variables") or {}).items():
        text = scalar_text(value)
        if text is None or not isinstance(name, str):
            errs.add(join(f.at("variables"), name), f"must be a string or number, got {describe(value)}")
        else:
            out["variables"][name] = text
    return out


def _request(req: object, path: str, errs: Errors) -> dict[str, Any]:
    """The v2 request of a v1 one (without its name)."""
    if not isinstance(req, Mapping):
        errs.add(path, f"must be a mapping with url and method, got {describe(req)}")
        return {}
    f = Fields(errs, req, path)
    f.check_keys(REQUEST_KEYS)
    url = f.str("url", required="required, e.g. \"url\": \"/users\"", nonempty=True) or ""
    if url and not _ABSOLUTE.match(url) and not url.startswith(("/", "{{")):
        url = "/" + url
    query = f.str_map("queryParams")
    if query:
        encoded = "&".join(f"{_q(k)}={_q(v)}" for k, v in query.items())
        url += ("&" if "?" in url else "?") + encoded
    out: dict[str, Any] = {"method": f.str("method", "GET"), "url": url}
    headers = f.str_map("headers")
    if headers:
        out["headers"] = headers
    if f.has("body"):
        out["body"] = f.raw("body")
    extract = []
    for name, rule in (f.mapping("extract") or {}).items():
        if not isinstance(rule, str) or not rule.strip():
            errs.add(join(f.at("extract"), name), f"must be a JSONPath like \"$.id\", got {describe(rule)}")
        else:
            extract.append({"name": name, "source": "body", "path": rule})
    if extract:
        out["extract"] = extract
    return out


def _q(text: str) -> str:
    """URL-encode a query part but keep `{{templates}}` for rendering."""
    return "".join(part if part.startswith("{{") else quote(part, safe="")
                   for part in re.split(r"(\{\{[^{}]*\}\})", text))


# -- one run --------------------------------------------------------------------------------------

def v1_document(doc: Mapping[str, Any], environment: str | None, test: str | None = None,
                request: str | None = None, load: Mapping[str, Any] | None = None,
                thresholds: Mapping[str, list[str]] | None = None,
                source: str = "") -> dict[str, Any]:
    """The v2 document for one run; see `_translate`."""
    return _translate(doc, environment, test, request, load, thresholds, source)[0]


def _translate(doc: Mapping[str, Any], environment: str | None, test: str | None,
               request: str | None, load: Mapping[str, Any] | None,
               thresholds: Mapping[str, list[str]] | None,
               source: str) -> tuple[dict[str, Any], str]:
    """(the v2 document, the environment's name). The v2 document for one performance test (or one request) in one environment.

    Only what this run uses is validated: the top-level keys, the environment, the request
    and the test. `load` holds the perf flags that were given (load key → value, e.g.
    {"rps": 200}); they win over the test's own load. `thresholds` (metric → expressions,
    from --threshold) are added to the test's. ConfigError lists every problem.
    """
    errs = Errors()
    top = Fields(errs, doc, "")
    top.check_keys(TOP_KEYS)
    envs = top.mapping("environments") or {}
    requests = top.mapping("requests") or {}
    tests = top.mapping("performance") or {}
    if environment is None:
        if len(envs) == 1:
            environment = next(iter(envs))
        else:
            errs.add("-e/--environment", f"required: which environment to run in "
                                          f"({', '.join(map(str, envs)) or 'the file defines none'})")
    elif not _known(environment, envs, "-e/--environment", errs, "environment"):
        environment = None
    if (test is None) == (request is None):
        errs.add("-p/-r", f"give one of -p TEST (performance tests: {', '.join(map(str, tests)) or 'none'}) "
                          f"or -r REQUEST (requests: {', '.join(map(str, requests)) or 'none'})")
    test_doc: Mapping[str, Any] = {}
    test_path = ""
    if test is not None and _known(test, tests, "-p/--performance", errs, "performance test"):
        test_path = join("performance", test)
        if not isinstance(tests[test], Mapping):
            errs.add(test_path, f"must be a mapping with request and load, got {describe(tests[test])}")
        else:
            test_doc = tests[test]
            t = Fields(errs, test_doc, test_path)
            t.check_keys(TEST_KEYS)
            request = t.str("request", required="required: the name of a request under requests",
                            nonempty=True)
            if request is not None and not _known(request, requests, t.at("request"), errs, "request"):
                request = None
            t.mapping("load")
            t.mapping("monitoring")
            t.mapping("reporting")
    elif request is not None and not _known(request, requests, "-r/--request", errs, "request"):
        request = None
    env = _environment(envs[environment], join("environments", environment), errs) if environment else {}
    req = _request(requests[request], join("requests", request), errs) if request else {}
    # the effective load: the test's values, then the flags
    values: dict[str, tuple[Any, str]] = {}
    if isinstance(test_doc.get("load"), Mapping):
        values = {k: (v, f"{test_path}.load.{k}") for k, v in test_doc["load"].items()}
    for key, value in (load or {}).items():
        if value is not None:
            values[key] = (value, FLAGS.get(key, key))
    checked = check_load(values, errs, f"{test_path}.load" if test_path else "load")
    own_thresholds = v1_thresholds(test_doc["thresholds"], join(test_path, "thresholds"), errs) \
        if isinstance(test_doc.get("thresholds"), Mapping) else {}
    if test_doc and test_doc.get("thresholds") is not None and not isinstance(test_doc["thresholds"], Mapping):
        errs.add(join(test_path, "thresholds"), f"must be a mapping like {{\"maxErrorRate\": 0.01}}, "
                                                 f"got {describe(test_doc['thresholds'])}")
    if errs:
        errs.raise_if_any(source)
    scenario, warmup = scenario_for(checked, f"{test_path}.load" if test_path else "the perf flags", errs)
    errs.raise_if_any(source)
    name = test or request
    title = test_doc.get("name") if isinstance(test_doc.get("name"), str) and test_doc.get("name") else name
    settings: dict[str, Any] = {}
    if "baseUrl" in env:
        settings["baseUrl"] = env["baseUrl"]
    if env["headers"]:
        settings["headers"] = env["headers"]
    out: dict[str, Any] = {
        "name": f"{title} ({environment})",
        "description": f"Lunge v1 {'performance test' if test else 'request'} '{name}' in environment "
                       f"'{environment}'",
        "settings": settings,
        "variables": env["variables"],
        "scenarios": {name: {**scenario, "requests": [{"name": request, **req}]}},
    }
    merged = {metric: list(exprs) for metric, exprs in own_thresholds.items()}
    for metric, exprs in (thresholds or {}).items():
        merged[metric] = merged.get(metric, []) + list(exprs)
    if merged:
        out["thresholds"] = merged
    if warmup is not None:
        out["options"] = {"warmup": warmup}
    return out, str(environment)


def plan_from_v1(doc: Mapping[str, Any], environment: str | None, test: str | None = None,
                 request: str | None = None, load: Mapping[str, Any] | None = None,
                 thresholds: Mapping[str, list[str]] | None = None, source: str = "") -> Plan:
    """The Plan for one v1 run; errors found by the v2 validation are given v1 paths."""
    v2, env = _translate(doc, environment, test, request, load, thresholds, source)
    name = next(iter(v2["scenarios"]))
    req = v2["scenarios"][name]["requests"][0]["name"]
    try:
        return plan_from_dict(v2, source=source)
    except ConfigError as e:
        raise ConfigError([v1_path(line, name, req, env, test) for line in e.errors], source) from None


def v1_path(line: str, scenario: str, request: str, env: str, test: str | None) -> str:
    """A v2 error line with the v1 field it came from."""
    for v2, v1 in ((f"scenarios.{scenario}.requests[0].", f"requests.{request}."),
                   ("settings.baseUrl", f"environments.{env}.baseUrl"),
                   ("settings.headers", f"environments.{env}.headers"),
                   ("variables.", f"environments.{env}.variables."),
                   (f"scenarios.{scenario}.", f"performance.{test}.load." if test else "the perf flags: "),
                   ("options.warmup", f"performance.{test}.load.warmup" if test else "warmup")):
        if line.startswith(v2):
            line = v1 + line[len(v2):]
            break
    return line.replace("settings.baseUrl", f"environments.{env}.baseUrl")


def summary_v1(doc: Mapping[str, Any]) -> str:
    """One line: environments, requests, performance tests and what each runs."""
    envs = list(doc.get("environments") or {})
    requests = doc.get("requests") or {}
    tests = doc.get("performance") or {}
    parts = [f"environments {', '.join(envs)}" if envs else "no environments",
             f"{len(requests)} request{'s' * (len(requests) != 1)}"]
    described = []
    for name, test in tests.items():
        scenario, _ = scenario_for(check_load({k: (v, "") for k, v in (test.get("load") or {}).items()}, Errors(), ""),
                                   "", Errors())
        described.append(f"{name} ({test.get('request')}: {describe_scenario(scenario)})")
    parts.append(f"performance tests {', '.join(described)}" if described else "no performance tests")
    return "; ".join(parts)
