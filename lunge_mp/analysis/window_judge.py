"""Windowed thresholds (`p95 < 300ms over 30s`) judged as the run goes, one second at a time. Pure.

A long run folds its 1-second buckets into 10- and 60-second ones once they are an hour old
(metrics/folding.py), so the windows cannot be slid over the finished run's buckets: each
1-second bucket is handed here just before it is folded (`Buckets.on_retire`), and the rest at
the end (`Aggregate.retire_rest`). Every second is pushed once, in order, into one
`windows.Sliding` per threshold, and each position is judged exactly as `windows.judge`
judges a finished run (every full window; a run shorter than the window once, at its end),
so the verdict is the same whatever the run's length — and a window shorter than a folded
bucket is still judged on its own seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

from lunge_mp.analysis.thresholds import evaluate
from lunge_mp.analysis.verdict import second_datum, window_source
from lunge_mp.analysis.window_groups import WindowGroups
from lunge_mp.analysis.windows import Sliding, WindowVerdict
from lunge_mp.metrics.hdr import value_at_index
from lunge_mp.plan import Threshold


class _Watch:
    __slots__ = ("t", "base", "scenario", "window", "worst", "worst_start", "first_failure",
                 "judged", "pending")

    def __init__(self, t: Threshold, kind: str, base: str, scenario: str | int | None) -> None:
        # scenario: a scenario's name, None (run-wide) or a window group's number (int)
        self.t, self.base, self.scenario = t, base, scenario
        self.window = Sliding(t, kind, value_at_index)
        self.worst = self.worst_start = self.first_failure = None
        self.judged = 0
        self.pending = False        # the newest second was pushed but not judged (window not full)

    def judge(self) -> None:
        t, window = self.t, self.window
        self.judged += 1
        self.pending = False
        value = window.value()
        if value is None:
            return
        if self.worst is None or _worse(t, value, self.worst):
            self.worst, self.worst_start = value, window.start
        if self.first_failure is None and not evaluate(t, value):
            self.first_failure = window.start


def _worse(t: Threshold, a: float, b: float) -> bool:
    """Is `a` further on the failing side than `b`? (as windows.judge)"""
    return a > b if t.op in ("<", "<=") else a < b if t.op in (">", ">=") else not evaluate(t, a)


class WindowJudge:
    """Judges every windowed threshold of `thresholds` (by position) on the seconds fed."""

    def __init__(self, thresholds: Iterable[Threshold], scenario_names: Iterable[str],
                 measured_from: float, groups: WindowGroups | None = None) -> None:
        shape = {"scenarios": {n: {} for n in scenario_names}, "requests": {}, "metrics": {}}
        self._watch: dict[int, _Watch] = {}
        for i, t in enumerate(thresholds):
            source = window_source(t, shape, groups) if t.window else None
            if source is not None:
                self._watch[i] = _Watch(t, *source)
        self.measured_from = measured_from

    def retire(self, bucket) -> None:
        """One 1-second bucket (metrics/buckets.Bucket), oldest first; warmup seconds skipped."""
        if not self._watch or bucket.t < self.measured_from:
            return
        row = None
        for w in self._watch.values():
            if w.window.kind == "trend":
                data = bucket.sparse_counts((w.scenario, w.base))
            elif type(w.scenario) is int:       # a window group's counters
                data = second_datum(w.base, None, bucket.group_row(w.scenario))
            else:
                row = row if row is not None else bucket.as_dict()
                data = second_datum(w.base, w.scenario, row)
            w.window.push(bucket.t, data)
            if w.window.full:
                w.judge()
            else:
                w.pending = True

    def verdicts(self) -> dict[int, WindowVerdict]:
        """Threshold position → its verdict over every second fed (call once, at the end)."""
        out = {}
        for i, w in self._watch.items():
            if w.pending:           # a run shorter than the window: judged once, over all of it
                w.judge()
            out[i] = WindowVerdict(w.first_failure is None and w.worst is not None, w.worst,
                                   w.worst_start, w.first_failure, w.judged)
        return out
