"""Windowed thresholds: `p95 < 300ms over 30s` must hold on every sliding window. Pure.

Input is one entry per whole second of the measured run, oldest first:
- trend metrics: sparse HDR counts {counts index: n} of that second;
- rate metrics: (failures, requests) for http_req_failed, (passes, passes + fails) for checks;
- counters (http_reqs, iterations, dropped_iterations): n.
A window of W seconds ending at second t covers seconds t-W+1..t. Windows slide by one
second; a run shorter than W is judged as one window over all of it. Percentiles of a
window are those of one histogram of all its samples (counts added, never averaged).
The result names the worst window, so a report can say when the threshold broke.

`Sliding` is the window itself, fed one second at a time: `judge` slides it over a finished
run, and abortOnFail (analysis/live_windows.py) feeds it each second as the run goes, so
both judge the same windows the same way.
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


class Sliding:
    """The last `t.window` seconds fed (oldest first), with their data added up; `kind` is
    trend, rate or counter (see the module docstring for each one's data)."""

    __slots__ = ("t", "kind", "value_at", "width", "window", "counts", "num", "den")

    def __init__(self, t: Threshold, kind: str, value_at: ValueAt) -> None:
        self.t, self.kind, self.value_at = t, kind, value_at
        self.width = max(1, int(t.window))
        self.window: deque[tuple[int, object]] = deque()
        self.counts: Counter = Counter()
        self.num = self.den = 0

    def push(self, sec: int, data: object) -> None:
        """Add second `sec`; the oldest second leaves once the window is over-full."""
        self.window.append((sec, data))
        self._add(data, 1)
        if len(self.window) > self.width:
            _, old = self.window.popleft()
            self._add(old, -1)

    def _add(self, data, sign: int) -> None:
        if self.kind == "trend":
            if sign > 0:
                self.counts.update(data)
            else:
                self.counts.subtract(data)
        elif self.kind == "rate":
            self.num += sign * data[0]
            self.den += sign * data[1]
        else:
            self.num += sign * data

    @property
    def full(self) -> bool:
        return len(self.window) >= self.width

    @property
    def start(self) -> int | None:
        """The first second in the window."""
        return self.window[0][0] if self.window else None

    def value(self) -> float | None:
        """The window's observed value in the threshold's units; None without data."""
        t = self.t
        if self.kind == "trend":
            return trend_value(self.counts, t.aggregation, t.percentile, self.value_at)
        if self.kind == "rate":
            return self.num / self.den if self.den else None
        return float(self.num) if t.aggregation == "count" else self.num / len(self.window)


def judge(t: Threshold, seconds: Sequence[tuple[int, object]], kind: str, value_at: ValueAt) -> WindowVerdict:
    """Slide a window of `t.window` seconds over `seconds` and judge each position."""
    window = Sliding(t, kind, value_at)
    worst = worst_start = first_failure = None
    judged = 0

    def worse(a: float, b: float) -> bool:
        """Is `a` further on the failing side than `b`?"""
        return a > b if t.op in ("<", "<=") else a < b if t.op in (">", ">=") else not evaluate(t, a)

    for i, (sec, data) in enumerate(seconds):
        window.push(sec, data)
        if not window.full and i < len(seconds) - 1:
            continue          # not yet a full window (a short run is judged once at its end)
        judged += 1
        value = window.value()
        if value is None:
            continue
        if worst is None or worse(value, worst):
            worst, worst_start = value, window.start
        if first_failure is None and not evaluate(t, value):
            first_failure = window.start
    return WindowVerdict(first_failure is None and worst is not None, worst, worst_start, first_failure, judged)
