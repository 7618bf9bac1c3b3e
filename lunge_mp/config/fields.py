"""Typed, path-aware readers for one mapping of the config document.

`Fields(errs, mapping, path)` reads keys with the type the schema wants and, on a bad value,
records `path.key: problem` and returns the default, so the caller carries on and the next
problem is found too. Type rules are strict where YAML is loose: a boolean is not an integer
(`vus: true` is an error, not 1), and a float is only an integer if it is integral (`10.0`).

Unknown keys are errors that suggest the closest known key: typos in configs otherwise turn
into silently ignored settings, the most expensive kind of load-test mistake.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from lunge_mp import limits
from lunge_mp.suggest import suggest
from lunge_mp.units import parse_duration
from lunge_mp.config.errors import Errors, describe, join

_MISSING: Any = object()


def unknown_key_message(key: object, known: Iterable[str]) -> str:
    known = list(known)
    hint = suggest(str(key), known)
    if hint:
        return f"unknown field; did you mean '{hint}'?"
    return f"unknown field; known fields: {', '.join(known)}"


def scalar_text(value: object) -> str | None:
    """The string form of a scalar YAML/JSON value (`200` → `'200'`, `true` → `'true'`), or None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


class Fields:
    """Reader for one mapping at `path`; every accessor records its own errors."""

    def __init__(self, errs: Errors, mapping: Mapping[Any, Any], path: str) -> None:
        self.errs = errs
        self.m = mapping
        self.path = path

    # -- structure ---------------------------------------------------------------------

    def at(self, key: str) -> str:
        return join(self.path, key)

    def error(self, key: str, message: str) -> None:
        self.errs.add(self.at(key), message)

    def has(self, key: str) -> bool:
        return key in self.m and self.m[key] is not None

    def raw(self, key: str, default: Any = None) -> Any:
        value = self.m.get(key, default)
        return default if value is None else value

    def check_keys(self, known: Iterable[str]) -> None:
        """Record an error for every key not in `known`, suggesting the closest one."""
        known = list(known)
        for key in self.m:
            if not isinstance(key, str):
                self.errs.add(join(self.path, key), f"field names must be strings, got {describe(key)}")
            elif key not in known:
                self.error(key, "unknown field" if self.errs.full else unknown_key_message(key, known))

    def _missing(self, key: str, required: bool | str) -> None:
        if required:
            self.error(key, "required" if required is True else required)

    # -- scalars ------------------------------------------------------------------------

    def str(self, key: str, default: Any = None, *, required: bool | str = False,
            nonempty: bool = False, choices: Iterable[str] | None = None) -> Any:
        if not self.has(key):
            self._missing(key, required)
            return default
        value = self.m[key]
        if not isinstance(value, str):
            self.error(key, f"must be a string, got {describe(value)}")
            return default
        if nonempty and not value.strip():
            self.error(key, "must not be empty")
            return default
        if choices is not None:
            choices = list(choices)
            if value not in choices:
                hint = suggest(value, choices)
                fix = f"did you mean '{hint}'? " if hint else ""
                self.error(key, f"unknown value '{value}'; {fix}use one of {', '.join(choices)}")
                return default
        return value

    def text(self, key: str, default: Any = None, *, required: bool | str = False) -> Any:
        """A scalar read as text: numbers and booleans are stringified (`200` → `'200'`)."""
        if not self.has(key):
            self._missing(key, required)
            return default
        value = scalar_text(self.m[key])
        if value is None:
            self.error(key, f"must be a string or number, got {describe(self.m[key])}")
            return default
        return value

    def bool(self, key: str, default: Any = None, *, required: bool | str = False) -> Any:
        if not self.has(key):
            self._missing(key, required)
            return default
        value = self.m[key]
        if not isinstance(value, bool):
            self.error(key, f"must be true or false, got {describe(value)}")
            return default
        return value

    def int(self, key: str, default: Any = None, *, required: bool | str = False,
            minimum: int | None = None, bound: limits.Bound = limits.NUMBER) -> Any:
        if not self.has(key):
            self._missing(key, required)
            return default
        value = as_int(self.m[key])
        if value is None:
            self.error(key, f"must be an integer, got {describe(self.m[key])}")
            return default
        if minimum is not None and value < minimum:
            self.error(key, f"must be > {minimum - 1}" if minimum > 0 else f"must be >= {minimum}")
            return default
        return self._bounded(key, value, bound, default)

    def _bounded(self, key: str, value: Any, bound: limits.Bound, default: Any, unit: str = "") -> Any:
        """`value`, or `default` after recording that it is over its bound (limits.py)."""
        problem = bound.problem(abs(value), unit)
        if problem:
            self.error(key, problem)
            return default
        return value

    def number(self, key: str, default: Any = None, *, required: bool | str = False,
               minimum: float | None = None, positive: bool = False,
               bound: limits.Bound = limits.NUMBER) -> Any:
        if not self.has(key):
            self._missing(key, required)
            return default
        value = as_number(self.m[key])
        if value is None:
            self.error(key, f"must be a number, got {describe(self.m[key])}")
            return default
        if positive and value <= 0:
            self.error(key, "must be > 0")
            return default
        if minimum is not None and value < minimum:
            self.error(key, f"must be >= {minimum:g}")
            return default
        return self._bounded(key, value, bound, default)

    def duration(self, key: str, default: Any = None, *, required: bool | str = False,
                 positive: bool = False) -> Any:
        """A duration in float seconds; `positive` refuses 0 where a zero length is meaningless."""
        if not self.has(key):
            self._missing(key, required)
            return default
        try:
            value = parse_duration(self.m[key])
        except ValueError as e:
            self.error(key, str(e))
            return default
        if positive and value <= 0:
            self.error(key, "must be > 0")
            return default
        return self._bounded(key, value, limits.DURATION, default, "s")

    # -- containers ---------------------------------------------------------------------

    def mapping(self, key: str, *, required: bool | str = False) -> Mapping[Any, Any] | None:
        if not self.has(key):
            self._missing(key, required)
            return None
        value = self.m[key]
        if not isinstance(value, Mapping):
            self.error(key, f"must be a mapping, got {describe(value)}")
            return None
        return value

    def list(self, key: str, *, required: bool | str = False, nonempty: bool = False) -> list[Any] | None:
        if not self.has(key):
            self._missing(key, required)
            return None
        value = self.m[key]
        if not isinstance(value, list):
            self.error(key, f"must be a list, got {describe(value)}")
            return None
        if nonempty and not value:
            self.error(key, "must not be empty")
            return None
        return value

    def str_map(self, key: str) -> dict[str, str]:
        """A flat string → string mapping (headers, tags); scalar values are stringified."""
        m = self.mapping(key)
        if m is None:
            return {}
        out: dict[str, str] = {}
        for k, v in m.items():
            path = join(self.at(key), k)
            if not isinstance(k, str) or not k:
                self.errs.add(path, f"names must be non-empty strings, got {describe(k)}")
                continue
            text = scalar_text(v)
            if text is None:
                self.errs.add(path, f"must be a string, got {describe(v)}")
                continue
            out[k] = text
        return out


def as_int(value: object) -> int | None:
    """An int from an int or an integral float; never from a bool or a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def as_number(value: object) -> float | None:
    """A finite float from an int or float; never from a bool, NaN or infinity."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return number if math.isfinite(number) else None
