"""A Lunge v1 suite (or one request) → what runs: a v2 Plan of its requests in order, and the
tests that check each response. Pure.

    steps     the suite's `requests`, in order; the tests of a request that the list does not
              hold run it once more at the end, in test order (Lunge's `test` sends each
              test's request itself)
    tests     the suite's `tests`, and the file's top-level `tests` (Lunge's YAML spelling)
              whose request the suite runs; each is checked on the first step of its request
    validate  a request's `validate`: a JSON Schema for its body (examples/schema-validation.json);
              a `validate` holding only status / headers / responseTime / body is read as
              those assertions (examples/simple.json): status equals, each header contains
              its value, the response time, a body path assertion
    variables the environment's, then the suite's (which may use `{{env vars}}`), then values
              the requests extract, as the requests run (Lunge's order, doc/Variables.md)

The same requests make the iteration of `perf -s SUITE`; there each test's assertions are
the request's checks (`perf_assertions`): those the load engine can count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lunge_mp.config.errors import ConfigError, Errors, describe, join
from lunge_mp.config.v1 import _known, is_v1, v1_document
from lunge_mp.functional.assertions import Assertion, parse_assertion
from lunge_mp.scenario.template import BUILTINS, Template, TemplateError, is_known_name

VALIDATE_ASSERTION_KEYS = ("status", "headers", "responseTime", "body")
TEST_KEYS = ("name", "request", "assertions")
TOKEN_LOAD = {"concurrency": 1, "duration": 1}


@dataclass
class SuiteTest:
    name: str
    request: str
    assertions: list[Assertion]
    raw: list[Any] = field(default_factory=list)   # the assertions as written (for perf)


@dataclass
class Step:
    request: str
    tests: list[SuiteTest]


@dataclass
class Suite:
    """What `test` runs: the v2 document of the requests, one step per request."""
    name: str
    environment: str
    document: dict[str, Any]
    steps: list[Step]


def build_suite(doc: Mapping[str, Any], environment: str | None, suite: str | None, request: str | None,
                only_test: str | None = None, overrides: Mapping[str, str] | None = None,
                source: str = "", load: Mapping[str, Any] | None = None,
                thresholds: Mapping[str, list[str]] | None = None) -> Suite:
    """The suite to run (or the one request); ConfigError lists every problem.

    `load` and `thresholds` (the perf flags) shape the v2 scenario when the suite is the
    iteration of a load test; without them it runs once.
    """
    errs = Errors()
    requests = doc.get("requests") if isinstance(doc.get("requests"), Mapping) else {}
    suites = doc.get("suites") if isinstance(doc.get("suites"), Mapping) else {}
    schemas = doc.get("schemas") if isinstance(doc.get("schemas"), Mapping) else {}
    if (suite is None) == (request is None):
        errs.add("-s/-r", f"give one of -s SUITE (suites: {', '.join(map(str, suites)) or 'none'}) "
                          f"or -r REQUEST (requests: {', '.join(map(str, requests)) or 'none'})")
        errs.raise_if_any(source)
    if suite is not None and not _known(suite, suites, "-s/--suite", errs, "suite"):
        errs.raise_if_any(source)
    if request is not None and not _known(request, requests, "-r/--request", errs, "request"):
        errs.raise_if_any(source)
    body: Mapping[str, Any] = suites.get(suite, {}) if suite is not None else {}
    at = join("suites", suite) if suite is not None else ""
    if not isinstance(body, Mapping):
        errs.add(at, f"must be a mapping with requests and tests, got {describe(body)}")
        errs.raise_if_any(source)
    order = [r for r in body.get("requests") or []] if suite is not None else [request]
    tests = suite_tests(doc, body, at, set(order) if suite is not None else {request}, schemas, errs)
    if only_test is not None:
        names = [t.name for t in tests]
        tests = [t for t in tests if t.name == only_test]
        if not tests:
            errs.add("-t/--test", f"no test named '{only_test}' here; tests: {', '.join(names) or 'none'}")
    for r in order:
        _known(r, requests, f"{at}.requests", errs, "request")
    errs.raise_if_any(source)
    for t in tests:
        if t.request not in order:
            order.append(t.request)
    validates = {name: _validate_test(name, requests[name], schemas, errs) for name in dict.fromkeys(order)}
    errs.raise_if_any(source)
    steps, placed = [], set()
    for name in order:
        own = [t for t in tests if t.request == name and id(t) not in placed]
        placed.update(id(t) for t in own)
        extra = [validates[name]] if validates[name] is not None and name not in {s.request for s in steps} else []
        steps.append(Step(name, own + extra))
    v2, env = _document(doc, environment, order, suite or request, body.get("variables"), overrides, source,
                        load or TOKEN_LOAD, thresholds)
    _check_expected_names(v2, steps, errs)
    errs.raise_if_any(source)
    return Suite(suite or str(request), env, v2, steps)


def _check_expected_names(v2: Mapping[str, Any], steps: list[Step], errs: Errors) -> None:
    """Every `{{name}}` in an expected value must be a variable, a built-in, or a value some
    request of the run extracts, as in the requests themselves (scenario/preflight.py)."""
    variables = v2.get("variables") or {}
    requests = next(iter(v2["scenarios"].values()))["requests"]
    extracted = {e["name"] for r in requests for e in r.get("extract") or []}
    for step in steps:
        for t in step.tests:
            for i, a in enumerate(t.assertions):
                if not (isinstance(a.expected, str) and "{{" in a.expected):
                    continue
                for name in Template(a.expected).names():
                    if not is_known_name(name, variables) and name not in extracted:
                        errs.add(f"test '{t.name}' assertion {i + 1}",
                                 f"unknown template value '{{{{{name}}}}}'; define it under the environment's or "
                                 f"the suite's variables, extract it in an earlier request, or use a built-in "
                                 f"({', '.join(BUILTINS[:-1])})")


def suite_tests(doc: Mapping[str, Any], suite: Mapping[str, Any], at: str, runs: set[str],
                schemas: Mapping[str, Any], errs: Errors) -> list[SuiteTest]:
    """The suite's tests, then the file's top-level tests on a request the suite runs."""
    out = []
    own = suite.get("tests") or []
    if not isinstance(own, list):
        errs.add(join(at, "tests"), f"must be a list of tests, got {describe(own)}")
        own = []
    for i, raw in enumerate(own):
        t = _test(raw, None, f"{join(at, 'tests')}[{i}]", doc, schemas, errs)
        if t is not None:
            out.append(t)
    top = doc.get("tests") or {}
    if not isinstance(top, Mapping):
        errs.add("tests", f"must be a mapping of test name to test, got {describe(top)}")
        top = {}
    for name, raw in top.items():
        t = _test(raw, str(name), join("tests", name), doc, schemas, errs)
        if t is not None and t.request in runs:
            out.append(t)
    return out


def _test(raw: object, name: str | None, at: str, doc: Mapping[str, Any], schemas: Mapping[str, Any],
          errs: Errors) -> SuiteTest | None:
    if not isinstance(raw, Mapping):
        errs.add(at, f"must be a mapping with name, request and assertions, got {describe(raw)}")
        return None
    for key in raw:
        if key not in TEST_KEYS:
            errs.add(join(at, key), f"unknown field; known: {', '.join(TEST_KEYS)}")
    request = raw.get("request")
    requests = doc.get("requests") if isinstance(doc.get("requests"), Mapping) else {}
    if not _known(request, requests, join(at, "request"), errs, "request"):
        return None
    assertions_raw = raw.get("assertions") or []
    if not isinstance(assertions_raw, list):
        errs.add(join(at, "assertions"), f"must be a list, got {describe(assertions_raw)}")
        return None
    parsed = [parse_assertion(a, f"{at}.assertions[{i}]", errs, schemas) for i, a in enumerate(assertions_raw)]
    title = raw.get("name") if isinstance(raw.get("name"), str) and raw.get("name") else name or str(request)
    return SuiteTest(str(title), str(request), [a for a in parsed if a is not None], list(assertions_raw))


def _validate_test(name: str, req: object, schemas: Mapping[str, Any], errs: Errors) -> SuiteTest | None:
    """A request's `validate` as a test of its own, or None."""
    validate = req.get("validate") if isinstance(req, Mapping) else None
    if validate is None:
        return None
    at = join(join("requests", name), "validate")
    if isinstance(validate, Mapping) and validate and all(k in VALIDATE_ASSERTION_KEYS for k in validate):
        raws: list[Any] = []
        if "status" in validate:
            raws.append({"status": validate["status"]})
        headers = validate.get("headers") or {}
        for header, value in (headers.items() if isinstance(headers, Mapping) else ()):
            raws.append({"header": header, "contains": value})
        if "responseTime" in validate:
            raws.append({"responseTime": validate["responseTime"]})
        if isinstance(validate.get("body"), Mapping):
            raws.append(dict(validate["body"]))
        parsed = [parse_assertion(a, at, errs, schemas) for a in raws]
    else:
        parsed = [parse_assertion({"schema": validate}, at, errs, schemas)]
        raws = []
    return SuiteTest(f"{name}: validate", name, [a for a in parsed if a is not None], raws)


