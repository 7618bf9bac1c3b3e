"""Scenarios that behave like users, the pure parts: templates, JSONPath, every assertion
condition, extraction, cookie jars, CSV feeders, and the config that declares them.
Table-driven; the JSONPath fast path is checked against the library it stands in for."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lunge_mp.config import ConfigError, plan_from_dict
from lunge_mp.config import load_plan
from lunge_mp.executors import ConstantVUs
from lunge_mp.plan import Assertion, DataSource, Extract, Plan, RequestSpec
from lunge_mp.scenario.checks import (MISSING, CompiledCheck, CompiledExtract, JsonPath, Response, compare,
                                      compile_path, path_problem)
from lunge_mp.scenario.cookies import CookieJar, default_path, domain_match, path_match
from lunge_mp.scenario.data import DataFileError, Feeder, data_names, parse_csv
from lunge_mp.scenario.preflight import unknown_template_names
from lunge_mp.scenario.template import Template, TemplateError

# ---------------------------------------------------------------------------------------------
# templates
# ---------------------------------------------------------------------------------------------

CTX = {"vu": 3, "iteration": 7, "scenario": "s", "user": "ann", "users.email": "a@x.org", "id": "42"}


@pytest.mark.parametrize("text, expected", [
    pytest.param("/plain", "/plain", id="static"),
    pytest.param("/u/{{user}}/i/{{ iteration }}", "/u/ann/i/7", id="variable-and-builtin"),
    pytest.param("{{users.email}}", "a@x.org", id="data-column"),
    pytest.param("/items/{{id}}?vu={{vu}}", "/items/42?vu=3", id="extracted"),
    pytest.param("{{ vu }}{{vu}}", "33", id="adjacent"),
    pytest.param("{x} {{user}} }}{{", "{x} ann }}{{", id="stray-braces-kept"),
])
def test_template_renders(text, expected):
    assert Template(text).render(CTX) == expected


@pytest.mark.parametrize("text", ["{{nope}}", "/a/{{users.phone}}", "{{}}x{{missing}}"])
def test_an_unknown_name_raises_instead_of_sending_a_literal(text):
    with pytest.raises(TemplateError):
        Template(text).render(CTX)


def test_template_names_are_listed_for_preflight():
    assert Template("{{a}}/{{ b.c }}/{{randomInt(1,2)}}").names() == ["a", "b.c", "randomInt(1,2)"]
    assert data_names(["a", "b.c", "users.email", ".x", "y."]) == {("b", "c"), ("users", "email")}


# ---------------------------------------------------------------------------------------------
# JSONPath
# ---------------------------------------------------------------------------------------------

DOC = {"items": [{"id": 1, "name": "a", "tags": ["x"]}, {"id": 2, "ok": True}], "token": "t-1",
       "n": 5, "nested": {"a b": {"0": "zero"}}, "empty": [], "nothing": None}


@pytest.mark.parametrize("path, expected", [
    pytest.param("$.items[0].id", 1, id="dot-index"),
    pytest.param("items[1].id", 2, id="no-dollar"),
    pytest.param("$.items[-1].ok", True, id="negative-index"),
    pytest.param("$['nested']['a b']['0']", "zero", id="quoted-names"),
    pytest.param("$.nested['a b'][0]", "zero", id="index-on-mapping-reads-its-key"),
    pytest.param("$.items[*].id", 1, id="wildcard-first"),
    pytest.param("$.items[?@.ok == true].id", 2, id="filter"),
    pytest.param("$..id", 1, id="descendants"),
    pytest.param("$.items[1:].id", 2, id="slice"),
    pytest.param("$.items[5].id", MISSING, id="index-out-of-range"),
    pytest.param("$.token.x", MISSING, id="name-on-a-string"),
    pytest.param("$.empty[*]", MISSING, id="no-node"),
    pytest.param("$.nothing", None, id="json-null"),
    pytest.param("$", DOC, id="root"),
])
def test_json_path(path, expected):
    p = compile_path(path)
    assert p.first(DOC) == expected if expected is not MISSING else p.first(DOC) is MISSING
    assert (p.first(DOC) is MISSING) == (p.reference(DOC) is MISSING)
    if expected is not MISSING:
        assert p.first(DOC) == p.reference(DOC)


@pytest.mark.parametrize("path", ["$.[", "$..", "$[?(@.a ==]", "$.items[", "   "])
def test_bad_json_paths_are_named_at_load(path):
    assert path_problem(path) is not None
    if path.strip():
        with pytest.raises(ValueError, match="invalid JSON path"):
            JsonPath(path)


def test_paths_are_compiled_once():
    assert compile_path("$.a.b") is compile_path("$.a.b")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text("ab0", max_size=2),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "0", "-1"]),
                                                                     children, max_size=3),
    max_leaves=12)
steps = st.lists(st.sampled_from([".a", ".b", "['0']", "[0]", "[1]", "[-1]", "['-1']"]), max_size=4)


def test_a_json_string_body_is_a_leaf_not_json_text_again():
    # the body '"[1, 2]"' parses to the str '[1, 2]': no path reaches inside it
    assert JsonPath("$").first("[1, 2]") == "[1, 2]"
    assert JsonPath("$[*]").first("[1, 2]") is MISSING
    assert JsonPath("$").reference("0") == "0"


@settings(max_examples=300, deadline=None)
@given(doc=json_values, path=steps)
def test_prop_fast_path_equals_the_library(doc, path):
    p = JsonPath("$" + "".join(path))
    fast, slow = p.first(doc), p.reference(doc)
    assert (fast is MISSING) == (slow is MISSING)
    if fast is not MISSING:
        assert fast == slow and type(fast) is type(slow)


# ---------------------------------------------------------------------------------------------
# assertions: every condition, malformed bodies, missing headers
# ---------------------------------------------------------------------------------------------

BODY = b'{"items": [{"id": 1, "name": "a"}, {"id": 2}], "token": "t-1", "ok": true, "n": 5, "s": "10"}'
RESP = Response(201, {"Content-Type": "application/json", "X-Request-ID": "abc-123"}, BODY, 12.5)
NOT_JSON = Response(200, {}, b"{not json", 1.0)
EMPTY = Response(204, {}, b"", 1.0)


def body(cond, value="", path="$.n"):
    return Assertion("body", cond, value, path=path)


@pytest.mark.parametrize("assertion, resp, ok", [
    # status
    (Assertion("status", "eq", "201"), RESP, True),
    (Assertion("status", "eq", "200"), RESP, False),
    (Assertion("status", "ne", "200"), RESP, True),
    (Assertion("status", "gt", "200"), RESP, True),
    (Assertion("status", "lt", "201"), RESP, False),
    (Assertion("status", "gte", "201"), RESP, True),
    (Assertion("status", "lte", "200"), RESP, False),
    (Assertion("status", "contains", "20"), RESP, True),
    (Assertion("status", "matches", "^2..$"), RESP, True),
    # duration (ms)
    (Assertion("duration", "lt", "500"), RESP, True),
    (Assertion("duration", "gt", "500"), RESP, False),
    (Assertion("duration", "gte", "12.5"), RESP, True),
    (Assertion("duration", "lte", "12"), RESP, False),
    (Assertion("duration", "eq", "12.5"), RESP, True),
    (Assertion("duration", "ne", "12.5"), RESP, False),
    # header: any case, every condition, and a missing header
    (Assertion("header", "eq", "application/json", name="content-type"), RESP, True),
    (Assertion("header", "ne", "text/html", name="Content-Type"), RESP, True),
    (Assertion("header", "contains", "json", name="CONTENT-TYPE"), RESP, True),
    (Assertion("header", "matches", r"^abc-\d+$", name="x-request-id"), RESP, True),
    (Assertion("header", "exists", name="X-Request-ID"), RESP, True),
    (Assertion("header", "exists", name="X-Missing"), RESP, False),
    (Assertion("header", "eq", "x", name="X-Missing"), RESP, False),
    (Assertion("header", "contains", "x", name="X-Missing"), RESP, False),
    (Assertion("header", "ne", "x", name="X-Missing"), RESP, True),
    (Assertion("header", "gt", "1", name="X-Missing"), RESP, False),
    # body at a path
    (body("eq", "5"), RESP, True),
    (body("eq", "5.0"), RESP, True),
    (body("ne", "6"), RESP, True),
    (body("gt", "4"), RESP, True),
    (body("lt", "5"), RESP, False),
    (body("gte", "5"), RESP, True),
    (body("lte", "4"), RESP, False),
    (body("contains", "5"), RESP, True),
    (body("matches", r"^\d$"), RESP, True),
    (body("exists"), RESP, True),
    (body("gt", "9", path="$.s"), RESP, True),          # "10" > 9 as numbers, not as text
    (body("eq", "true", path="$.ok"), RESP, True),
    (body("eq", '{"id": 2}', path="$.items[1]"), RESP, True),
    (body("contains", '"name"', path="$.items[0]"), RESP, True),
    (body("exists", path="$.items[5].id"), RESP, False),
    (body("exists", path="$.items[?@.id > 1].id"), RESP, True),
    (body("eq", "x", path="$.missing"), RESP, False),
    (body("ne", "x", path="$.missing"), RESP, True),
    # whole body text
    (Assertion("body", "contains", "t-1"), RESP, True),
    (Assertion("body", "matches", r'"ok":\s*true'), RESP, True),
    (Assertion("body", "eq", ""), EMPTY, True),
    # malformed or empty JSON: nothing exists at any path; text conditions still work
    (body("exists", path="$.id"), NOT_JSON, False),
    (body("eq", "1", path="$.id"), NOT_JSON, False),
    (body("ne", "1", path="$.id"), NOT_JSON, True),
    (body("exists", path="$"), EMPTY, False),
    (Assertion("body", "contains", "not json"), NOT_JSON, True),
], ids=lambda v: v if isinstance(v, bool) else None)
def test_assertions(assertion, resp, ok):
    assert (CompiledCheck(assertion)(resp) is None) is ok


@pytest.mark.parametrize("assertion, resp, words", [
    (body("exists", path="$.id"), NOT_JSON, ["body $.id exists failed", "not JSON"]),
    (Assertion("header", "eq", "x", name="X-Missing"), RESP, ["header X-Missing eq 'x'", "got missing"]),
    (Assertion("status", "eq", "200"), RESP, ["status status eq '200' failed (got 201)"]),
])
def test_failed_assertions_say_what_they_got(assertion, resp, words):
    problem = CompiledCheck(assertion)(resp)
    for w in words:
        assert w in problem


@pytest.mark.parametrize("actual, condition, expected, ok", [
    pytest.param("10", "gt", "9", True, id="numeric-not-lexical"),
    pytest.param("abc", "gt", "9", False, id="gt-needs-numbers"),
    pytest.param("1.0", "eq", "1", True, id="numeric-eq"),
    pytest.param("a", "eq", "a", True, id="text-eq"),
    pytest.param("x", "ne", "y", True, id="ne"),
    pytest.param(None, "exists", "", False, id="null-does-not-exist"),
    pytest.param(MISSING, "ne", "y", True, id="missing-ne"),
    pytest.param(MISSING, "eq", "y", False, id="missing-eq"),
    pytest.param(False, "eq", "false", True, id="bool-as-json"),
    pytest.param(3, "matches", "^3$", True, id="number-matches"),
])
def test_compare(actual, condition, expected, ok):
    assert compare(actual, condition, expected) is ok


# ---------------------------------------------------------------------------------------------
# extraction
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, resp, expected", [
    pytest.param(Extract("id", "body", path="$.items[0].id"), RESP, "1", id="body-path"),
    pytest.param(Extract("ids", "body", path="$.items[?@.id > 1].id"), RESP, "2", id="body-filter"),
    pytest.param(Extract("item", "body", path="$.items[1]"), RESP, '{"id": 2}', id="object-as-json"),
    pytest.param(Extract("ok", "body", path="$.ok"), RESP, "true", id="bool-as-json"),
    pytest.param(Extract("rid", "header", path="x-request-id"), RESP, "abc-123", id="header-any-case"),
    pytest.param(Extract("num", "header", path="X-Request-ID", regex=r"-(\d+)"), RESP, "123", id="header-regex"),
    pytest.param(Extract("code", "status"), RESP, "201", id="status"),
    pytest.param(Extract("first", "status", regex=r"^\d"), RESP, "2", id="status-regex-no-group"),
    pytest.param(Extract("tok", "body", regex=r'"token": "([^"]+)"'), RESP, "t-1", id="body-regex"),
    pytest.param(Extract("tok", "body", regex=r"not json"), NOT_JSON, "not json", id="regex-on-non-json"),
    pytest.param(Extract("none", "body", path="$.nothing"), RESP, None, id="missing-path"),
    pytest.param(Extract("id", "body", path="$.id"), NOT_JSON, None, id="malformed-json"),
    pytest.param(Extract("id", "body", path="$.id"), EMPTY, None, id="empty-body"),
    pytest.param(Extract("none", "header", path="X-Missing"), RESP, None, id="missing-header"),
    pytest.param(Extract("none", "body", regex=r"zzz(\d)"), RESP, None, id="regex-no-match"),
])
def test_extraction(rule, resp, expected):
    assert CompiledExtract(rule)(resp) == expected


# ---------------------------------------------------------------------------------------------
# cookies
# ---------------------------------------------------------------------------------------------

NOW = 1_700_000_000.0


@pytest.mark.parametrize("host, domain, ok", [
    ("example.com", "example.com", True), ("api.example.com", "example.com", True),
    ("badexample.com", "example.com", False), ("127.0.0.1", "0.0.1", False), ("127.0.0.1", "127.0.0.1", True),
])
def test_domain_match(host, domain, ok):
    assert domain_match(host, domain) is ok


@pytest.mark.parametrize("request_path, cookie_path, ok", [
    ("/", "/", True), ("/a/b", "/a", True), ("/a/b", "/a/", True), ("/ab", "/a", False), ("/", "/a", False),
])
def test_path_match(request_path, cookie_path, ok):
    assert path_match(request_path, cookie_path) is ok


@pytest.mark.parametrize("path, expected", [("", "/"), ("/", "/"), ("/a", "/"), ("/a/b", "/a"), ("x", "/")])
def test_default_path(path, expected):
    assert default_path(path) == expected


@pytest.mark.parametrize("set_cookies, origin, url, expected", [
    pytest.param(["a=1"], "http://h/login", "http://h/x", "a=1", id="host-only"),
    pytest.param(["a=1", "b=2; Path=/"], "http://h/login", "http://h/", "a=1; b=2", id="two-cookies-in-order"),
    pytest.param(["a=1", "a=2"], "http://h/login", "http://h/", "a=2", id="replaced"),
    pytest.param(["a=1; Path=/app", "b=2; Path=/"], "http://h/app/in", "http://h/app/x", "a=1; b=2",
                 id="longer-path-first"),
    pytest.param(["b=2; Path=/", "a=1; Path=/app"], "http://h/app/in", "http://h/app/x", "a=1; b=2",
                 id="longer-path-first-whatever-the-order"),
    pytest.param(["a=1"], "http://h/app/in", "http://h/x", None, id="default-path-is-the-folder"),
    pytest.param(["a=1; Path=/app"], "http://h/", "http://h/other", None, id="path-mismatch"),
    pytest.param(["a=1"], "http://h/", "http://other/", None, id="host-only-elsewhere"),
    pytest.param(["a=1"], "http://h.org/", "http://api.h.org/", None, id="host-only-not-subdomain"),
    pytest.param(["a=1; Domain=.h.org"], "http://h.org/", "http://api.h.org/", "a=1", id="domain-cookie"),
    pytest.param(["a=1; Domain=evil.org"], "http://h.org/", "http://evil.org/", None, id="foreign-domain-ignored"),
    pytest.param(["a=1; Secure"], "https://h/", "http://h/", None, id="secure-not-over-http"),
    pytest.param(["a=1; Secure"], "https://h/", "https://h/", "a=1", id="secure-over-https"),
    pytest.param(["a=1; Max-Age=0"], "http://h/", "http://h/", None, id="max-age-0"),
    pytest.param(["a=1", "a=x; Max-Age=-1"], "http://h/", "http://h/", None, id="deleted"),
    pytest.param(["a=1; Expires=Wed, 09 Jun 2021 10:18:14 GMT"], "http://h/", "http://h/", None, id="expired"),
    pytest.param(["a=1; Expires=Wed, 09 Jun 2100 10:18:14 GMT"], "http://h/", "http://h/", "a=1", id="future"),
    pytest.param(["a=1; Max-Age=60; Expires=Wed, 09 Jun 2021 10:18:14 GMT"], "http://h/", "http://h/", "a=1",
                 id="max-age-wins"),
    pytest.param(["novalue", "=x", " ; Path=/"], "http://h/", "http://h/", None, id="garbage-ignored"),
    pytest.param(["sid=a=b; HttpOnly; SameSite=Lax"], "http://h/", "http://h/", "sid=a=b", id="value-with-equals"),
    pytest.param(["a=1"], "http://127.0.0.1:8080/", "http://127.0.0.1:9090/", "a=1", id="ports-do-not-matter"),
])
def test_cookie_jar(set_cookies, origin, url, expected):
    jar = CookieJar()
    jar.update(origin, set_cookies, NOW)
    assert jar.header(url, NOW) == expected


def test_cookies_expire_with_time():
    jar = CookieJar()
    jar.update("http://h/", ["a=1; Max-Age=10", "b=2"], NOW)
    assert jar.header("http://h/", NOW + 5) == "a=1; b=2"
    assert jar.header("http://h/", NOW + 11) == "b=2"
    assert len(jar) == 1


def test_each_jar_is_its_own():
    one, two = CookieJar(), CookieJar()
    one.update("http://h/", ["session=1"], NOW)
    assert one.header("http://h/", NOW) == "session=1"
    assert two.header("http://h/", NOW) is None and not two


# ---------------------------------------------------------------------------------------------
# CSV feeders
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, header, rows", [
    pytest.param("a,b\n1,2\n3,4\n", ("a", "b"), [("1", "2"), ("3", "4")], id="plain"),
    pytest.param("a, b \r\n1,2\r\n\r\n", ("a", "b"), [("1", "2")], id="crlf-blank-lines-header-trimmed"),
    pytest.param('a,b\n"x,1","line\nbreak"\n', ("a", "b"), [("x,1", "line\nbreak")], id="quoted"),
    pytest.param("a\n", ("a",), [], id="header-only"),
])
def test_parse_csv(text, header, rows):
    assert parse_csv(text) == (header, rows)


@pytest.mark.parametrize("text, problem", [
    pytest.param("", "empty file", id="empty"),
    pytest.param("a,b\n1\n", "line 2: 1 fields, but the header has 2", id="short-row"),
    pytest.param("a,a\n1,2\n", "named twice", id="duplicate-column"),
    pytest.param("a,\n1,2\n", "column 2 has no name", id="unnamed-column"),
    pytest.param('a\n"open\n', "invalid CSV", id="unclosed-quote"),
])
def test_bad_csv(text, problem):
    with pytest.raises(DataFileError, match=problem):
        parse_csv(text)


ROWS = [(str(i),) for i in range(7)]


def taken(mode: str, worker: int, workers: int, n: int) -> list[str | None]:
    f = Feeder(DataSource("u", "u.csv", mode), ["id"], ROWS, worker, workers)
    return [None if (row := f.row()) is None else row["u.id"] for _ in range(n)]


@pytest.mark.parametrize("mode, worker, workers, n, expected", [
    pytest.param("sequential", 0, 1, 9, list("012345601"), id="sequential-wraps"),
    pytest.param("sequential", 1, 2, 5, list("13502"), id="sequential-worker-1-of-2"),
    pytest.param("unique", 0, 1, 8, list("0123456") + [None], id="unique-once"),
    pytest.param("unique", 0, 2, 5, list("0246") + [None], id="unique-worker-0-of-2"),
    pytest.param("unique", 1, 2, 4, list("135") + [None], id="unique-worker-1-of-2"),
    pytest.param("unique", 2, 3, 3, ["2", "5", None], id="unique-worker-2-of-3"),
    pytest.param("unique", 9, 10, 1, [None], id="unique-worker-without-rows"),
])
def test_feeders(mode, worker, workers, n, expected):
    assert taken(mode, worker, workers, n) == expected


@pytest.mark.parametrize("workers", [1, 2, 3, 5, 8])
def test_unique_rows_are_dealt_disjointly_and_completely(workers):
    seen = Counter(x for w in range(workers) for x in taken("unique", w, workers, 10) if x is not None)
    assert seen == Counter(str(i) for i in range(7))


def test_random_rows_come_from_the_file():
    f = Feeder(DataSource("u", "u.csv", "random"), ["id"], ROWS)
    assert {f.row()["u.id"] for _ in range(300)} == {str(i) for i in range(7)}


# ---------------------------------------------------------------------------------------------
# config: form bodies, JSON paths, data sources, preflight
# ---------------------------------------------------------------------------------------------

def doc(request: dict | None = None, **top) -> dict:
    scenario = {"executor": "constant-vus", "vus": 1, "duration": "1s",
                "requests": [request or {"url": "/x"}]}
    scenario.update(top.pop("scenario", {}))
    return {"name": "t", "settings": {"baseUrl": "http://h"}, "scenarios": {"s": scenario}, **top}


def test_form_body_is_url_encoded_with_its_content_type():
    spec = plan_from_dict(doc({"url": "/login", "method": "POST", "form": {"user": "{{u}}", "n": 1}})) \
        .scenarios[0].requests[0]
    assert spec.form == {"user": "{{u}}", "n": "1"} and spec.body is None
    assert spec.headers["Content-Type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize("document, problem", [
    pytest.param(doc({"url": "/x", "form": {"a": 1}, "body": "x"}), "scenarios.s.requests[0].form: give either body or form",
                 id="form-and-body"),
    pytest.param(doc({"url": "/x", "form": ["a"]}), "scenarios.s.requests[0].form: must be a mapping", id="form-list"),
    pytest.param(doc({"url": "/x", "extract": [{"name": "a", "path": "$.["}]}),
                 "scenarios.s.requests[0].extract[0].path: invalid JSON path '$.['", id="extract-path"),
    pytest.param(doc({"url": "/x", "assertions": [{"type": "body", "path": "$[?(", "condition": "exists"}]}),
                 "scenarios.s.requests[0].assertions[0].path: invalid JSON path", id="assertion-path"),
    pytest.param(doc({"url": "/x", "assertions": [{"type": "status", "path": "$.a", "value": 200}]}),
                 "assertions[0].path: only body assertions take a JSON path", id="path-on-status"),
    pytest.param(doc(data=[{"name": "users"}]), "data[0].file: required", id="data-no-file"),
    pytest.param(doc(data=[{"name": "a.b", "file": "x.csv"}]), "data[0].name: 'a.b' must start", id="data-dotted-name"),
    pytest.param(doc(data=[{"name": "u", "file": "x.csv", "mode": "once"}]), "data[0].mode: unknown value 'once'",
                 id="data-mode"),
    pytest.param(doc(data=[{"name": "u", "file": "x.csv"}, {"name": "u", "file": "y.csv"}]),
                 "data[1].name: 'u' is already defined at data[0]", id="data-twice"),
    pytest.param(doc(data=[{"name": "u", "file": "x.csv"}], scenario={"data": [{"name": "u", "file": "y.csv"}]}),
                 "scenarios.s.data[0].name: 'u' is already defined at data[0]", id="data-shadowed"),
    pytest.param(doc(data={"name": "u"}), "data: must be a list", id="data-mapping"),
    pytest.param(doc(data=[{"name": "u", "file": "x.csv", "sep": ";"}]), "data[0].sep: unknown field", id="data-key"),
])
def test_config_errors(document, problem):
    with pytest.raises(ConfigError) as e:
        plan_from_dict(document)
    assert any(problem in line for line in e.value.errors), e.value.errors


def test_header_assertion_may_name_its_header_with_path():
    a = plan_from_dict(doc({"url": "/x", "assertions": [{"type": "header", "path": "X-Id", "condition": "exists"}]})) \
        .scenarios[0].requests[0].assertions[0]
    assert (a.name, a.path) == ("X-Id", "")


def write(tmp_path, name: str, text: str):
    (tmp_path / name).write_text(text)
    return tmp_path / name


CONFIG = """
name: data
settings: {baseUrl: "http://h"}
data: [{name: users, file: users.csv, mode: unique}]
scenarios:
  s:
    executor: constant-vus
    vus: 1
    duration: 1s
    data: [{name: items, file: sub/items.csv}]
    requests:
      - {url: "/u/{{users.email}}/{{items.sku}}", form: {p: "{{users.password}}"}}
