"""parse_duration: Go-style duration strings and bare numbers → float seconds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lunge_mp.units import parse_duration

VALID = [
    ("milliseconds", "250ms", 0.25),
    ("seconds", "30s", 30.0),
    ("minutes", "5m", 300.0),
    ("hours", "2h", 7200.0),
    ("hours-and-minutes", "1h30m", 5400.0),
    ("three-components", "1h2m3s", 3723.0),
    ("fractional-seconds", "1.5s", 1.5),
    ("fraction-exact", "1.1s", 1.1),
    ("microseconds", "100us", 0.0001),
    ("micro-sign", "100µs", 0.0001),
    ("nanoseconds", "1500ns", 1.5e-6),
    ("leading-dot", ".5s", 0.5),
    ("minutes-and-fraction", "1m30.5s", 90.5),
    ("zero", "0s", 0.0),
    ("bare-int", 30, 30.0),
    ("bare-float", 0.5, 0.5),
    ("bare-zero", 0, 0.0),
    ("numeric-string", "30", 30.0),
    ("numeric-string-float", "2.5", 2.5),
    ("surrounding-space", "  10s ", 10.0),
]


@pytest.mark.parametrize("text,expected", [(t, e) for _, t, e in VALID], ids=[c[0] for c in VALID])
def test_valid(text: object, expected: float) -> None:
    assert parse_duration(text) == pytest.approx(expected, rel=1e-12, abs=0)


INVALID = [
    ("negative-string", "-5s", "negative duration"),
    ("negative-number", -1, "negative duration"),
    ("unknown-unit", "5x", "invalid duration '5x'"),
    ("words", "five seconds", "invalid duration"),
    ("unit-only", "ms", "invalid duration"),
    ("uppercase-unit", "5S", "invalid duration"),
    ("trailing-garbage", "5s!", "invalid duration"),
    ("inner-space", "1h 30m", "invalid duration"),
    ("empty", "", "empty duration"),
    ("bool", True, "got true (a boolean)"),
    ("none", None, "got null"),
    ("list", [1], "got a list"),
    ("infinite", float("inf"), "must be finite"),
    ("nan", float("nan"), "must be finite"),
]


@pytest.mark.parametrize("value,message", [(v, m) for _, v, m in INVALID], ids=[c[0] for c in INVALID])
def test_invalid(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        parse_duration(value)
    assert message in str(info.value)


def test_error_says_what_to_write() -> None:
    with pytest.raises(ValueError) as info:
        parse_duration("10 sec")
    assert "250ms, 30s, 5m, 1h30m" in str(info.value)


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59), st.integers(0, 999))
def test_components_add_up(h: int, m: int, s: int, ms: int) -> None:
    text = f"{h}h{m}m{s}s{ms}ms"
    assert parse_duration(text) == pytest.approx(h * 3600 + m * 60 + s + ms / 1000, abs=1e-9)


@given(st.text(max_size=12))
def test_never_raises_anything_but_value_error(text: str) -> None:
    try:
        assert parse_duration(text) >= 0
    except ValueError:
        pass
