"""Assertions and extraction on a response: pure functions of status, headers and body.

JSON paths here are the simple subset `$.a.b[0].c` (dots and list indexes); a full
JSONPath library can replace `json_path` without changing callers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from lunge_mp.plan import Assertion, Extract

_MISSING = object()
_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def json_path(doc: object, path: str) -> object:
    """Value at `path` in a parsed JSON document, or _MISSING."""
    if not path.startswith("$"):
        path = "$." + path
    pos, node = 1, doc
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            return _MISSING
        key, index, quoted = m.groups()
        pos = m.end()
        if index is not None:
            if not isinstance(node, list) or int(index) >= len(node):
                return _MISSING
            node = node[int(index)]
        else:
            name = key if key is not None else quoted
            if not isinstance(node, dict) or name not in node:
                return _MISSING
            node = node[name]
    return node


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def compare(actual: object, condition: str, expected: str) -> bool:
    """`actual <condition> expected`; numbers compare as numbers when both parse."""
    if condition == "exists":
        return actual is not _MISSING and actual is not None
    if actual is _MISSING or actual is None:
        return condition == "ne"
    text = actual if isinstance(actual, str) else json.dumps(actual) if isinstance(actual, (dict, list, bool)) else str(actual)
    if condition in ("contains", "matches"):
        return expected in text if condition == "contains" else re.search(expected, text) is not None
    a, b = _as_number(text), _as_number(expected)
    numeric = a is not None and b is not None
    match condition:
        case "eq":
            return a == b if numeric else text == expected
        case "ne":
            return a != b if numeric else text != expected
        case "gt":
            return numeric and a > b
        case "lt":
            return numeric and a < b
        case "gte":
            return numeric and a >= b
        case "lte":
            return numeric and a <= b
    return False


class Response:
    """A response as checks see it; the body is parsed as JSON at most once."""

    __slots__ = ("status", "headers", "body", "duration_ms", "_json")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes, duration_ms: float) -> None:
        self.status, self.headers, self.body, self.duration_ms = status, headers, body, duration_ms
        self._json: object = None

    def json(self) -> object:
        if self._json is None:
            try:
                self._json = json.loads(self.body)
            except (ValueError, UnicodeDecodeError):
                self._json = _MISSING
        return self._json

    def header(self, name: str) -> object:
        lname = name.lower()
        for k, v in self.headers.items():
            if k.lower() == lname:
                return v
        return _MISSING


def check(assertion: Assertion, resp: Response) -> str | None:
    """None when the assertion holds, else a short description of the failure."""
    match assertion.type:
        case "status":
            actual: object = resp.status
        case "duration":
            actual = resp.duration_ms
        case "header":
            actual = resp.header(assertion.name)
        case "body":
            actual = json_path(resp.json(), assertion.path) if assertion.path else resp.body.decode("utf-8", "replace")
        case _:
            return f"unknown assertion type {assertion.type}"
    if compare(actual, assertion.condition, assertion.value):
        return None
    where = assertion.path or assertion.name or assertion.type
    shown = "missing" if actual is _MISSING else repr(actual)[:80]
    return f"{assertion.type} {where} {assertion.condition} {assertion.value!r} failed (got {shown})"


def extract(rule: Extract, resp: Response) -> str | None:
    """The extracted value as text, or None when it is not there."""
    match rule.source:
        case "status":
            value: object = resp.status
        case "header":
            value = resp.header(rule.path or rule.name)
        case _:
            if rule.regex:
                m = re.search(rule.regex, resp.body.decode("utf-8", "replace"))
                if not m:
                    return None
                return m.group(1) if m.groups() else m.group(0)
            value = json_path(resp.json(), rule.path)
    if value is _MISSING or value is None:
        return None
    if rule.regex and rule.source != "body":
        m = re.search(rule.regex, str(value))
        return None if not m else (m.group(1) if m.groups() else m.group(0))
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
