"""abortOnFail for windowed thresholds (`p95 < 300ms over 30s`): the windows judged while the run goes. Pure.

Each second the abort check feeds every second that has become complete since the last check
(every live worker reported it: `Aggregate.complete_second`) into one `windows.Sliding` per
threshold: the same per-second data (`verdict.window_source`, `verdict.second_datum`) and the
same window the final verdict slides over the finished run. Every full window is judged once
its threshold's delayAbortEval has passed; the first that fails stops the run, about two
seconds after the window's last second ended (a second is complete when its reports are in,
and the check runs once a second). Each second is fed once, so a check costs only the new
seconds, however long the window.

A run shorter than a window has no full window while it runs: only the final verdict judges
it, as one window over the whole run. Thresholds on metrics not kept per second are left to
the totals check (`watched` says which ones are judged here).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lunge_mp.analysis.thresholds import evaluate
from lunge_mp.analysis.verdict import second_datum, window_source
from lunge_mp.analysis.window_groups import WindowGroups
from lunge_mp.analysis.windows import Sliding
from lunge_mp.metrics.hdr import value_at_index
from lunge_mp.plan import Threshold

SecondFn = Callable[[int], dict | None]                       # second t's bucket row; None: no report
# (t, metric, scenario or window group) → sparse HDR counts
CountsFn = Callable[[int, str, str | int | None], dict[int, int]]
GroupFn = Callable[[int, int], dict | None]                   # (t, group) → its counters (Bucket.group_row)


@dataclass(frozen=True)
class Broken:
    """A full window that failed its threshold."""
    threshold: Threshold
    observed: float
    start: int          # the window's first second (seconds since t0)
    end: int            # its last second


class LiveWindows:
    def __init__(self, thresholds: Iterable[Threshold], scenario_names: Iterable[str],
                 measured_from: float, groups: WindowGroups | None = None) -> None:
        names = {n: {} for n in scenario_names}
        shape = {"scenarios": names, "requests": {}, "metrics": {}}   # all window_source reads
        # (threshold, base metric, scenario / None / window group number, window)
        self._watch: list[tuple[Threshold, str, str | int | None, Sliding]] = []
        for t in thresholds:
            source = window_source(t, shape, groups) if t.window else None
            if source is not None:
                kind, base, scenario = source
                self._watch.append((t, base, scenario, Sliding(t, kind, value_at_index)))
        self.watched = [w[0] for w in self._watch]
        self._next = math.ceil(measured_from)     # the first measured second not fed yet

    def feed(self, upto: int | None, measured: float, second: SecondFn, counts: CountsFn,
             group: GroupFn | None = None) -> Broken | None:
        """Feed the seconds up to `upto` (inclusive) not fed yet; judge each full window of a
        threshold whose delayAbortEval is past (`measured` seconds of measured run so far).
        `group` gives a window group's counters (thresholds with request or tag filters).
        Returns the first failing window, or None."""
        if upto is None or not self._watch:
            return None
        while self._next <= upto:
            sec = self._next
            self._next += 1
            row = second(sec)
            if row is None:
                continue          # no report covered it: not a second of the run (as at the end)
            broken = None
            for t, base, scenario, window in self._watch:
                if window.kind == "trend":
                    window.push(sec, counts(sec, base, scenario))
                elif type(scenario) is int:     # a window group's counters
                    window.push(sec, second_datum(base, None, group(sec, scenario) or {}))
                else:
                    window.push(sec, second_datum(base, scenario, row))
                if broken is not None or not window.full or measured < t.delay_abort_eval:
                    continue
                value = window.value()
                if value is not None and not evaluate(t, value):
                    broken = Broken(t, value, window.start, sec)
            if broken is not None:
                return broken
        return None
