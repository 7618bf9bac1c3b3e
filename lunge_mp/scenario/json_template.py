"""JSON payloads with `{{name}}` placeholders, serialised after substitution.

A payload written as an object (`payload: {id: "{{iteration}}", kind: test}`) is turned into
JSON text once, at load time, with its placeholders left in place (config/redis_requests.py).
At run time each placeholder's value is JSON-escaped before it is joined in, so a value with
a quote, a backslash or a newline (a data-file row, an extracted value) yields valid JSON with
that exact string, and can never add a key or end the document early. A placeholder stands
inside a JSON string (`"{{iteration}}"` → `"42"`); values stay strings.

Pure: the built-ins `{{timestamp}}`, `{{uuid}}` and `{{randomInt(a,b)}}` read the clock or a
random source when rendered, as in scenario/template.py.

(The lead will unify this with the HTTP body's serialise-after-substitution function.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from lunge_mp.scenario.template import _PLACEHOLDER, Template, TemplateError, _dynamic

_encode_str = json.encoder.encode_basestring      # "..." with JSON escapes (C-accelerated)


def payload_text(value: object) -> str:
    """A YAML/JSON payload object → compact JSON text, placeholders kept. Raises ValueError
    (NaN, non-string keys, ...) or TypeError (a value JSON has no form for)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def placeholder_problem(text: str) -> str | None:
    """Placeholders inside JSON text must not hold characters JSON escapes (their names
    would change when the text was encoded)."""
    for m in _PLACEHOLDER.finditer(text):
        if any(c in m.group(1) for c in '"\\'):
            return f"placeholder '{m.group(0)}' may not contain a quote or a backslash"
    return None


class JsonTemplate:
    """JSON text whose placeholders are filled with JSON-escaped values. `render(ctx)` → str."""

    __slots__ = ("source", "_parts", "static")

    def __init__(self, source: str) -> None:
        self.source = source
        parts: list[str | tuple[str, object]] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(source):
            if m.start() > pos:
                parts.append(source[pos:m.start()])
            parts.append((m.group(1), _dynamic(m.group(1))))
            pos = m.end()
        if pos < len(source):
            parts.append(source[pos:])
        self._parts = parts
        self.static = all(isinstance(p, str) for p in parts)

    def names(self) -> list[str]:
        return [p[0] for p in self._parts if not isinstance(p, str)]

    def render(self, ctx: Mapping[str, object]) -> str:
        if self.static:
            return self.source
        out = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name, dynamic = part
            value = dynamic() if dynamic is not None else ctx.get(name)
            if value is None:
                raise TemplateError(f"unknown template value '{{{{{name}}}}}'")
            if value.__class__ is int:
                out.append(str(value))          # digits need no escaping (the hot case)
            else:
                out.append(_encode_str(str(value))[1:-1])
        return "".join(out)


def compile_payload(text: str, is_json: bool) -> Template | JsonTemplate:
    """The payload's template: JSON-escaping for an object payload, plain for a string one."""
    return JsonTemplate(text) if is_json else Template(text)
