"""LiveWindows: abortOnFail for windowed thresholds, fed second by second while a run goes,
judges the same windows as the final verdict (analysis/windows.judge)."""

from __future__ import annotations

import pytest

from lunge_mp.analysis.live_windows import LiveWindows
from lunge_mp.analysis.thresholds import parse_threshold
from lunge_mp.analysis.windows import judge
from lunge_mp.metrics import hdr
from lunge_mp.metrics.hdr import value_at_index


def _counts(*values_us: int) -> dict[int, int]:
    h = hdr.new_histogram()
    for v in values_us:
        h.record_value(v)
    return hdr.sparse_counts(h)


# per second: (requests, failures, durations µs)
SECONDS = {0: (100, 0, [1_000] * 100), 1: (100, 0, [1_000] * 100), 2: (100, 30, [1_000] * 90 + [400_000] * 10),
           3: (100, 0, [1_000] * 100), 5: (100, 0, [1_000] * 100)}          # second 4: no report


def _row(t: int) -> dict | None:
    if t not in SECONDS:
        return None
    reqs, fails, _ = SECONDS[t]
    return {"t": t, "requests": reqs, "failures": fails, "byScenario": {"a": {"requests": reqs, "failures": fails}}}


def _counts_at(t: int, metric: str, scenario: str | None) -> dict[int, int]:
    return _counts(*SECONDS[t][2]) if t in SECONDS else {}


def _abort(expr: str, metric: str = "http_req_duration", delay: float = 0.0) -> object:
    return parse_threshold(metric, expr, abort_on_fail=True, delay_abort_eval=delay)


@pytest.mark.parametrize("metric, expr, broken_at", [
    ("http_req_duration", "p95 < 100ms over 1s", (2, 2)),
    ("http_req_duration", "p95 < 100ms over 2s", None),          # 10 of 200 slow: p95 is fast
    ("http_req_duration", "max < 100ms over 3s", (0, 2)),
    ("http_req_failed", "rate < 0.2 over 1s", (2, 2)),
    ("http_req_failed", "rate < 0.2 over 2s", None),            # 30 of 200
    ("a_failed", "rate < 0.1 over 2s", (1, 2)),
    ("http_reqs", "count >= 100 over 2s", None),
    ("a_duration", "p99 < 100ms over 1s", (2, 2)),
])
def test_the_first_failing_full_window_is_found_when_its_last_second_is_fed(metric, expr, broken_at):
    t = _abort(expr, metric)
    live = LiveWindows([t], ["a"], 0.0)
    assert live.watched == [t]
    found = None
    for upto in range(6):             # one complete second more at each check
        found = live.feed(upto, upto + 1.0, _row, _counts_at)
        if found is not None:
            assert (found.start, found.end) == broken_at and found.end == upto
            break
    if broken_at is None:
        assert found is None
    else:
        assert found is not None
        # the final verdict judges the same window first
        kind = "trend" if "duration" in metric else "rate" if "failed" in metric else "counter"
        if kind == "trend":
            data = [(s, _counts(*SECONDS[s][2])) for s in sorted(SECONDS)]
        elif metric == "a_failed" or kind == "rate":
            data = [(s, (SECONDS[s][1], SECONDS[s][0])) for s in sorted(SECONDS)]
        else:
            data = [(s, SECONDS[s][0]) for s in sorted(SECONDS)]
        v = judge(t, data, kind, value_at_index)
        assert v.first_failure == broken_at[0]


def test_windows_wait_for_delay_abort_eval_and_whole_windows_and_seconds_are_fed_once():
    t = _abort("p95 < 100ms over 1s", delay=5.0)
    live = LiveWindows([t], [], 0.0)
    assert live.feed(3, 4.0, _row, _counts_at) is None          # second 2 broke it, but too early
    assert live.feed(3, 6.0, _row, _counts_at) is None          # nothing new: seconds are fed once
    short = LiveWindows([_abort("p95 < 100ms over 30s")], [], 0.0)
    assert short.feed(5, 6.0, _row, _counts_at) is None         # no full 30 s window yet


def test_warmup_seconds_and_metrics_not_kept_per_second_are_left_alone():
    late = LiveWindows([_abort("p95 < 100ms over 1s")], [], 3.0)    # measured from second 3
    assert late.feed(5, 3.0, _row, _counts_at) is None
    other = _abort("avg < 100 over 2s", "iteration_duration")
    plain = _abort("p95 < 100ms")
    live = LiveWindows([other, plain], [], 0.0)
    assert live.watched == []            # both are checked on the totals
    assert live.feed(5, 6.0, _row, _counts_at) is None
