"""The syntax Lunge's files use, and the functional assertions, as pure functions (no I/O)."""

from __future__ import annotations

import json

import pytest

from lunge_mp.analysis.thresholds import evaluate, parse_threshold
from lunge_mp.config.errors import ConfigError, Errors
from lunge_mp.config.loader import parse_text
from lunge_mp.config.v1_dialect import environment_variables, normalise_v1
from lunge_mp.functional.assertions import parse_assertion
from lunge_mp.functional.perf_suite import perf_suite_document, v2_assertion
from lunge_mp.functional.suite import build_suite
from lunge_mp.scenario.checks import Response, json_path, normalise_path
from lunge_mp.scenario.data import DataFileError, parse_json_table
from lunge_mp.scenario.template import Template, TemplateError, is_known_name

BODY = {"id": 1, "name": "Ann", "email": "ann@example.io", "tags": ["a", "b", "c"], "n": 42,
        "nested": {"k": "v"}, "empty": "", "nothing": None,
        "items": [{"id": 7, "title": "first"}, {"id": 8, "title": "second"}]}


def response(body: object = BODY, status: int = 200, ms: float = 12.0,
             headers: dict[str, str] | None = None) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, headers or {"Content-Type": "application/json; charset=utf-8"}, raw, ms)


def check(raw: dict, resp: Response | None = None, ctx: dict | None = None, schemas: dict | None = None):
    errs = Errors()
    a = parse_assertion(raw, "a", errs, schemas or {})
    assert not errs, errs.items
    return a.evaluate(resp or response(), ctx or {})


# -- assertions: every spelling in Lunge's docs and files ------------------------------------------

@pytest.mark.parametrize("raw, passed", [
    pytest.param({"status": 200}, True, id="status"),
    pytest.param({"status": "200"}, True, id="status-text"),
    pytest.param({"status": 201}, False, id="status-wrong"),
    pytest.param({"responseTime": "<500"}, True, id="rt-lt"),
    pytest.param({"responseTime": "<500ms"}, True, id="rt-lt-unit"),
    pytest.param({"responseTime": ">10"}, True, id="rt-gt"),
    pytest.param({"responseTime": ">=12"}, True, id="rt-gte"),
    pytest.param({"responseTime": "<=12"}, True, id="rt-lte"),
    pytest.param({"responseTime": "<1s"}, True, id="rt-seconds"),
    pytest.param({"responseTime": "=12"}, True, id="rt-eq"),
    pytest.param({"responseTime": "<5"}, False, id="rt-too-slow"),
    pytest.param({"header": "Content-Type", "exists": True}, True, id="header-exists"),
    pytest.param({"header": "content-type", "contains": "application/json"}, True, id="header-any-case"),
    pytest.param({"header": "Content-Type", "equals": "application/json; charset=utf-8"}, True, id="header-eq"),
    pytest.param({"header": "Content-Type", "matches": "application/.*"}, True, id="header-matches"),
    pytest.param({"header": "X-None", "exists": False}, True, id="header-absent"),
    pytest.param({"header": "X-None", "equals": "x"}, False, id="header-missing-eq"),
    pytest.param({"path": "$.name", "exists": True}, True, id="path-exists"),
    pytest.param({"path": "$.non.existent.path", "exists": False}, True, id="path-absent"),
    pytest.param({"path": "$.empty", "exists": True}, True, id="path-empty-string-exists"),
    pytest.param({"path": "$.nothing", "exists": True}, False, id="path-null-not-exists"),
    pytest.param({"path": "$.n", "equals": 42}, True, id="equals-number"),
    pytest.param({"path": "$.n", "equals": "42"}, True, id="equals-text-of-number"),
    pytest.param({"path": "$.id", "equals": "1"}, True, id="equals-as-lunge"),
    pytest.param({"path": "$.name", "equals": "Bob"}, False, id="equals-wrong"),
    pytest.param({"path": "$.email", "matches": ".*@.*\\..*"}, True, id="matches"),
    pytest.param({"path": "$.email", "contains": "@"}, True, id="contains"),
    pytest.param({"path": "$.nested", "contains": "\"k\""}, True, id="contains-object-json"),
    pytest.param({"path": "$.tags", "isArray": True}, True, id="isArray"),
    pytest.param({"path": "$.name", "isArray": True}, False, id="isArray-not"),
    pytest.param({"path": "$.name", "isArray": False}, True, id="isArray-false"),
    pytest.param({"path": "$.tags", "minLength": 3}, True, id="minLength"),
    pytest.param({"path": "$.tags", "minLength": 4}, False, id="minLength-short"),
    pytest.param({"path": "$.items.0.title", "equals": "first"}, True, id="lunge-dot-index"),
    pytest.param({"path": "$.items[1].id", "equals": 8}, True, id="rfc9535-index"),
    pytest.param({"path": "$.items[?@.id > 7].title", "equals": "second"}, True, id="filter"),
    pytest.param({"type": "status", "value": 200}, True, id="yaml-status"),
    pytest.param({"type": "path.exists", "path": "$.id"}, True, id="yaml-path-exists"),
    pytest.param({"type": "path.equals", "path": "$.id", "value": 1}, True, id="yaml-path-equals"),
    pytest.param({"type": "path.isArray", "path": "$.tags"}, True, id="yaml-isArray"),
    pytest.param({"type": "path.minLength", "path": "$.tags", "value": 2}, True, id="yaml-minLength"),
    pytest.param({"type": "status", "condition": "eq", "value": "200"}, True, id="v2-status"),
    pytest.param({"type": "duration", "condition": "lt", "value": "500ms"}, True, id="v2-duration"),
    pytest.param({"type": "body", "path": "$.name", "condition": "eq", "value": "Ann"}, True, id="v2-body"),
    pytest.param({"type": "header", "name": "Content-Type", "condition": "contains", "value": "json"}, True,
                 id="v2-header"),
])
def test_assertion(raw, passed):
    assert check(raw).passed is passed


