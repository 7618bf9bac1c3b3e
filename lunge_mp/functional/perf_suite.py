"""`perf -c FILE -e ENV -s SUITE`: a functional suite as the iteration of a load test. Pure.

The iteration is the suite's requests in order (lunge_mp/functional/suite.py); the load comes
from the perf flags (`--concurrency --rps --duration --ramp-up --ramp-down --iterations`, with
Lunge's defaults: 10 VUs for 30s). Each test's assertions become its request's checks, so
they count in the `checks` metric (a `checks` threshold judges them, as in k6):

    {"status": 200}                        status eq 200
    {"responseTime": "<500"}               duration lt 500 (ms)
    header / path exists: true             header / body exists
    header / path equals|contains|matches  eq | contains | matches
    path isArray: true                     body matches ^\\[  (the value's JSON is an array)
    path minLength: N                      body exists at PATH[N-1]

Not applied under load (a warning names each): JSON Schema assertions, `exists: false`,
`isArray: false`; these run in `lunge-mp test`. Expected values that use the file's
variables are filled in; those that use a value extracted during the run are rendered from
the VU's values when the check runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lunge_mp.functional.assertions import Assertion, _truthy
from lunge_mp.functional.suite import build_suite
from lunge_mp.scenario.checks import as_text
from lunge_mp.scenario.template import Template, TemplateError


def perf_suite_document(doc: Mapping[str, Any], environment: str | None, suite: str,
                        load: Mapping[str, Any] | None, thresholds: Mapping[str, list[str]] | None,
                        source: str = "") -> tuple[dict[str, Any], list[str]]:
    """(the v2 document of the load test, warnings about assertions not applied)."""
    built = build_suite(doc, environment, suite, None, source=source, load=load, thresholds=thresholds)
    v2 = built.document
    scenario = next(iter(v2["scenarios"].values()))
    variables = v2.get("variables") or {}
    warnings: list[str] = []
    requests = []
    for step, req in zip(built.steps, scenario["requests"]):
        checks = []
        for test in step.tests:
            for i, a in enumerate(test.assertions):
                check, why = v2_assertion(a, variables)
                if check is not None:
                    checks.append(check)
                else:
                    warnings.append(f"test '{test.name}' assertion {i + 1} ({a.describe()}) is not applied "
                                    f"under load: {why}; `lunge-mp test` checks it")
        requests.append({**req, "assertions": checks} if checks else req)
    scenario["requests"] = requests
    v2["description"] = f"Lunge v1 suite '{suite}' in environment '{built.environment}' as a load test"
    return v2, warnings


def v2_assertion(a: Assertion, variables: Mapping[str, str]) -> tuple[dict[str, str] | None, str]:
    """The v2 assertion for a Lunge one, or (None, why not)."""
    expected = a.expected
    if isinstance(expected, str) and "{{" in expected:
        try:
            expected = Template(expected).render(variables)
        except TemplateError:
            pass    # a value extracted during the run: the check renders it from the VU's values
    match a.kind, a.op:
        case "status", op:
            return {"type": "status", "condition": "eq" if op == "equals" else op, "value": as_text(expected)}, ""
        case "responseTime", op:
            return {"type": "duration", "condition": op, "value": f"{float(expected):g}"}, ""
        case "schema", _:
            return None, "JSON Schema is checked by functional tests only"
        case ("header" | "path"), ("exists" | "isArray") if not _truthy(expected):
            return None, f"'{a.op}: false' has no load-test check"
    where = {"type": "header", "name": a.target} if a.kind == "header" else {"type": "body", "path": a.target}
    match a.op:
        case "exists":
            return {**where, "condition": "exists"}, ""
        case "isArray":
            return {**where, "condition": "matches", "value": r"^\["}, ""
        case "minLength":
            n = int(float(as_text(expected)))
            if n <= 0:
                return None, "minLength 0 always holds"
            return {"type": "body", "path": f"{a.target}[{n - 1}]", "condition": "exists"}, ""
        case "equals":
            return {**where, "condition": "eq", "value": as_text(expected)}, ""
        case "contains" | "matches":
            return {**where, "condition": a.op, "value": as_text(expected)}, ""
    return None, f"unknown operation {a.op}"

