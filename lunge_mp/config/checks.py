"""A request's `assertions:` and `extract:` entries → Assertion and Extract (HTTP and redis:
requests alike), decided at load time: duration assertions are converted to milliseconds and
regexes are compiled once to prove they compile.

Duration assertions: the value is stored as a number of milliseconds in text (`500ms` →
`"500"`); a bare number means milliseconds, as in thresholds, because response-time limits
are written in ms in every tool users come from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lunge_mp.config.errors import Errors, describe
from lunge_mp.config.fields import Fields, as_number
from lunge_mp.plan import Assertion, Extract
from lunge_mp.scenario.checks import path_problem
from lunge_mp.units import parse_duration

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
