"""Windowed thresholds: a window's percentiles equal one histogram of its samples; worst window found."""

import random

import pytest
from hypothesis import given, settings, strategies as st

from lunge_mp.analysis.thresholds import parse_threshold
from lunge_mp.analysis.windows import judge
from lunge_mp.metrics import hdr


def per_second(samples_by_second):
    out = []
    for sec, values in enumerate(samples_by_second):
        h = hdr.new_histogram()
        for v in values:
            h.record_value(v)
        out.append((sec, hdr.sparse_counts(h)))
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(1, 5_000_000), min_size=0, max_size=40), min_size=1, max_size=8),
       st.integers(1, 4), st.sampled_from([50.0, 95.0, 99.0, 99.9]))
def test_window_percentile_equals_one_histogram_of_its_samples(seconds, width, p):
    t = parse_threshold("http_req_duration", f"p({p}) < 1 over {width}s")
    v = judge(t, per_second(seconds), "trend", hdr.value_at_index)
    # the worst window's value must equal some window's exact percentile, and be the largest
    exact = []
    starts = range(0, max(1, len(seconds) - width + 1))
    for s in starts:
        h = hdr.new_histogram()
        for values in seconds[s:s + width]:
            for x in values:
                h.record_value(x)
        if h.total_count:
            exact.append(h.get_value_at_percentile(p) / 1000)
    if exact:
        assert v.worst == max(exact)
    else:
        assert v.worst is None and not v.ok


def test_a_short_spike_fails_the_window_but_not_the_whole_run():
    rng = random.Random(1)
    seconds = [[rng.randint(1_000, 5_000) for _ in range(200)] for _ in range(60)]
    seconds[30] = seconds[30] + [300_000] * 30          # one bad second: 300 ms for 30 requests
    t = parse_threshold("http_req_duration", "p95 < 100ms over 1s")
    v = judge(t, per_second(seconds), "trend", hdr.value_at_index)
    assert not v.ok and v.first_failure == 30 and v.worst_start == 30 and v.worst >= 299
    whole = parse_threshold("http_req_duration", "p95 < 100ms over 60s")
    assert judge(whole, per_second(seconds), "trend", hdr.value_at_index).ok


@pytest.mark.parametrize("expr, data, ok, worst", [
    pytest.param("rate < 0.2 over 2s", [(0, (0, 10)), (1, (3, 10)), (2, (0, 10))], True, 0.15,
                 id="rate-never-over"),
    pytest.param("rate < 0.1 over 1s", [(0, (0, 10)), (1, (3, 10)), (2, (0, 10))], False, 0.3,
                 id="rate-one-bad-second"),
], )
def test_rate_windows(expr, data, ok, worst):
    v = judge(parse_threshold("http_req_failed", expr), data, "rate", hdr.value_at_index)
    assert v.ok is ok and v.worst == pytest.approx(worst)


def test_counter_windows_use_the_rate_within_the_window():
    data = [(s, n) for s, n in enumerate([100, 100, 10, 100])]
    v = judge(parse_threshold("http_reqs", "rate > 50 over 2s"), data, "counter", hdr.value_at_index)
    assert v.ok and v.worst == 55.0 and v.worst_start == 1
    v = judge(parse_threshold("http_reqs", "rate > 50 over 1s"), data, "counter", hdr.value_at_index)
    assert not v.ok and v.first_failure == 2


def test_run_shorter_than_the_window_is_judged_once():
    v = judge(parse_threshold("http_reqs", "count > 5 over 30s"), [(0, 3), (1, 4)], "counter",
              hdr.value_at_index)
    assert v.windows == 1 and v.ok and v.worst == 7
