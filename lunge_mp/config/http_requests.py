"""A scenario's `requests:` list → RequestSpec tuples, with settings folded in.

Everything that can be decided at load time is decided here so workers do no config work
on the hot path: relative URLs are joined to settings.baseUrl, `{{baseUrl}}` is substituted,
settings.headers and settings.userAgent are merged under the request's own headers
(case-insensitively: a request's `accept` replaces the settings' `Accept`), object bodies are
serialised to compact JSON once (their templates are filled in string leaves and JSON-encoded at
run time: scenario/bodies.py), duration assertions are converted to milliseconds and
regexes are compiled once to prove they compile.

Duration assertions: the value is stored as a number of milliseconds in text (`500ms` →
`"500"`); a bare number means milliseconds, as in thresholds, because response-time limits
are written in ms in every tool users come from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lunge_mp.units import parse_duration
from lunge_mp.config.errors import Errors, describe, index
from lunge_mp.config.fields import Fields, as_number
from lunge_mp.config.statuses import parse_expected
from lunge_mp.config.redis_requests import is_redis_request, parse_redis_request
from lunge_mp.plan import Assertion, Extract, RequestSpec, Settings
from lunge_mp.scenario.checks import path_problem
from lunge_mp.scenario.request_head import headers_problems, url_text_problem

REQUEST_KEYS = ("name", "method", "url", "headers", "body", "form", "timeout", "thinkTime", "assertions",
                "extract", "expectedStatuses", "tags")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")

ASSERTION_KEYS = ("type", "condition", "value", "path", "name", "check")
ASSERTION_TYPES = ("status", "body", "header", "duration")
CONDITIONS = ("eq", "ne", "gt", "lt", "gte", "lte", "contains", "matches", "exists")
NUMERIC_CONDITIONS = ("gt", "lt", "gte", "lte")
CONDITIONS_BY_TYPE = {
    "status": tuple(c for c in CONDITIONS if c != "exists"),
    "body": CONDITIONS,
    "header": CONDITIONS,
    "duration": ("eq", "ne", "gt", "lt", "gte", "lte"),
}

EXTRACT_KEYS = ("name", "source", "path", "regex")
EXTRACT_SOURCES = ("body", "header", "status")

_BASE_URL = re.compile(r"\{\{\s*baseUrl\s*\}\}")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)")


def parse_requests(value: list[Any], path: str, errs: Errors, settings: Settings,
                   base_ok: bool = True) -> tuple[RequestSpec, ...]:
    """Parse a non-empty list of requests; `base_ok=False` when settings.baseUrl itself was
    invalid (already reported), so URLs built on it are not reported again."""
    out = []
    for i, item in enumerate(value):
        spec = parse_request(item, index(path, i), errs, settings, base_ok)
        if spec is not None:
            out.append(spec)
    return tuple(out)


def parse_request(value: object, path: str, errs: Errors, settings: Settings,
                  base_ok: bool = True) -> RequestSpec | None:
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping like {{method: GET, url: /health}}, got {describe(value)}")
        return None
    if is_redis_request(value):     # a job-queue command (config/redis_requests.py)
        return parse_redis_request(value, path, errs, settings)
    f = Fields(errs, value, path)
    f.check_keys(REQUEST_KEYS)
    raw_method = f.str("method", "GET")
    method = raw_method.upper()
    if method not in METHODS:
        f.error("method", f"unknown method '{raw_method}'; use one of {', '.join(METHODS)}")
    raw_url = f.str("url", required="required, e.g. url: /health or url: \"{{baseUrl}}/health\"",
                    nonempty=True)
    url = ""
    if raw_url is not None and url_text_problem(raw_url):
        f.error("url", url_text_problem(raw_url))
    elif raw_url is not None:
        url = resolve_url(raw_url, settings.base_url, f.at("url"), errs, base_ok)
    name = f.str("name", nonempty=True)
    if name is None:
        name = f"{method} {raw_url or ''}".strip()
    own_headers = f.str_map("headers")
    for where, problem in headers_problems(own_headers, f.at("headers")):
        errs.add(where, problem)
    headers = merge_headers(settings, own_headers)
    body = _body(f, headers)
    form = _form(f, headers)
    body_json = body is not None and not isinstance(f.raw("body"), str)
    timeout = f.duration("timeout", settings.timeout, positive=True)
    think_time = f.duration("thinkTime", 0.0)
    assertions = _each(f.list("assertions"), f.at("assertions"), errs, parse_assertion)
    extract = _each(f.list("extract"), f.at("extract"), errs, parse_extract)
    expected = settings.expected_statuses
    if f.has("expectedStatuses"):
        expected = parse_expected(value["expectedStatuses"], f.at("expectedStatuses"), errs) or expected
    return RequestSpec(name=name, method=method, url=url, headers=headers, body=body, form=form,
                       timeout=timeout, think_time=think_time, assertions=assertions, extract=extract,
                       expected_statuses=expected, body_json=body_json, tags=f.str_map("tags"))


def _each(items: list[Any] | None, path: str, errs: Errors, parse: Any) -> tuple[Any, ...]:
    if not items:
        return ()
    parsed = (parse(item, index(path, i), errs) for i, item in enumerate(items))
    return tuple(p for p in parsed if p is not None)


# -- URL and headers --------------------------------------------------------------------------

def resolve_url(raw: str, base_url: str, path: str, errs: Errors, base_ok: bool = True) -> str:
    """Join to baseUrl / substitute `{{baseUrl}}`, then require http(s) unless still templated."""
    uses_base = raw.startswith("/") or bool(_BASE_URL.search(raw))
    url = _join_base(raw, base_url)
    if url.startswith("/"):
        if base_ok:
            errs.add(path, f"relative URL '{raw}' needs settings.baseUrl; set it or write a full "
                           f"http:// or https:// URL")
        return url
    if uses_base and not base_ok:
        return url
    if url.startswith("{{"):
        return url
    problem = url_problem(url)
    if problem:
        errs.add(path, problem)
    return url


def _join_base(raw: str, base_url: str) -> str:
    base = base_url.rstrip("/")
    if raw.startswith("/"):
        return base + raw if base else raw

    def substitute(m: re.Match[str]) -> str:
        # `{{baseUrl}}/x` must not become `http://h//x` when baseUrl ends in a slash
        return base if raw[m.end():m.end() + 1] == "/" else base_url

    return _BASE_URL.sub(substitute, raw)


def url_problem(url: str) -> str | None:
    """Why `url` cannot be requested, or None. A templated host (`http://{{host}}`) is fine."""
    m = _SCHEME.match(url)
    if not m:
        return f"missing scheme in '{url}'; use http:// or https://"
    scheme = m.group(1).lower()
    if scheme not in ("http", "https"):
        return f"unsupported scheme '{m.group(1)}'; use http:// or https://"
    if not m.group(2):
        return f"missing host in '{url}'"
    return None


def merge_headers(settings: Settings, own: dict[str, str]) -> dict[str, str]:
    """settings.headers under the request's headers (case-insensitive), then User-Agent."""
    merged: dict[str, str] = {}
    lower: dict[str, str] = {}
    for source in (settings.headers, own):
        for key, value in source.items():
            previous = lower.get(key.lower())
            if previous is not None:
                del merged[previous]
            merged[key] = value
            lower[key.lower()] = key
    if settings.user_agent and "user-agent" not in lower:
        merged["User-Agent"] = settings.user_agent
    return merged


