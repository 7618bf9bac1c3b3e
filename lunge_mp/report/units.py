"""Figures with their units, for every report (console, HTML, JUnit). Pure.

A threshold's observed value is in the threshold's own units (analysis/thresholds.py): ms
for trend metrics, a fraction for rates, a count or a per-second rate for counters. Shown
bare, `observed 5.307` leaves the reader guessing; `5.31ms` does not. Milliseconds as the
report around them writes them: the text tables' (lunge_mp/formatting.py) by default, the
HTML page's there.
"""

from __future__ import annotations

from collections.abc import Callable

from lunge_mp import formatting as fmt
from lunge_mp.analysis.thresholds import metric_kind, parse_threshold


def observed(metric: str, expression: str, value: float | int | None,
             ms: Callable[[float], str] = fmt.ms) -> str:
    """`5.307` → `5.31ms` (a trend), `0.0123` → `0.0123 (1.23%)` (a rate), `2400` → `2,400`."""
    if value is None:
        return "n/a"
    try:
        aggregation = parse_threshold(metric, expression).aggregation
    except ValueError:
        return f"{value:g}"
    kind = metric_kind(metric)
    if kind == "trend" and aggregation != "count":
        return ms(float(value))
    if kind == "rate" and aggregation == "rate":
        return f"{value:.4g} ({value:.2%})"
    if kind == "counter" and aggregation == "rate":
        return fmt.rate(value)
    if aggregation == "count" or (isinstance(value, int) and not isinstance(value, bool)):
        return f"{int(value):,}"
    return f"{value:g}"