def test_failure_says_expected_and_actual():
    out = check({"path": "$.name", "equals": "Bob"})
    assert (out.expected, out.actual) == ("Bob", "Ann")
    out = check({"status": 201})
    assert (out.expected, out.actual) == ("201", "200")


def test_expected_value_uses_templates():
    assert check({"path": "$.id", "equals": "{{userId}}"}, ctx={"userId": "1"}).passed
    out = check({"path": "$.id", "equals": "{{userId}}"}, ctx={})
    assert not out.passed and "userId" in out.actual


def test_path_on_a_body_that_is_not_json():
    out = check({"path": "$.id", "equals": 1}, resp=response(b"<html>"))
    assert not out.passed and out.actual == "the body is not JSON"


SCHEMAS = {"user": {"type": "object", "required": ["id", "email"],
                    "properties": {"id": {"type": "integer"}, "email": {"type": "string", "format": "email"}}},
           "strict": {"type": "object", "required": ["missing"]}}


def test_schema_by_name_inline_and_at_a_path():
    assert check({"schema": "user"}, schemas=SCHEMAS).passed
    assert check({"schema": {"type": "array"}, "path": "$.tags"}).passed
    out = check({"schema": "strict"}, schemas=SCHEMAS)
    assert not out.passed and "'missing' is a required property" in out.actual
    assert check({"schema": {"$defs": {"s": {"type": "string"}}, "properties": {"name": {"$ref": "#/$defs/s"}}}}).passed
    bad_email = dict(BODY, email="not-an-email")
    assert not check({"schema": "user"}, resp=response(bad_email), schemas=SCHEMAS).passed


