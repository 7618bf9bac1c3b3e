"""Request bodies filled from templates and encoded after substitution, so no value can break out.

A structured body (`body: {token: "{{tok}}"}` in YAML or JSON) is a JSON document whose string
leaves, and keys, may hold `{{name}}` templates. `JsonTemplate` compiles it once into literal
JSON text and holes; rendering fills each hole with its template's value *encoded as a JSON
string* (quotes, backslashes and control characters escaped), so a value from a data file, an
extraction or a variable is always exactly one string in the document the server parses:

    {"secret": "{{tok}}", "n": 3}   with tok = Ab"c\\d   →   {"secret":"Ab\\"c\\\\d","n":3}

A value substituted into a string stays a string (`"{{n}}"` sends `"5"`); numbers, booleans
and null are written as they are in the config. A form body (`form:`) is URL-encoded after
substitution (`FormTemplate`). A raw string body (`body: '...'`) is text: its templates are
substituted as they are, with no escaping, because the tool cannot know its format.

Reusable for any JSON payload built from templates (HTTP bodies, queue job payloads):
`JsonTemplate(value).render(ctx) -> bytes`. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import msgspec

from lunge_mp.scenario.template import Template, TemplateError

_encode = msgspec.json.encode
_dumps = msgspec.json.Encoder().encode


class JsonTemplate:
    """A JSON document with templates in its strings, compiled once. `render(ctx)` → UTF-8 JSON.

    Raises TypeError or ValueError at construction when `value` is not JSON (a date, NaN, a
    set, a non-string key), so a config can refuse it at load.
    """

    __slots__ = ("_parts", "static", "_templates", "_static_bytes")

    def __init__(self, value: Any) -> None:
        parts: list[bytes | tuple] = []      # literal JSON bytes, and (name, dynamic) holes
        self._templates: list[Template] = []
        self._compile(value, parts)
        merged: list[bytes | tuple] = []
        for part in parts:                   # adjacent literals joined: fewer pieces per render
            if isinstance(part, bytes) and merged and isinstance(merged[-1], bytes):
                merged[-1] += part
            else:
                merged.append(part)
        self._parts = merged
        self.static = not self._templates
        self._static_bytes = merged[0] if self.static and merged else b""

    @classmethod
    def from_text(cls, text: str) -> JsonTemplate:
        """From JSON text (a Plan carries a structured body as its JSON serialisation)."""
        return cls(json.loads(text))

    def _compile(self, value: Any, out: list[bytes | tuple]) -> None:
        if isinstance(value, str):
            self._string(value, out)
        elif isinstance(value, Mapping):
            out.append(b"{")
            for i, (key, item) in enumerate(value.items()):
                if not isinstance(key, str):
                    raise TypeError(f"object keys must be strings, got {key!r}")
                if i:
                    out.append(b",")
                self._string(key, out)
                out.append(b":")
                self._compile(item, out)
            out.append(b"}")
        elif isinstance(value, (list, tuple)):
            out.append(b"[")
            for i, item in enumerate(value):
                if i:
                    out.append(b",")
                self._compile(item, out)
            out.append(b"]")
        elif value is None or isinstance(value, bool):
            out.append(_dumps(value))
        elif isinstance(value, int):
            out.append(str(value).encode())     # any size, as JSON allows
        elif isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(f"{value} is not a JSON number")
            out.append(_dumps(value))
        else:
            raise TypeError(f"a {type(value).__name__} cannot be written as JSON")

    def _string(self, text: str, out: list[bytes | tuple]) -> None:
        """A string: JSON-encoded whole when static; else its literal pieces pre-encoded and
        its placeholders left as holes (escaping is per character, so the pieces of a string
        can be encoded apart and joined)."""
        template = Template(text)
        if template.static:
            out.append(_encode(text))
            return
        self._templates.append(template)
        out.append(b'"')
        for piece in template.pieces():
            out.append(_encode(piece)[1:-1] if isinstance(piece, str) else piece)
        out.append(b'"')

    def templates(self) -> list[Template]:
        """The templates of its strings, for load-time name checks and data-source discovery."""
        return list(self._templates)

    def render(self, ctx: Mapping[str, object]) -> bytes:
        """The document with every template filled and encoded as JSON string content.
        TemplateError: an unknown name, or a value that is not valid Unicode (a lone surrogate)."""
        if self.static:
            return self._static_bytes
        out = []
        append = out.append
        get = ctx.get
        try:
            for part in self._parts:
                if part.__class__ is bytes:
                    append(part)
                    continue
                name, dynamic = part        # template.value, inlined (the hot path)
                if dynamic is not None:
                    text = dynamic()
                else:
                    found = get(name)
                    if found is None:
                        raise TemplateError(f"unknown template value '{{{{{name}}}}}'")
                    text = str(found)
                append(_encode(text)[1:-1])
        except UnicodeEncodeError:
            raise TemplateError("a template value is not valid Unicode text (a lone surrogate); "
                                "it cannot be sent as JSON") from None
        return b"".join(out)


class FormTemplate:
    """`form:` fields (name → template), URL-encoded after substitution (names and values)."""

    __slots__ = ("_fields", "static", "_static_bytes")

    def __init__(self, fields: Mapping[str, str]) -> None:
        self._fields = [(name, Template(value)) for name, value in fields.items()]
        self.static = all(t.static for _, t in self._fields)
        self._static_bytes = urlencode([(n, t.source) for n, t in self._fields]).encode() if self.static else b""

    def templates(self) -> list[Template]:
        return [t for _, t in self._fields]

    def render(self, ctx: Mapping[str, object]) -> bytes:
        if self.static:
            return self._static_bytes
        try:
            return urlencode([(name, t.render(ctx)) for name, t in self._fields]).encode()
        except UnicodeEncodeError:
            raise TemplateError("a template value is not valid Unicode text (a lone surrogate); "
                                "it cannot be URL-encoded") from None