"""


def test_data_files_resolve_against_the_config_folder(tmp_path, monkeypatch):
    write(tmp_path, "users.csv", "email,password\na,1\nb,2\n")
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/items.csv", "sku\nk1\n")
    config = write(tmp_path, "test.yaml", CONFIG)
    monkeypatch.chdir("/")
    plan = load_plan(config)
    users, items = plan.data[0], plan.scenarios[0].data[0]
    assert (users.path, users.columns, users.rows, users.mode) == \
        (str(tmp_path / "users.csv"), ("email", "password"), 2, "unique")
    assert (items.path, items.columns, items.rows) == (str(tmp_path / "sub" / "items.csv"), ("sku",), 1)
    assert unknown_template_names(plan) == []


def test_missing_or_bad_data_files_are_config_errors(tmp_path):
    write(tmp_path, "users.csv", "email,password\n")
    config = write(tmp_path, "test.yaml", CONFIG)
    with pytest.raises(ConfigError) as e:
        load_plan(config)
    assert e.value.errors == [
        f"data[0].file: {tmp_path / 'users.csv'} has a header but no rows",
        f"scenarios.s.data[0].file: no such file: {tmp_path / 'sub' / 'items.csv'}",
    ]


def test_preflight_names_missing_columns_and_unknown_sources(tmp_path):
    write(tmp_path, "users.csv", "email\na\n")
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/items.csv", "sku\nk1\n")
    config = write(tmp_path, "test.yaml", CONFIG.replace("{{items.sku}}", "{{items.price}}/{{orders.id}}"))
    errors = unknown_template_names(load_plan(config))
    assert len(errors) == 3, errors
    assert errors[0].startswith("scenarios.s.requests[0].url: data source 'items' (sub/items.csv) has no "
                                "column 'price'; its columns are sku")
    assert "unknown template value '{{orders.id}}'" in errors[1] and "users.<column>, items.<column>" in errors[1]
    assert errors[2].startswith("scenarios.s.requests[0].form.p: data source 'users' (users.csv) has no column "
                                "'password'")


def test_preflight_accepts_extracted_values_and_names_unknown_ones():
    req1 = RequestSpec(name="login", method="POST", url="http://h/login",
                       extract=(Extract("token", "body", path="$.token"),))
    req2 = RequestSpec(name="me", method="GET", url="http://h/me/{{token}}/{{vu}}",
                       headers={"X-Env": "{{env_name}}", "X-Bad": "{{missing}}"}, form={"f": "{{nope}}"})
    plan = Plan(name="p", variables={"env_name": "dev"},
                scenarios=(ConstantVUs(name="s", vus=1, duration=1,
                                        requests=(req1, req2)),))
    errors = unknown_template_names(plan)
    assert [e.split(":")[0] for e in errors] == ["scenarios.s.requests[1].headers.X-Bad",
                                                  "scenarios.s.requests[1].form.f"]


def test_the_user_journey_example_loads_with_its_data_file():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "configs" / "user-journey.yaml"
    plan = load_plan(str(path), environ={})
    assert plan.data[0].columns == ("email", "password") and plan.data[0].rows == 4
    assert unknown_template_names(plan) == []