def _body(f: Fields, headers: dict[str, str]) -> str | None:
    if not f.has("body"):
        return None
    value = f.raw("body")
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as e:
            f.error("body", f"cannot be sent as JSON: {e}")
            return None
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        return text
    f.error("body", f"must be a string, or an object/list (sent as JSON), got {describe(value)}; "
                    f"quote it to send it as text")
    return None


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _form(f: Fields, headers: dict[str, str]) -> dict[str, str] | None:
    """`form: {user: "{{users.email}}", remember: 1}` → fields sent url-encoded after rendering."""
    if not f.has("form"):
        return None
    if f.has("body"):
        f.error("form", "give either body or form, not both")
        return None
    if not isinstance(f.raw("form"), Mapping):
        f.error("form", f"must be a mapping of field → value, e.g. {{user: ann, remember: 1}}, "
                        f"got {describe(f.raw('form'))}")
        return None
    form = f.str_map("form")
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = FORM_CONTENT_TYPE
    return form


# -- assertions and extraction -----------------------------------------------------------------

def parse_assertion(value: object, path: str, errs: Errors) -> Assertion | None:
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping like {{type: status, condition: eq, value: 200}}, "
                       f"got {describe(value)}")
        return None
    before = len(errs)
    f = Fields(errs, value, path)
    f.check_keys(ASSERTION_KEYS)
    kind = f.str("type", required=f"required; use one of {', '.join(ASSERTION_TYPES)}",
                 choices=ASSERTION_TYPES)
    allowed = CONDITIONS_BY_TYPE.get(kind, CONDITIONS)
    condition = f.str("condition", "eq", choices=CONDITIONS)
    if condition not in allowed:
        f.error("condition", f"'{condition}' does not apply to a {kind} assertion; use one of "
                             f"{', '.join(allowed)}")
    json_path = f.str("path", "")
    # a header assertion names its header with `name`, or with `path` as extraction does
    header_by_path = kind == "header" and bool(json_path) and not f.has("name")
    name = f.str("name", "", required=f"required for a header assertion: the header name"
                 if kind == "header" and not header_by_path else False, nonempty=kind == "header")
    if header_by_path:
        name, json_path = json_path, ""
    elif json_path and kind == "body":
        _check_path(f, json_path)
    elif json_path and kind is not None:
        f.error("path", f"only body assertions take a JSON path; a {kind} assertion has none")
    value_text = _assertion_value(f, kind, condition)
    label = f.str("check", "", nonempty=True)
    if kind is None or len(errs) > before:
        return None
    return Assertion(type=kind, condition=condition, value=value_text, path=json_path, name=name or "",
                     label=label or default_label(kind, condition, value_text, json_path, name or ""))