@pytest.mark.parametrize("raw, where", [
    pytest.param({"stauts": 200}, "unknown assertion", id="typo"),
    pytest.param({"status": "ok"}, "HTTP status code", id="status-text"),
    pytest.param({"responseTime": "<fast"}, "responseTime", id="rt"),
    pytest.param({"path": "$.a", "matches": "("}, "regular expression", id="regex"),
    pytest.param({"path": "$.a[", "exists": True}, "invalid JSON path", id="path"),
    pytest.param({"path": "$.a", "exists": True, "equals": 1}, "takes one of", id="two-ops"),
    pytest.param({"schema": "nope"}, "unknown schema 'nope'", id="schema-name"),
    pytest.param({"schema": {"type": 12}}, "not a valid JSON Schema", id="schema-bad"),
    pytest.param({"schema": {"properties": {"a": {"$ref": "file:///etc/passwd"}}}}, "not fetched", id="schema-ref"),
    pytest.param({"type": "path.between", "path": "$.a"}, "unknown assertion type", id="yaml-type"),
])
def test_bad_assertions_are_config_errors(raw, where):
    errs = Errors()
    assert parse_assertion(raw, "suites.s.tests[0].assertions[0]", errs, {}) is None
    assert any(where in line for line in errs.items), errs.items
    assert all(line.startswith("suites.s.tests[0].assertions[0]") for line in errs.items)


# -- paths, templates, thresholds, data ----------------------------------------------------------

@pytest.mark.parametrize("written, read", [
    ("$.0.id", "$[0].id"), ("$.items.0.id", "$.items[0].id"), ("0.id", "$[0].id"),
    ("$..0", "$..[0]"), ("$['a.0'].b", "$['a.0'].b"), ("$.a.1b", "$.a.1b"), ("$[0].id", "$[0].id"),
    ("$.a[?@.x == 1.5].0", "$.a[?@.x == 1.5][0]"),
])
def test_lunge_dot_index_paths(written, read):
    assert normalise_path(written) == read


def test_dot_index_reads_values():
    assert json_path([{"id": 5}], "$.0.id") == 5
    assert json_path({"0": {"id": 6}}, "$.0.id") == 6   # a mapping's "0" key, as before


def test_lunge_template_names():
    assert Template("{{vuId}}-{{vu}}").render({"vu": 3}) == "3-3"
    a, b = Template("{{requestId}}").render({}), Template("{{requestId}}").render({})
    assert len(a) == 36 and a != b
    assert is_known_name("vuId", {}) and is_known_name("requestId", {})
    with pytest.raises(TemplateError):
        Template("{{vuid}}").render({"vu": 1})


@pytest.mark.parametrize("metric, expr, observed, passed", [
    ("http_req_duration", "p50 < 200ms", 150.0, True),
    ("http_req_duration", "p(95)<500", 600.0, False),
    ("http_req_duration", "max < 5s", 4999.0, True),
    ("http_req_duration", "avg < 120ms", 130.0, False),
    ("http_req_duration", "min < 50ms", 10.0, True),
    ("http_req_duration", "med<=100", 100.0, True),
    ("http_reqs", "count > 24000", 24001.0, True),
    ("http_reqs", "rate > 80", 79.0, False),
    ("http_req_failed", "rate < 0.01", 0.001, True),
    ("http_req_failed", "rate<1%", 0.02, False),
])
def test_every_lunge_threshold_spelling(metric, expr, observed, passed):
    assert evaluate(parse_threshold(metric, expr), observed) is passed


def test_json_data_table():
    header, rows = parse_json_table('[{"email": "a@x.io", "id": 1}, {"id": 2, "email": "b@x.io"}]')
    assert header == ("email", "id") and rows == [("a@x.io", "1"), ("b@x.io", "2")]
    for bad in ("{}", "[]", '[{"a": 1}, {"b": 2}]', "[1, 2]", "[{"):
        with pytest.raises(DataFileError):
            parse_json_table(bad)


