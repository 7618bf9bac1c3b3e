"""ConfigError and the error collector every validator writes into.

Validation never stops at the first problem: each validator appends `path: problem; fix` to
one `Errors` list and returns a best-effort value, and `plan_from_dict` raises a single
ConfigError at the end, so one run of the tool shows everything that is wrong with a file
(k6 collects `[]error` the same way).
"""

from __future__ import annotations

from lunge_mp.limits import ERRORS_SHOWN
from lunge_mp.units import describe as describe   # every validator names wrong values with it


class ConfigError(Exception):
    """An invalid config: `.errors` holds one `field.path: problem; fix` line per problem."""

    def __init__(self, errors: list[str] | str, source: str = "") -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        self.source = source
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)


class Errors:
    """An append-only list of `path: message` lines; past `shown` lines, problems are only
    counted (a file of 50,000 unknown keys gets a readable answer, fast)."""

    def __init__(self, shown: int = ERRORS_SHOWN) -> None:
        self.items: list[str] = []
        self.shown = shown
        self.more = 0

    @property
    def full(self) -> bool:
        """True once further problems are only counted: callers may skip working out messages."""
        return len(self.items) >= self.shown

    def add(self, path: str, message: str) -> None:
        if self.full:
            self.more += 1
            return
        self.items.append(f"{path or '(root)'}: {message}")

    def __len__(self) -> int:
        return len(self.items) + self.more

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, source: str = "") -> None:
        if self.items:
            more = [f"... and {self.more:,} more problem{'s' if self.more > 1 else ''}"] if self.more else []
            raise ConfigError(self.items + more, source)


def join(path: str, key: object) -> str:
    """`settings` + `timeout` → `settings.timeout`; the root has the empty path."""
    return f"{path}.{key}" if path else str(key)


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"
