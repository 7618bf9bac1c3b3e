"""Lunge's functional-test assertions: parsed once, evaluated against a response. Pure.

Three spellings are read (each from Lunge's docs or published files):

    {"status": 200}                                   doc/Testing.md, examples/*.json
    {"responseTime": "<500"}  ("<500ms", ">10", "<=1000", ">=50", "=100"; bare number = ms)
    {"header": "Content-Type", "exists"|"equals"|"contains"|"matches": V}
    {"path": "$.a", "exists"|"equals"|"contains"|"matches"|"isArray"|"minLength": V}
    {"schema": "userSchema"} (a name under `schemas`, or a schema inline), with "path" optional
    {type: status, value: 200}, {type: path.exists, path: $.id}, {type: path.equals, ...},
    {type: path.isArray, ...}, {type: path.minLength, value: 10}   examples/jsonplaceholder-test.yaml
    {type: status|body|header|duration, condition: eq, value: "200", path, name}   (v2 spelling)

Semantics follow Lunge's `test` command (internal/cli/test.go): a path's value is compared as
text (`{"equals": 42}` holds for the JSON number 42 and for the string "42"), numbers compare
as numbers when both sides are numbers (so 1 equals 1.0), `matches` searches (Go's
MatchString), `contains` is a substring of the value's text (a JSON object or array reads as
its JSON), headers are looked up without regard to case. Expected values may use templates
(`{"equals": "{{userId}}"}`), rendered when the assertion runs.

Where lunge_mp differs on purpose: `exists` holds for an empty string (Lunge: an empty value
does not exist) and fails for null; `<=` / `>=` response times work (Lunge reads `<=1000` as
`<` with a bad number); an unknown assertion is a config error before any request (Lunge
fails it at run time as "Unknown assertion"); a failing schema lists every violation with its
path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lunge_mp.units import parse_duration
from lunge_mp.config.errors import Errors, describe
from lunge_mp.scenario.checks import MISSING, Response, as_text, compare, compile_path, path_problem
from lunge_mp.scenario.template import Template, TemplateError

PATH_OPS = ("exists", "equals", "contains", "matches", "isArray", "minLength")
HEADER_OPS = ("exists", "equals", "contains", "matches")
V2_CONDITIONS = {"eq": "equals", "contains": "contains", "matches": "matches", "exists": "exists"}
_RESPONSE_TIME = re.compile(r"^\s*(<=|>=|<|>|==|=)?\s*(.+?)\s*$")
_TIME_OPS = {"<": "lt", ">": "gt", "<=": "lte", ">=": "gte", "=": "eq", "==": "eq"}
_TIME_WORDS = {"lt": "<", "gt": ">", "lte": "<=", "gte": ">=", "eq": "=", "ne": "!="}


@dataclass(frozen=True)
class Outcome:
    """One assertion's result: what it says, whether it held, what was expected and seen."""
    description: str
    passed: bool
    expected: str = ""
    actual: str = ""


