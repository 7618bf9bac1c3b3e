"""Templates, assertions, extraction and template preflight: pure, table-driven."""

import pytest

from lunge_mp.executors import ConstantVUs
from lunge_mp.plan import Assertion, Extract, Plan, RequestSpec
from lunge_mp.scenario.checks import Response, check, compare, extract, json_path
from lunge_mp.scenario.preflight import unknown_template_names
from lunge_mp.scenario.template import Template, TemplateError

CTX = {"vu": 3, "iteration": 7, "scenario": "s", "user": "ann", "productId": "42"}


@pytest.mark.parametrize("text, expected", [
    pytest.param("/plain", "/plain", id="static"),
    pytest.param("/u/{{user}}/i/{{ iteration }}", "/u/ann/i/7", id="spaces-inside"),
    pytest.param("{{vu}}-{{scenario}}", "3-s", id="builtins"),
    pytest.param("/p/{{productId}}", "/p/42", id="extracted"),
])
def test_template_render(text, expected):
    assert Template(text).render(CTX) == expected


def test_template_dynamic_builtins():
    assert Template("{{timestamp}}").render({}).isdigit()
    assert len(Template("{{uuid}}").render({})) == 36
    values = {int(Template("{{randomInt(5, 7)}}").render({})) for _ in range(200)}
    assert values == {5, 6, 7}


def test_unknown_template_value_raises_instead_of_sending_a_literal():
    with pytest.raises(TemplateError, match="nope"):
        Template("/x/{{nope}}").render(CTX)


BODY = b'{"items": [{"id": 1, "name": "a"}, {"id": 2}], "token": "t-1", "ok": true, "n": 5}'
RESP = Response(201, {"Content-Type": "application/json", "X-Request-ID": "abc"}, BODY, 12.5)


@pytest.mark.parametrize("assertion, ok", [
    pytest.param(Assertion("status", "eq", "201"), True, id="status-eq"),
    pytest.param(Assertion("status", "ne", "200"), True, id="status-ne"),
    pytest.param(Assertion("status", "lt", "300"), True, id="status-lt"),
    pytest.param(Assertion("status", "gte", "202"), False, id="status-gte-fails"),
    pytest.param(Assertion("duration", "lt", "500"), True, id="duration-lt"),
    pytest.param(Assertion("duration", "gt", "500"), False, id="duration-gt-fails"),
    pytest.param(Assertion("header", "contains", "json", name="content-type"), True, id="header-case-insensitive"),
    pytest.param(Assertion("header", "exists", name="X-Missing"), False, id="header-missing"),
    pytest.param(Assertion("header", "matches", "^a.c$", name="X-Request-ID"), True, id="header-matches"),
    pytest.param(Assertion("body", "eq", "2", path="$.items[1].id"), True, id="body-path-eq"),
    pytest.param(Assertion("body", "exists", path="$.items[0].name"), True, id="body-exists"),
    pytest.param(Assertion("body", "exists", path="$.items[5].name"), False, id="body-index-out-of-range"),
    pytest.param(Assertion("body", "eq", "true", path="$.ok"), True, id="body-bool"),
    pytest.param(Assertion("body", "lte", "5", path="$.n"), True, id="body-number-lte"),
    pytest.param(Assertion("body", "contains", "t-1"), True, id="body-text-contains"),
])
def test_assertions(assertion, ok):
    assert (check(assertion, RESP) is None) is ok


def test_assertion_on_malformed_json_fails_with_a_reason():
    bad = Response(200, {}, b"{not json", 1.0)
    problem = check(Assertion("body", "exists", path="$.id"), bad)
    assert problem is not None and "missing" in problem


@pytest.mark.parametrize("rule, expected", [
    pytest.param(Extract("id", "body", path="$.items[0].id"), "1", id="body-path"),
    pytest.param(Extract("items", "body", path="$.items[1]"), '{"id": 2}', id="body-object-as-json"),
    pytest.param(Extract("rid", "header", path="x-request-id"), "abc", id="header"),
    pytest.param(Extract("code", "status"), "201", id="status"),
    pytest.param(Extract("tok", "body", regex=r'"token": "([^"]+)"'), "t-1", id="regex-group"),
    pytest.param(Extract("none", "body", path="$.nothing"), None, id="missing-path"),
    pytest.param(Extract("none", "header", path="X-Missing"), None, id="missing-header"),
])
def test_extraction(rule, expected):
    assert extract(rule, RESP) == expected


@pytest.mark.parametrize("actual, condition, expected, ok", [
    pytest.param("10", "gt", "9", True, id="numeric-not-lexical"),
    pytest.param("abc", "gt", "9", False, id="gt-needs-numbers"),
    pytest.param("1.0", "eq", "1", True, id="numeric-eq"),
    pytest.param("x", "ne", "y", True, id="ne"),
])
def test_compare(actual, condition, expected, ok):
    assert compare(actual, condition, expected) is ok


def test_json_path_subset():
    doc = {"a": {"b-c": [10, {"d": 4}]}}
    assert json_path(doc, "$.a.b-c[1].d") == 4
    assert json_path(doc, "a['b-c'][0]") == 10


def test_preflight_names_unknown_templates_but_accepts_extracted_ones():
    req1 = RequestSpec(name="login", method="POST", url="http://h/login",
                       extract=(Extract("token", "body", path="$.token"),))
    req2 = RequestSpec(name="me", method="GET", url="http://h/me/{{token}}/{{vu}}",
                       headers={"X-Env": "{{env_name}}", "X-Bad": "{{missing}}"})
    plan = Plan(name="p", variables={"env_name": "dev"},
                scenarios=(ConstantVUs(name="s", vus=1, duration=1,
                                        requests=(req1, req2)),))
    errors = unknown_template_names(plan)
    assert len(errors) == 1 and "requests[1].headers.X-Bad" in errors[0] and "missing" in errors[0]
