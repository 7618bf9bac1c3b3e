"""ConfigError and the error collector every validator writes into.

Validation never stops at the first problem: each validator appends `path: problem; fix` to
one `Errors` list and returns a best-effort value, and `plan_from_dict` raises a single
ConfigError at the end, so one run of the tool shows everything that is wrong with a file
(k6 collects `[]error` the same way).
"""

from __future__ import annotations


class ConfigError(Exception):
    """An invalid config: `.errors` holds one `field.path: problem; fix` line per problem."""

    def __init__(self, errors: list[str] | str, source: str = "") -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        self.source = source
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)


class Errors:
    """An append-only list of `path: message` lines."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path or '(root)'}: {message}")

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, source: str = "") -> None:
        if self.items:
            raise ConfigError(self.items, source)


def join(path: str, key: object) -> str:
    """`settings` + `timeout` → `settings.timeout`; the root has the empty path."""
    return f"{path}.{key}" if path else str(key)


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def describe(value: object) -> str:
    """How a wrong value is named in a message: `got 'ten' (a string)`, `got true (a boolean)`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}' (a string)"
    if isinstance(value, (int, float)):
        return f"{value!r} (a number)"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