@dataclass(frozen=True)
class Assertion:
    """A parsed assertion. kind: status | responseTime | header | path | schema."""
    kind: str
    op: str = "equals"          # status: equals/ne; responseTime: lt gt lte gte eq; path/header: PATH_OPS
    expected: Any = None        # as written (a template string is rendered when evaluated)
    target: str = ""            # header name or JSON path
    schema: Any = None          # a compiled jsonschema validator
    schema_name: str = ""

    def evaluate(self, resp: Response, ctx: Mapping[str, object]) -> Outcome:
        try:
            expected = _render(self.expected, ctx)
        except TemplateError as e:
            return Outcome(self.describe(), False, str(self.expected), f"not evaluated: {e}")
        match self.kind:
            case "status":
                ok = compare(resp.status, "eq" if self.op == "equals" else self.op, as_text(expected))
                return Outcome(f"status {_op_word(self.op)} {as_text(expected)}", ok, as_text(expected),
                               str(resp.status))
            case "responseTime":
                ms = round(resp.duration_ms, 1)
                ok = compare(ms, self.op, f"{expected:g}")
                shown = f"{_TIME_WORDS[self.op]} {expected:g} ms"
                return Outcome(f"response time {shown}", ok, shown, f"{ms:g} ms")
            case "header":
                return self._value(f"header {self.target}", resp.header(self.target), expected)
            case "path":
                doc = resp.json()
                value = compile_path(self.target).first(doc) if doc is not MISSING else MISSING
                outcome = self._value(f"path {self.target}", value, expected)
                if not outcome.passed and doc is MISSING and self.op != "exists":
                    return Outcome(outcome.description, False, outcome.expected, "the body is not JSON")
                return outcome
            case "schema":
                return self._schema(resp)
        return Outcome(self.describe(), False, "", f"unknown assertion kind {self.kind}")

    def describe(self) -> str:
        if self.kind in ("header", "path"):
            return f"{self.kind} {self.target} {self.op}"
        return self.kind

    def _value(self, what: str, value: object, expected: object) -> Outcome:
        seen = "missing" if value is MISSING else _short(as_text(value))
        match self.op:
            case "exists":
                want = _truthy(expected)
                there = value is not MISSING and value is not None
                return Outcome(f"{what} {'exists' if want else 'does not exist'}", there == want,
                               "present" if want else "absent", seen if there else "missing")
            case "isArray":
                want = _truthy(expected)
                return Outcome(f"{what} is {'an array' if want else 'not an array'}",
                               isinstance(value, list) == want, "an array" if want else "not an array",
                               _kind(value) if value is not MISSING else "missing")
            case "minLength":
                n = int(float(as_text(expected)))
                size = len(value) if isinstance(value, list) else None
                return Outcome(f"{what} has at least {n} items", size is not None and size >= n,
                               f">= {n} items", f"{size} items" if size is not None else
                               ("missing" if value is MISSING else f"not an array ({_kind(value)})"))
            case "equals":
                want = as_text(expected)
                return Outcome(f"{what} equals {_short(want)!r}", value is not MISSING and compare(value, "eq", want),
                               want, seen)
            case "contains":
                want = as_text(expected)
                return Outcome(f"{what} contains {_short(want)!r}",
                               value is not MISSING and compare(value, "contains", want), f"contains {want!r}", seen)
            case "matches":
                want = as_text(expected)
                return Outcome(f"{what} matches /{want}/",
                               value is not MISSING and compare(value, "matches", want, re.compile(want)),
                               f"matches /{want}/", seen)
        return Outcome(what, False, "", f"unknown operation {self.op}")

    def _schema(self, resp: Response) -> Outcome:
        name = f"schema {self.schema_name}" if self.schema_name else "schema"
        where = f" at {self.target}" if self.target else ""
        doc = resp.json()
        if doc is MISSING:
            return Outcome(f"body{where} matches {name}", False, name, "the body is not JSON")
        value = compile_path(self.target).first(doc) if self.target else doc
        if value is MISSING:
            return Outcome(f"body{where} matches {name}", False, name, f"{self.target} is missing")
        try:
            errors = sorted(self.schema.iter_errors(value), key=lambda e: list(e.absolute_path))
        except Exception as e:  # noqa: BLE001 - a schema the library cannot apply (e.g. a $ref it cannot resolve)
            return Outcome(f"body{where} matches {name}", False, name, f"the schema cannot be applied: {e}")
        shown = "; ".join(f"{_json_path(e.absolute_path)}: {e.message}" for e in errors[:5])
        if len(errors) > 5:
            shown += f"; and {len(errors) - 5} more"
        return Outcome(f"body{where} matches {name}", not errors, name, shown or "valid")


def _render(expected: object, ctx: Mapping[str, object]) -> object:
    if isinstance(expected, str) and "{{" in expected:
        return Template(expected).render(ctx)
    return expected


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "")
    return bool(value)


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _op_word(op: str) -> str:
    return {"equals": "is", "ne": "is not"}.get(op, op)