def test_first_yaml_document_is_read(capsys):
    assert parse_text("a: 1\n---\nb: 2\n", "yaml", "multi.yaml") == {"a": 1}
    assert "only the first YAML document" in capsys.readouterr().err
    assert parse_text("a: 1\n---\n# a comment only\n", "yaml", "quiet.yaml") == {"a": 1}
    assert capsys.readouterr().err == ""


# -- the YAML v1 dialect and suites ---------------------------------------------------------------

DIALECT = {
    "name": "x", "baseURL": "http://127.0.0.1:9", "description": "d",
    "environments": {"default": {"userId": "1"}},
    "requests": {"getUser": {"method": "GET", "path": "/users/1", "description": "one"},
                 "list": {"method": "GET", "path": "/users"}},
    "suites": {"basic": {"description": "b", "requests": ["getUser"]}},
    "tests": {"userTest": {"request": "getUser", "description": "t",
                           "assertions": [{"type": "status", "value": 200}]},
              "listTest": {"request": "list", "assertions": [{"type": "path.isArray", "path": "$"}]}},
}


def test_dialect_normalised():
    doc = normalise_v1(DIALECT)
    assert doc["environments"] == {"default": {"variables": {"userId": "1"}, "baseUrl": "http://127.0.0.1:9"}}
    assert doc["requests"]["getUser"] == {"method": "GET", "url": "/users/1"}
    assert "name" not in doc and "baseURL" not in doc and doc["suites"]["basic"] == {"requests": ["getUser"]}
    assert environment_variables(doc, None) == {"userId": "1"}


def test_suite_takes_top_level_tests_of_its_requests():
    suite = build_suite(normalise_v1(DIALECT), None, "basic", None)
    assert [s.request for s in suite.steps] == ["getUser"]
    assert [t.name for t in suite.steps[0].tests] == ["userTest"]
    one = build_suite(normalise_v1(DIALECT), None, None, "list")
    assert [t.name for s in one.steps for t in s.tests] == ["listTest"]


V1 = {
    "environments": {"dev": {"baseUrl": "http://127.0.0.1:9", "variables": {"user": "u1"}}},
    "requests": {"a": {"url": "/a", "method": "GET", "extract": {"id": "$.0.id"}},
                 "b": {"url": "/b/{{id}}", "method": "GET"},
                 "c": {"url": "/c", "method": "GET", "validate": {"type": "object"}}},
    "suites": {"s": {"requests": ["a", "b"], "variables": {"who": "{{user}}-x"},
                     "tests": [{"name": "b ok", "request": "b", "assertions": [{"status": 200},
                                                                             {"path": "$.id", "equals": "{{id}}"}]},
                               {"name": "c ok", "request": "c", "assertions": [{"status": 200}]}]}},
}


def test_suite_steps_variables_and_order():
    suite = build_suite(V1, "dev", "s", None)
    assert [s.request for s in suite.steps] == ["a", "b", "c"]       # c: a test's request, run at the end
    assert [t.name for t in suite.steps[2].tests] == ["c ok", "c: validate"]
    assert suite.document["variables"] == {"user": "u1", "who": "u1-x"}
    reqs = next(iter(suite.document["scenarios"].values()))["requests"]
    assert [r["url"] for r in reqs] == ["/a", "/b/{{id}}", "/c"]


@pytest.mark.parametrize("args, message", [
    (("dev", "nope", None), "unknown suite 'nope'"),
    (("dev", None, None), "give one of -s SUITE"),
    (("prod", "s", None), "unknown environment 'prod'"),
])
def test_suite_errors(args, message):
    with pytest.raises(ConfigError) as e:
        build_suite(V1, *args)
    assert any(message in line for line in e.value.errors), e.value.errors


