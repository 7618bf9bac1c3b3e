"""Values written with units, for config, thresholds and flags alike: duration strings → float
seconds, and how a wrong value is named in a message. A leaf: it imports nothing of lunge_mp.

Lunge (a Go tool) writes durations the way Go's `time.ParseDuration` reads them, so existing
configs use `250ms`, `30s`, `5m`, `1h30m`, `1.5s`, `100us`. A bare number (or a numeric string)
means seconds, as in Lunge's JSON/YAML duration type.

The components are summed in `Decimal` and rounded to float once, so `1.1s` is exactly
`float("1.1")` and `100ms` is exactly `0.1` rather than an accumulated binary error.

Negative durations are refused: nothing in a load test has a negative length or offset, and
Go's `-5s` in a config is always a typo.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

# unit → seconds. µs/μs are the two Unicode spellings Go accepts for microseconds.
UNITS: dict[str, Decimal] = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "µs": Decimal("1e-6"),
    "μs": Decimal("1e-6"),
    "ms": Decimal("1e-3"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
}

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_COMPONENT = re.compile(rf"({_NUMBER})(ns|us|µs|μs|ms|s|m|h)")
_BARE = re.compile(rf"{_NUMBER}(?:[eE][+-]?\d+)?")

HINT = "use a number of seconds or a duration like 250ms, 30s, 5m, 1h30m (units: ns, us, ms, s, m, h)"


def parse_duration(value: object) -> float:
    """Return `value` in float seconds; raise ValueError saying what was wrong and what to write.

    Accepts int/float seconds (not bool), numeric strings (seconds) and Go-style duration
    strings made of one or more `<number><unit>` components.
    """
    if isinstance(value, bool) or value is None or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a duration, got {describe(value)}; {HINT}")
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:   # an int beyond float range
            raise ValueError(f"invalid duration: a number of seconds too large for any duration; {HINT}") from None
        if not math.isfinite(seconds):
            raise ValueError(f"invalid duration {value!r}: must be finite; {HINT}")
        if seconds < 0:
            raise ValueError(f"negative duration {value!r}; durations must be >= 0")
        return seconds
    text = value.strip()
    if not text:
        raise ValueError(f"empty duration; {HINT}")
    if text.startswith("-"):
        raise ValueError(f"negative duration '{value}'; durations must be >= 0")
    if _BARE.fullmatch(text):
        return parse_duration(float(text))
    total = Decimal(0)
    pos = 0
    for m in _COMPONENT.finditer(text):
        if m.start() != pos:
            break
        total += Decimal(m.group(1)) * UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"invalid duration '{value}'; {HINT}")
    return float(total)


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