def _json_path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


# -- parsing -------------------------------------------------------------------------------------

def parse_assertion(raw: object, at: str, errs: Errors, schemas: Mapping[str, Any]) -> Assertion | None:
    """One assertion in any of the spellings above; problems go to `errs` with their path."""
    if not isinstance(raw, Mapping):
        errs.add(at, f"must be a mapping like {{\"status\": 200}}, got {describe(raw)}")
        return None
    if "type" in raw:
        return _typed(raw, at, errs, schemas)
    if "status" in raw:
        return _status(raw["status"], f"{at}.status", errs)
    if "responseTime" in raw:
        return _response_time(raw["responseTime"], f"{at}.responseTime", errs)
    if "schema" in raw:
        return _schema(raw["schema"], raw.get("path", ""), at, errs, schemas)
    if "header" in raw:
        return _valued("header", raw, raw["header"], HEADER_OPS, at, errs)
    if "path" in raw:
        return _valued("path", raw, raw["path"], PATH_OPS, at, errs)
    errs.add(at, f"unknown assertion {sorted(map(str, raw))}; write one of status, responseTime, "
                 f"header (+ exists/equals/contains/matches), path (+ {'/'.join(PATH_OPS)}), schema")
    return None


def _status(value: object, at: str, errs: Errors) -> Assertion | None:
    try:
        return Assertion("status", "equals", int(str(value).strip()))
    except ValueError:
        errs.add(at, f"must be an HTTP status code like 200, got {describe(value)}")
        return None


def _response_time(value: object, at: str, errs: Errors, op: str | None = None) -> Assertion | None:
    m = _RESPONSE_TIME.match(str(value))
    symbol, amount = (m.group(1), m.group(2)) if m else (None, str(value))
    try:
        ms = float(amount) if re.fullmatch(r"-?\d+(\.\d+)?", amount) else parse_duration(amount) * 1000.0
    except (ValueError, TypeError):
        errs.add(at, f"must be like \"<500\" (milliseconds), \"<500ms\" or \">=1s\", got {describe(value)}")
        return None
    return Assertion("responseTime", op or _TIME_OPS.get(symbol or "=", "eq"), ms)


def _valued(kind: str, raw: Mapping[str, Any], target: object, ops: tuple[str, ...], at: str,
            errs: Errors) -> Assertion | None:
    if not isinstance(target, str) or not target.strip():
        errs.add(f"{at}.{kind}", f"must be a {'header name' if kind == 'header' else 'JSON path'}, "
                                 f"got {describe(target)}")
        return None
    given = [op for op in ops if op in raw]
    extra = [k for k in raw if k not in (kind, *ops)]
    if len(given) != 1 or extra:
        errs.add(at, f"a {kind} assertion takes one of {', '.join(ops)}"
                     + (f"; unknown: {', '.join(map(str, extra))}" if extra else ""))
        return None
    return _checked(kind, given[0], raw[given[0]], target, at, errs)


def _checked(kind: str, op: str, expected: object, target: str, at: str, errs: Errors) -> Assertion | None:
    if kind == "path":
        problem = path_problem(target)
        if problem:
            errs.add(f"{at}.path", problem)
            return None
    if op == "matches":
        try:
            re.compile(str(expected))
        except re.error as e:
            errs.add(f"{at}.matches", f"invalid regular expression: {e}")
            return None
    if op == "minLength":
        try:
            int(float(str(expected)))
        except ValueError:
            errs.add(f"{at}.minLength", f"must be a whole number, got {describe(expected)}")
            return None
    if isinstance(expected, (dict, list)) and op != "equals":
        errs.add(f"{at}.{op}", f"must be a string, number or boolean, got {describe(expected)}")
        return None
    return Assertion(kind, op, json.dumps(expected) if isinstance(expected, (dict, list)) else expected, target)