def test_suite_as_load_test_counts_assertions_as_checks():
    v2, warnings = perf_suite_document(V1, "dev", "s", {"rps": 5, "duration": "2s"}, None)
    scenario = v2["scenarios"]["s"]
    assert scenario["executor"] == "constant-arrival-rate" and scenario["rate"] == 5
    checks = [r.get("assertions", []) for r in scenario["requests"]]
    assert checks[0] == [] and checks[1][0] == {"type": "status", "condition": "eq", "value": "200"}
    assert {"type": "status", "condition": "eq", "value": "200"} in checks[2]
    assert {"type": "body", "path": "$.id", "condition": "eq", "value": "{{id}}"} in checks[1]  # rendered per VU
    assert len(warnings) == 1 and "JSON Schema" in warnings[0]      # c's validate


@pytest.mark.parametrize("raw, v2", [
    ({"status": 200}, {"type": "status", "condition": "eq", "value": "200"}),
    ({"responseTime": "<500"}, {"type": "duration", "condition": "lt", "value": "500"}),
    ({"header": "X-A", "contains": "b"}, {"type": "header", "name": "X-A", "condition": "contains", "value": "b"}),
    ({"path": "$.a", "exists": True}, {"type": "body", "path": "$.a", "condition": "exists"}),
    ({"path": "$.a", "equals": "{{user}}"}, {"type": "body", "path": "$.a", "condition": "eq", "value": "u1"}),
    ({"path": "$.a", "isArray": True}, {"type": "body", "path": "$.a", "condition": "matches", "value": r"^\["}),
    ({"path": "$.a", "minLength": 3}, {"type": "body", "path": "$.a[2]", "condition": "exists"}),
    ({"path": "$.a", "exists": False}, None),
])
def test_v2_assertion_for_load(raw, v2):
    errs = Errors()
    a = parse_assertion(raw, "a", errs, {})
    assert v2_assertion(a, {"user": "u1"})[0] == v2


def test_v2_check_value_with_a_template():
    from lunge_mp.plan import Assertion as V2
    from lunge_mp.scenario.checks import CompiledCheck

    eq = CompiledCheck(V2(type="body", path="$.id", condition="eq", value="{{want}}"))
    assert eq.templated
    assert eq(response(), {"want": "1"}) is None
    assert "got 1" in eq(response(), {"want": "2"})
    assert "unknown template value" in eq(response(), {})
    rx = CompiledCheck(V2(type="body", path="$.name", condition="matches", value="^{{who}}$"))
    assert rx(response(), {"who": "Ann"}) is None and rx(response(), {"who": "Bob"}) is not None
    plain = CompiledCheck(V2(type="status", value="200"))
    assert not plain.templated and plain(response()) is None


def test_unknown_name_in_an_expected_value_is_refused_before_the_run():
    doc = json.loads(json.dumps(V1))
    doc["suites"]["s"]["tests"][0]["assertions"].append({"path": "$.x", "equals": "{{nobody}}"})
    with pytest.raises(ConfigError) as e:
        build_suite(doc, "dev", "s", None)
    assert any("test 'b ok' assertion 3" in line and "'{{nobody}}'" in line and "requestId" in line
               for line in e.value.errors), e.value.errors


def test_response_text_cannot_drive_the_terminal_or_break_junit():
    import xml.etree.ElementTree as ET

    from lunge_mp.functional.assertions import Outcome
    from lunge_mp.functional.report import printable, step_lines, to_junit
    from lunge_mp.functional.runner import CaseResult, RunResult, StepResult

    assert printable("a\x1b[2Jb\tc\n") == "a\\x1b[2Jb\tc\n"
    step = StepResult("r", "GET", "http://h/", 200, 1.0,
                      tests=[CaseResult("t\x00", [Outcome("path $.a equals 'x'", False, "x", "\x1b[31mred\x07")])])
    lines = step_lines(step)
    assert not any("\x1b" in line or "\x07" in line for line in lines)
    root = ET.fromstring(to_junit(RunResult("s", "dev", [step])).split("\n", 1)[1])
    assert root.find("testsuite").get("failures") == "1"
