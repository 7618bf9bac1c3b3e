"""Windowed thresholds: `p95 < 300ms over 30s` must hold on every sliding window. Pure.

Input is one entry per whole second of the measured run, oldest first:
- trend metrics: sparse HDR counts {counts index: n} of that second;
- rate metrics: (failures, requests) for http_req_failed, (passes, passes + fails) for checks;
- counters (http_reqs, iterations, dropped_iterations): n.
A window of W seconds ending at second t covers seconds t-W+1..t. Windows slide by one
second; a run shorter than W is judged as one window over all of it. Percentiles of a
window are those of one histogram of all its samples (counts added, never averaged).
The result names the worst window, so a report can say when the threshold broke.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from lunge_mp.analysis.thresholds import evaluate
from lunge_mp.plan import Threshold

ValueAt = Callable[[int, bool], int]      # (counts index, lowest?) -> µs


@dataclass(frozen=True)
class WindowVerdict:
    ok: bool
    worst: float | None          # the observed value of the worst window (threshold units)
    worst_start: int | None      # first second of that window
    first_failure: int | None    # first second of the first failing window
    windows: int                 # how many windows were judged


def trend_value(counts: Counter, aggregation: str, percentile: float, value_at: ValueAt) -> float | None:
    """avg/min/max/med/pN in ms of a window's merged sparse counts (HdrHistogram's rules)."""
    total = sum(counts.values())
    if total == 0:
        return None
    keys = sorted(k for k, n in counts.items() if n)
    if aggregation == "min":
        return value_at(keys[0], True) / 1000
    if aggregation == "max":
        return value_at(keys[-1], False) / 1000
    if aggregation == "avg":
        mids = sum(counts[k] * (value_at(k, True) + value_at(k, False)) / 2 for k in keys)
        return mids / total / 1000
    p = 50.0 if aggregation == "med" else percentile
    cum = list(accumulate(counts[k] for k in keys))
    target = max(int(min(p, 100.0) * total / 100 + 0.5), 1)
    return value_at(keys[min(bisect_left(cum, target), len(keys) - 1)], p == 0) / 1000


def judge(t: Threshold, seconds: Sequence[tuple[int, object]], kind: str, value_at: ValueAt) -> WindowVerdict:
    """Slide a window of `t.window` seconds over `seconds` and judge each position."""
    width = max(1, int(t.window))
    window: deque[tuple[int, object]] = deque()
    counts: Counter = Counter()
    num = den = 0
    worst = worst_start = first_failure = None
    judged = 0

    def observe() -> float | None:
        if kind == "trend":
            return trend_value(counts, t.aggregation, t.percentile, value_at)
        if kind == "rate":
            return num / den if den else None
        return float(num) if t.aggregation == "count" else num / len(window)

    def worse(a: float, b: float) -> bool:
        """Is `a` further on the failing side than `b`?"""
        return a > b if t.op in ("<", "<=") else a < b if t.op in (">", ">=") else not evaluate(t, a)

    for i, (sec, data) in enumerate(seconds):
        window.append((sec, data))
        if kind == "trend":
            counts.update(data)
        elif kind == "rate":
            num, den = num + data[0], den + data[1]
        else:
            num += data
        if len(window) > width:
            _, old = window.popleft()
            if kind == "trend":
                counts.subtract(old)
            elif kind == "rate":
                num, den = num - old[0], den - old[1]
            else:
                num -= old
        if len(window) < width and i < len(seconds) - 1:
            continue          # not yet a full window (a short run is judged once at its end)
        judged += 1
        value = observe()
        if value is None:
            continue
        if worst is None or worse(value, worst):
            worst, worst_start = value, window[0][0]
        if first_failure is None and not evaluate(t, value):
            first_failure = window[0][0]
    return WindowVerdict(first_failure is None and worst is not None, worst, worst_start, first_failure, judged)