def _typed(raw: Mapping[str, Any], at: str, errs: Errors, schemas: Mapping[str, Any]) -> Assertion | None:
    kind = str(raw.get("type"))
    value = raw.get("value")
    if kind == "status":
        cond = str(raw.get("condition", "eq"))
        a = _status(value, f"{at}.value", errs)
        if a is not None and cond not in ("eq", "ne"):
            return Assertion("status", cond, a.expected) if cond in _TIME_WORDS else _bad(at, cond, errs)
        return a if cond != "ne" or a is None else Assertion("status", "ne", a.expected)
    if kind in ("duration", "responseTime"):
        return _response_time(value, f"{at}.value", errs, str(raw.get("condition", "lt")))
    if kind == "schema":
        return _schema(raw.get("schema", value), raw.get("path", ""), at, errs, schemas)
    if kind.startswith("path.") or kind.startswith("header."):
        family, _, op = kind.partition(".")
        target = raw.get("path") if family == "path" else raw.get("name", raw.get("header"))
        if op not in (PATH_OPS if family == "path" else HEADER_OPS):
            errs.add(f"{at}.type", f"unknown assertion type '{kind}'; use {family}.<"
                                   f"{'|'.join(PATH_OPS if family == 'path' else HEADER_OPS)}>")
            return None
        if not isinstance(target, str) or not target:
            errs.add(at, f"{kind} needs {'path' if family == 'path' else 'name'}")
            return None
        return _checked(family, op, True if value is None and op in ("exists", "isArray") else value,
                        target, at, errs)
    if kind in ("body", "header"):
        cond = str(raw.get("condition", "eq"))
        if cond not in V2_CONDITIONS:
            return _bad(at, cond, errs)
        family = "path" if kind == "body" else "header"
        target = raw.get("path", "$") if kind == "body" else raw.get("name")
        if not isinstance(target, str) or not target:
            errs.add(at, f"a {kind} assertion needs {'path' if kind == 'body' else 'name'}")
            return None
        return _checked(family, V2_CONDITIONS[cond], True if cond == "exists" else value, target, at, errs)
    errs.add(f"{at}.type", f"unknown assertion type '{kind}'; use status, duration, header, body, schema "
                           f"or path.<{'|'.join(PATH_OPS)}>")
    return None


def _bad(at: str, cond: str, errs: Errors) -> None:
    errs.add(f"{at}.condition", f"condition '{cond}' does not apply here")
    return None


def _schema(ref: object, path: object, at: str, errs: Errors, schemas: Mapping[str, Any]) -> Assertion | None:
    name = ""
    if isinstance(ref, str):
        if ref not in schemas:
            errs.add(f"{at}.schema", f"unknown schema '{ref}'; known: {', '.join(map(str, schemas)) or 'none'} "
                                     f"(define it under schemas)")
            return None
        name, ref = ref, schemas[ref]
    validator = compile_schema(ref, f"{at}.schema", errs)
    if validator is None:
        return None
    if path and (not isinstance(path, str) or path_problem(path)):
        errs.add(f"{at}.path", path_problem(path) if isinstance(path, str) else "must be a JSON path")
        return None
    return Assertion("schema", "valid", None, path or "", validator, name)


def compile_schema(schema: object, at: str, errs: Errors) -> Any:
    """A jsonschema validator (the draft the schema names, 2020-12 by default, with formats
    such as email checked), or None with the schema's problem in `errs`."""
    import jsonschema

    if not isinstance(schema, (Mapping, bool)):
        errs.add(at, f"must be a JSON Schema (a mapping) or the name of one under schemas, got {describe(schema)}")
        return None
    remote = _external_refs(schema)
    if remote:
        errs.add(at, f"$ref '{remote[0]}' points outside the schema; external schemas (files, URLs) are not "
                     f"fetched: put the schema under schemas and refer to it by name")
        return None
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        errs.add(at, f"not a valid JSON Schema: {e.message}")
        return None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _external_refs(schema: object) -> list[str]:
    """Every `$ref` that does not point inside the schema itself (`#...`)."""
    found: list[str] = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                found.append(ref)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found