def _document(doc: Mapping[str, Any], environment: str | None, order: list[str], name: str,
              suite_variables: object, overrides: Mapping[str, str] | None, source: str,
              load: Mapping[str, Any], thresholds: Mapping[str, list[str]] | None) -> tuple[dict[str, Any], str]:
    """(the v2 document whose one scenario runs `order` as its iteration, the environment)."""
    first = v1_document(doc, environment, request=order[0], load=load, thresholds=thresholds, source=source)
    env = environment or next(iter(doc.get("environments") or {}), "")
    requests = []
    for r in order:
        one = v1_document(doc, env, request=r, load=TOKEN_LOAD, source=source)
        requests.append(next(iter(one["scenarios"].values()))["requests"][0])
    variables = dict(first.get("variables") or {})
    errs = Errors()
    at = join(join("suites", name), "variables")
    if suite_variables is not None and not isinstance(suite_variables, Mapping):
        errs.add(at, f"must be a mapping, got {describe(suite_variables)}")
        suite_variables = {}
    for key, value in (suite_variables or {}).items():
        try:
            variables[str(key)] = Template(str(value)).render(variables)
        except TemplateError as e:
            errs.add(join(at, key), str(e))
    variables.update(overrides or {})
    errs.raise_if_any(source)
    scenario = next(iter(first["scenarios"].values()))
    out = {**first, "name": f"{name} ({env})", "variables": variables,
           "scenarios": {name: {**scenario, "requests": requests}}}
    return out, str(env)


