"""What `lunge-mp test` prints and writes: a line per test, a summary, JSON and JUnit XML.

    ✓ PASS  JSON endpoint returns valid structure   GET /json → 200 (3.1 ms)
    ✗ FAIL  UUID endpoint returns valid UUID        GET /uuid → 200 (2.0 ms)
        ✗ path $.uuid matches /^x/: expected matches /^x/, got '1c8a…'

Extracted values are named, never shown: they are often tokens. The JSON document
(schemaVersion 1) is described in docs/RESULTS.md ("Functional test results").
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree as ET

from lunge_mp.functional.runner import RunResult, StepResult

SCHEMA_VERSION = 1
# C0/C1 controls but tab and newline (a response must not drive the terminal), and what XML 1.0 forbids
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def printable(text: str) -> str:
    """`text` with control characters shown as escapes (`\\x1b`), safe for a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _xml(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def step_lines(step: StepResult) -> list[str]:
    """The console lines of one step: its tests, or the request alone when it has none."""
    sent = f"{step.method} {step.url or '(not sent)'}"
    got = f" → {step.status} ({step.duration_ms:.1f} ms)" if not step.error else f" → {step.error}"
    lines = []
    if not step.tests:
        extra = f"; extracted {', '.join(step.extracted)}" if step.extracted else ""
        mark = "✗ ERROR" if step.error else "· sent "
        lines.append(f"  {mark}  {step.request}   {sent}{got}{extra}")
    for test in step.tests:
        mark = "✓ PASS " if test.passed else "✗ FAIL "
        lines.append(f"  {mark}  {test.name}   {sent}{got}")
        for o in test.outcomes:
            if not o.passed:
                lines.append(f"      ✗ {o.description}: expected {o.expected}, got {o.actual}")
    if step.not_extracted:
        lines.append(f"      ! not extracted (not in the response): {', '.join(step.not_extracted)}")
    return [printable(line) for line in lines]


def summary_lines(result: RunResult) -> list[str]:
    tests = result.tests
    failed = sum(not t.passed for t in tests)
    checks = [o for t in tests for o in t.outcomes]
    bad_checks = sum(not o.passed for o in checks)
    errors = sum(bool(s.error) for s in result.steps)
    verdict = "PASSED" if result.passed else "FAILED"
    return ["",
            f"{verdict}: suite {result.suite} in {result.environment}: "
            f"{len(tests) - failed}/{len(tests)} tests passed, "
            f"{len(checks) - bad_checks}/{len(checks)} assertions passed, "
            f"{len(result.steps)} requests ({errors} not answered) in {result.duration_ms:.0f} ms"]


def to_json(result: RunResult) -> dict[str, Any]:
    tests = result.tests
    checks = [o for t in tests for o in t.outcomes]
    return {
        "schemaVersion": SCHEMA_VERSION,
        "kind": "functional",
        "suite": result.suite,
        "environment": result.environment,
        "passed": result.passed,
        "durationMs": round(result.duration_ms, 3),
        "summary": {"tests": len(tests), "testsPassed": sum(t.passed for t in tests),
                    "assertions": len(checks), "assertionsPassed": sum(o.passed for o in checks),
                    "requests": len(result.steps), "requestErrors": sum(bool(s.error) for s in result.steps)},
        "steps": [{
            "request": s.request, "method": s.method, "url": s.url, "status": s.status,
            "durationMs": round(s.duration_ms, 3), "error": s.error or None,
            "extracted": s.extracted, "notExtracted": s.not_extracted,
            "tests": [{"name": t.name, "passed": t.passed,
                       "assertions": [{"description": o.description, "passed": o.passed,
                                       "expected": o.expected, "actual": o.actual} for o in t.outcomes]}
                      for t in s.tests],
        } for s in result.steps],
    }


def to_json_text(result: RunResult) -> str:
    return json.dumps(to_json(result), indent=2) + "\n"


def to_junit(result: RunResult) -> str:
    """One <testsuite> for the suite, one <testcase> per test (a request with no test is a
    test case that passes when it is answered), a <failure> per failing assertion."""
    cases = []
    for s in result.steps:
        tests = s.tests or [None]
        for t in tests:
            case = ET.Element("testcase", name=_xml(t.name) if t else f"{s.request} (request)",
                              classname=f"{result.suite}.{s.request}", time=f"{s.duration_ms / 1000:.3f}")
            failures = ([o for o in t.outcomes if not o.passed] if t else [])
            if t is None and s.error:
                ET.SubElement(case, "error", message=_xml(s.error)).text = _xml(f"{s.method} {s.url}: {s.error}")
            for o in failures:
                ET.SubElement(case, "failure", message=_xml(o.description), type="assertion").text = _xml(
                    f"{o.description}\nexpected: {o.expected}\nactual: {o.actual}")
            cases.append(case)
    suite = ET.Element("testsuite", name=result.suite, tests=str(len(cases)),
                       failures=str(sum(1 for c in cases if c.find("failure") is not None)),
                       errors=str(sum(1 for c in cases if c.find("error") is not None)),
                       time=f"{result.duration_ms / 1000:.3f}")
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="environment", value=result.environment)
    suite.extend(cases)
    root = ET.Element("testsuites", name="lunge-mp test")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
