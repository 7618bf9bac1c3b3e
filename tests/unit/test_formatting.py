"""lunge_mp/formatting.py: the one way plain-text outputs write figures and tables."""

from __future__ import annotations

import pytest

from lunge_mp import formatting as fmt


@pytest.mark.parametrize("value, text", [
    (None, "-"), (0.0, "0.00ms"), (0.2, "0.20ms"), (24.875, "24.88ms"), (99.994, "99.99ms"),
    (123.4, "123ms"), (999.4, "999ms"), (1234.0, "1.23s"), (-1500.0, "-1.50s"), (-150.0, "-150ms"),
])
def test_ms(value, text):
    assert fmt.ms(value) == text


def test_percentages_rates_and_counts():
    assert fmt.pct(0.0123) == "1.23%" and fmt.pct(None) == "-"
    assert fmt.signed_pct(4.2) == "+4.2%" and fmt.signed_pct(-0.04) == "0.0%" and fmt.signed_pct(None) == ""
    assert fmt.rate(1234.56) == "1,234.6/s" and fmt.rate(None) == "-"
    assert [fmt.count(v) for v in (1234.0, 12.5, 7, 7.0)] == ["1,234", "12.5", "7", "7"]
    assert fmt.num(None, ".2f", "max") == "max" and fmt.num("x", ".2f") == "x" and fmt.num(3, ",d") == "3"
    assert fmt.when("2026-11-23T19:48:36.840+00:00") == "2026-11-23 19:48" and fmt.when(None) == "-"


def test_table_aligns_and_never_ends_a_line_in_spaces():
    rows = [["name", "count", "note"], ["GET /", "1,234", "ok"], ["POST /login", "12", "a longer note"]]
    assert fmt.table(rows, left=(0, -1), indent="  ") == [
        "  name         count  note",
        "  -----------  -----  -------------",
        "  GET /        1,234  ok",
        "  POST /login     12  a longer note",
    ]
    assert fmt.table([["a", "b"]]) == ["a  b", "-  -"]


def test_md_table():
    assert fmt.md_table([["run", "rate"], ["x", "1"]]) == "| run | rate |\n|---|---:|\n| x | 1 |"