def v1_paths(lines: list[str], suite: Suite) -> list[str]:
    """Error lines of the v2 document with the v1 fields they came from
    (`scenarios.smoke.requests[1].url` → `requests.getJson.url (suite smoke, step 2)`)."""
    name = next(iter(suite.document["scenarios"]))
    out = []
    for line in lines:
        for i, step in enumerate(suite.steps):
            prefix = f"scenarios.{name}.requests[{i}]."
            if line.startswith(prefix):
                field, sep, rest = line[len(prefix):].partition(": ")
                line = f"requests.{step.request}.{field} (step {i + 1} of {suite.name}){sep}{rest}"
                break
        else:
            for v2, v1 in (("settings.baseUrl", f"environments.{suite.environment}.baseUrl"),
                           ("settings.headers", f"environments.{suite.environment}.headers"),
                           ("variables.", f"environments.{suite.environment}.variables.")):
                if line.startswith(v2):
                    line = v1 + line[len(v2):]
                    break
        out.append(line)
    return out


def ensure_v1(doc: object, source: str) -> Mapping[str, Any]:
    if not is_v1(doc):
        raise ConfigError([f"(root): {source} is not a Lunge v1 file (environments, requests, suites); "
                           f"functional tests run from v1 files"], source)
    return doc  # type: ignore[return-value]