def default_label(kind: str, condition: str, value: str, json_path: str, header: str) -> str:
    """`status eq 200`, `body $.id exists`, `header Content-Type contains json`, `duration lt 500ms`."""
    what = {"body": f"body {json_path}".rstrip(), "header": f"header {header}"}.get(kind, kind)
    if condition == "exists":
        return f"{what} exists"
    shown = f"{value}ms" if kind == "duration" else value
    return f"{what} {condition} {shown}"


def _assertion_value(f: Fields, kind: str | None, condition: str) -> str:
    if condition == "exists":
        return f.text("value", "")
    if not f.has("value"):
        f.error("value", f"required for condition '{condition}'")
        return ""
    if kind == "duration":
        raw = f.raw("value")
        number = as_number(raw)
        try:
            ms = number if number is not None else parse_duration(raw) * 1000.0
        except ValueError:
            f.error("value", f"invalid response time {describe(raw)}; write milliseconds (a bare "
                             f"number) or a duration like 500ms or 1.5s")
            return ""
        if ms < 0:
            f.error("value", "must be >= 0")
            return ""
        return _ms_text(ms)
    text = f.text("value", "")
    if "{{" in text:     # a template: rendered when the check runs (scenario/checks.py)
        return text
    if kind == "status" and condition in ("eq", "ne"):
        if not (text.isdigit() and 100 <= int(text) <= 599):
            f.error("value", f"a status is a number from 100 to 599, like 200, got '{text}' (it could "
                             f"never match); use condition matches for a pattern such as '^2'")
    elif condition in NUMERIC_CONDITIONS:
        try:
            float(text)
        except ValueError:
            f.error("value", f"must be a number for condition '{condition}', got '{text}'")
    elif condition == "matches":
        _check_regex(f, "value", text)
    return text


def _ms_text(ms: float) -> str:
    return str(int(ms)) if float(ms).is_integer() else repr(float(ms))


def parse_extract(value: object, path: str, errs: Errors) -> Extract | None:
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping like {{name: token, source: body, path: $.token}}, "
                       f"got {describe(value)}")
        return None
    before = len(errs)
    f = Fields(errs, value, path)
    f.check_keys(EXTRACT_KEYS)
    name = f.str("name", required="required: the variable name the value is stored under", nonempty=True)
    source = f.str("source", "body", choices=EXTRACT_SOURCES)
    json_path = f.str("path", "")
    regex = f.str("regex", "")
    if regex:
        _check_regex(f, "regex", regex)
    if source == "header" and not json_path:
        f.error("path", "required for source 'header': the header name")
    elif source == "body" and not f.has("path") and not f.has("regex"):
        errs.add(path, "needs path (a JSONPath like $.items[0].id) or regex")
    elif source == "body" and json_path and regex:
        errs.add(path, "give either path or regex for a body extraction, not both")
    elif source == "body" and json_path:
        _check_path(f, json_path)
    if name is None or len(errs) > before:
        return None
    return Extract(name=name, source=source, path=json_path, regex=regex)


def _check_path(f: Fields, json_path: str) -> None:
    problem = path_problem(json_path)
    if problem:
        f.error("path", f"{problem}; write a JSONPath like $.items[0].id or $.items[?@.ok].id")


def _check_regex(f: Fields, key: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as e:
        f.error(key, f"invalid regular expression '{pattern}': {e}")
