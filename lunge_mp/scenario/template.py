"""`{{name}}` templates, compiled once and rendered per request without re-parsing.

A template is split at load time into literal parts and placeholders. Rendering looks each
placeholder up in the VU's context: extracted values, then variables, then built-ins
(`vu`, `iteration`, `scenario`, `timestamp`, `uuid`, `randomInt(a,b)`). A name that is
nowhere raises `TemplateError`, so a literal `{{x}}` is never sent to a server.

Lunge's files also write `{{vuId}}` (this VU's number, the same as `{{vu}}`) and
`{{requestId}}` (a new UUID for every request, as an `X-Request-ID` wants); Lunge itself
would send an unknown name literally, which is the trap the error above avoids.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable, Mapping

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_RANDOM_INT = re.compile(r"randomInt\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)$")

BUILTINS = ("vu", "vuId", "iteration", "scenario", "timestamp", "uuid", "requestId", "baseUrl")
ALIASES = {"vuId": "vu"}   # Lunge's spelling → ours


class TemplateError(Exception):
    """A placeholder whose name is not known when the request is rendered."""


def _dynamic(name: str) -> Callable[[], str] | None:
    """Built-ins whose value changes on every render."""
    if name == "timestamp":
        return lambda: str(time.time_ns() // 1_000_000)
    if name in ("uuid", "requestId"):
        return lambda: str(uuid.uuid4())
    m = _RANDOM_INT.match(name)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        return lambda: str(random.randint(min(lo, hi), max(lo, hi)))
    return None


class Template:
    """A compiled template. `render(ctx)` joins literals with looked-up values."""

    __slots__ = ("source", "_parts", "static")

    def __init__(self, source: str) -> None:
        self.source = source
        parts: list[str | tuple[str, Callable[[], str] | None]] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(source):
            if m.start() > pos:
                parts.append(source[pos:m.start()])
            name = m.group(1)
            parts.append((ALIASES.get(name, name), _dynamic(name)))
            pos = m.end()
        if pos < len(source):
            parts.append(source[pos:])
        self._parts = parts
        self.static = all(isinstance(p, str) for p in parts)

    def pieces(self) -> list[str | tuple[str, Callable[[], str] | None]]:
        """Literal text and placeholders (name, its dynamic built-in or None), in order: for a
        renderer that encodes each value on its own (scenario/bodies.py)."""
        return list(self._parts)

    def names(self) -> list[str]:
        """Placeholder names, for load-time checks."""
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
            if dynamic is not None:
                out.append(dynamic())
                continue
            value = ctx.get(name)
            if value is None:
                raise TemplateError(f"unknown template value '{{{{{name}}}}}'")
            out.append(str(value))
        return "".join(out)


def is_known_name(name: str, variables: Mapping[str, object]) -> bool:
    """Whether a placeholder can be resolved before the run (extracted values cannot)."""
    return name in variables or name in BUILTINS or _dynamic(name) is not None
