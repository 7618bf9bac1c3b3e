"""metrics/: batch folding equals record_value, merged percentiles equal one histogram of all
samples, drain/reset, counters, sequence gaps, bucket alignment, cardinality cap, memory bound."""

from __future__ import annotations

import random
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lunge_mp.metrics import hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.names import (HTTP_REQ_DURATION, HTTP_REQ_RESPONSE_TIME, ITERATION_DURATION,
                                    OVERFLOW, SCHEDULE_LAG)
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.protocol import messages as m

# values that cross every table/bucket boundary the fold relies on
EDGES = [0, 1, 2047, 2048, 2049, 4095, 4096, (1 << 17) - 1, 1 << 17, (1 << 17) + 127,
         (1 << 17) + 128, (1 << 24) - 1, 1 << 24, hdr.HIGHEST - 1, hdr.HIGHEST]

values_st = st.lists(st.one_of(st.integers(0, 200_000), st.integers(0, hdr.HIGHEST),
                               st.sampled_from(EDGES)), max_size=300)


def reference(values) -> "hdr.HdrHistogram":
    """The slow exact reference: record_value per (clamped) value."""
    h = hdr.new_histogram()
    for v in values:
        assert h.record_value(min(max(int(v), 0), hdr.HIGHEST))
    return h


def same(a, b) -> bool:
    return (a.equals(b) and a.get_total_count() == b.get_total_count()
            and a.get_min_value() == b.get_min_value() and a.get_max_value() == b.get_max_value())


def report(worker: int, seq: int, bucket: int, rec: Recorder, run_id: str = "r") -> m.Report:
    """Drain `rec` into a Report and send it through the real msgpack codec."""
    series, counters, scenarios = rec.drain()
    msg = m.Report(worker=worker, run_id=run_id, seq=seq, bucket=bucket, series=series,
                   counters=counters, scenarios=scenarios)
    return m.decode(m.encode(msg))


# ---- hdr.py ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,values", [
    ("empty", []),
    ("zero", [0]),
    ("edges", EDGES),
    ("duplicates", [1500] * 1000 + [3] * 7),
    ("negative clamps to 0", [-5, -1, 10]),
    ("above 1 h clamps to HIGHEST", [hdr.HIGHEST + 1, 10 ** 12, 5]),
    ("floats truncate", [1.7, 2048.9, 5]),
    ("floats in the middle", [5, 2.5, 9]),
])
def test_fold_equals_record_value_cases(name, values):
    h = hdr.new_histogram()
    hdr.record_many(h, values)
    ref = reference(values)
    assert same(h, ref), name
    assert (h.min_value, h.max_value) == (ref.min_value, ref.max_value)


@settings(max_examples=60, deadline=None)
@given(st.lists(values_st, min_size=1, max_size=4))
def test_fold_in_batches_equals_record_value(batches):
    t = hdr.Tally()
    for b in batches:
        t.add_values(b)
    h = hdr.new_histogram()
    t.apply(h)
    flat = [v for b in batches for v in b]
    ref = reference(flat)
    assert same(h, ref)
    assert (h.min_value, h.max_value) == (ref.min_value, ref.max_value)


@settings(max_examples=40, deadline=None)
@given(values_st.filter(bool))
def test_fast_queries_equal_hdrh(values):
    h = reference(values)
    ps = [0.0, 0.1, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0]
    assert hdr.percentiles(h, ps) == h.get_percentile_to_value_dict(ps)
    assert hdr.mean(h) == h.get_mean_value()


def test_encode_decode_round_trip():
    values = [random.Random(1).randint(0, 10 ** 7) for _ in range(2000)] + EDGES
    h = reference(values)
    data = hdr.encode(h)
    assert isinstance(data, bytes)
    back = hdr.decode(data)
    assert same(back, h)
    assert hdr.summarize_ms(back) == hdr.summarize_ms(h)
    assert hdr.decode(hdr.encode(hdr.new_histogram())).get_total_count() == 0


@pytest.mark.parametrize("name,data", [
    ("not base64", b"!!!"),
    ("empty", b""),
    ("other configuration", hdr.HdrHistogram(1, 1000, 2).encode()),
])
def test_decode_rejects(name, data):
    with pytest.raises(ValueError):
        hdr.decode(data)


def test_merge_keeps_min_exact():
    """hdrh's add() would report min 0 after adding into an empty histogram."""
    dst = hdr.new_histogram()
    hdr.merge(dst, reference([5000, 7000]))
    hdr.merge(dst, hdr.new_histogram())
    hdr.merge(dst, reference([6000]))
    assert same(dst, reference([5000, 7000, 6000]))


def test_summarize_ms():
    assert hdr.summarize_ms(hdr.new_histogram()) == {
        "count": 0, "min": None, "avg": None, "med": None, "p50": None, "p90": None,
        "p95": None, "p99": None, "p99.9": None, "max": None}
    s = hdr.summarize_ms(reference([1000, 2000, 3000]))
    # 1000 and 2000 have 1 µs buckets; 3000 is in a 2 µs bucket, reported as its top (3001)
    assert s == {"count": 3, "min": 1.0, "avg": 2.0, "med": 2.0, "p50": 2.0, "p90": 3.001,
                 "p95": 3.001, "p99": 3.001, "p99.9": 3.001, "max": 3.001}


# ---- merge exactness ------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(values_st, min_size=1, max_size=3), min_size=1, max_size=5))
def test_merged_workers_equal_one_histogram(workers):
    """N workers × several intervals, through the wire codec: totals and buckets exact."""
    agg = Aggregate(run_id="r")
    everything: list[int] = []
    per_bucket: dict[int, list[int]] = {}
    for w, intervals in enumerate(workers):
        rec = Recorder()
        for seq, values in enumerate(intervals):
            for v in values:
                rec.request_done("s", "get", v, v + 1, False, None, None, 1, 1)
            everything += values
            per_bucket.setdefault(seq, []).extend(values)
            assert agg.add(report(w, seq, seq, rec)) == []
    ref = reference(everything)
    assert same(agg.histogram(HTTP_REQ_DURATION), ref)
    assert same(agg.histogram(HTTP_REQ_DURATION, "s"), ref)
    assert same(agg.histogram(HTTP_REQ_DURATION, "s", "get"), ref)
    assert agg.summary(HTTP_REQ_DURATION) == hdr.summarize_ms(ref)
    assert agg.summary(HTTP_REQ_DURATION, request="get") == hdr.summarize_ms(ref)
    assert agg.counters()["requests"] == len(everything)
    for b in agg.buckets():
        bref = hdr.summarize_ms(reference(per_bucket[b["t"]]))
        assert (b["p50"], b["p95"]) == (bref["p50"], bref["p95"])
        assert b["requests"] == len(per_bucket[b["t"]])


# ---- Recorder -------------------------------------------------------------------------

def test_empty_drain_returns_nothing():
    rec = Recorder()
    assert rec.drain() == ([], [], [])
    rec.request_done("s", "get", 100, None, False, None, None, 10, 5)
    series, counters, scenarios = rec.drain()
    assert [x.metric for x in series] == [HTTP_REQ_DURATION]   # response time had no samples
    assert counters == [m.CounterDelta("s", "get", 1, 0, {}, 10, 5, {})]
    assert scenarios == []
    assert rec.drain() == ([], [], [])


def test_drain_resets_but_gauges_persist():
    rec = Recorder()
    rec.iteration_done("s", 900, 40)
    rec.set_gauges("s", 3, 8)
    rec.dropped("s", "no_vu", 2)
    rec.interrupted("s")
    rec.scheduled("s", 10)
    series, _, scenarios = rec.drain()
    assert {(x.request, x.metric) for x in series} == {("", ITERATION_DURATION), ("", SCHEDULE_LAG)}
    assert scenarios == [m.ScenarioDelta("s", 1, {"no_vu": 2}, 1, 3, 8, 10)]
    assert rec.drain() == ([], [], [m.ScenarioDelta("s", 0, {}, 0, 3, 8, 0)])
    rec.set_gauges("s", 0, 0)
    assert rec.drain() == ([], [], [m.ScenarioDelta("s", 0, {}, 0, 0, 0, 0)])  # the drop to 0
    assert rec.drain() == ([], [], [])


def test_request_counters_and_first_error():
    rec = Recorder()
    rec.request_done("s", "get", 10, 12, True, "timeout", "timed out after 5s", 0, 100)
    rec.request_done("s", "get", 10, 12, True, "timeout", "second message", 0, 100)
    rec.request_done("s", "get", 10, 12, True, None, None, 0, 100)
    rec.request_done("s", "get", 10, 12, False, None, None, 2000, 100)
    _, counters, _ = rec.drain()
    assert counters == [m.CounterDelta("s", "get", 4, 3, {"timeout": 2, "other": 1}, 2000, 400,
                                       {"timeout": "timed out after 5s", "other": ""})]


def test_counters_sum_across_workers():
    agg = Aggregate()
    for w in range(3):
        rec = Recorder()
        for i in range(10):
            failed = i < w
            rec.request_done("s", "get", 1000, None, failed, "http_5xx" if failed else None,
                             f"w{w}" if failed else None, 10, 1)
        rec.request_done("t", "post", 1000, None, False, None, None, 1, 1)
        rec.iteration_done("s", 2000, None)
        rec.dropped("s", "behind")
        rec.scheduled("s", 5)
        rec.set_gauges("s", 1, 2 + w)
        agg.add(report(w, 0, 0, rec))
    assert agg.counters("s", "get") == {"requests": 30, "failures": 3,
                                        "errors": {"http_5xx": 3}, "first_error": {"http_5xx": "w1"},
                                        "bytes_in": 300, "bytes_out": 30,
                                        "checks_passed": 0, "checks_failed": 0, "queued": 0}
    assert agg.counters()["requests"] == 33
    assert agg.counters(request="post")["bytes_in"] == 3
    assert agg.scenario_counters("s") == {"iterations": 3, "dropped": {"behind": 3},
                                          "interrupted": 0, "scheduled": 15,
                                          "vus_max": 9, "active_vus_max": 3}
    assert agg.scenario_counters("nope")["iterations"] == 0
    assert agg.request_keys() == [("s", "get"), ("t", "post")]


def test_checks_are_counted_per_request_and_summed_per_scenario_run_and_second():
    """Recorder.checks → CounterDelta (through msgpack) → Aggregate totals and buckets."""
    agg = Aggregate()
    for w in range(2):
        for second in range(2):
            rec = Recorder()
            rec.checks("s", "home", 3, 0)               # three assertions held
            rec.checks("s", "home", 2, 1 + w)           # one or two did not
            rec.checks("s", "down", 0, 1)
            rec.checks("t", "home", 5, 0)
            rec.request_done("s", "home", 10, None, True, "check", "x", 0, 0)
            _, counters, _ = rec.drain()
            by = {(c.scenario, c.request): c for c in counters}
            assert (by[("s", "home")].checks_passed, by[("s", "home")].checks_failed) == (5, 1 + w)
            assert (by[("s", "down")].checks_passed, by[("s", "down")].checks_failed) == (0, 1)
            msg = m.Report(worker=w, run_id="r", seq=second, bucket=second, counters=counters)
            agg.add(m.decode(m.encode(msg)))
    home = agg.counters("s", "home")
    assert (home["checks_passed"], home["checks_failed"]) == (20, 2 + 4)
    assert (agg.counters("s")["checks_passed"], agg.counters("s")["checks_failed"]) == (20, 6 + 4)
    assert (agg.counters(request="home")["checks_passed"], agg.counters(request="home")["checks_failed"]) \
        == (40, 6)
    assert (agg.counters()["checks_passed"], agg.counters()["checks_failed"]) == (40, 10)
    for row in agg.buckets():
        assert (row["checksPassed"], row["checksFailed"]) == (20, 5)
        assert (row["byScenario"]["s"]["checksPassed"], row["byScenario"]["s"]["checksFailed"]) == (10, 5)
        assert (row["byScenario"]["t"]["checksPassed"], row["byScenario"]["t"]["checksFailed"]) == (10, 0)
    assert Recorder().drain() == ([], [], [])


def test_a_checks_only_interval_is_still_shipped():
    rec = Recorder()
    rec.checks("s", "r", 1, 2, [(1, "first"), (2, "second")])
    rec.checks("s", "r", 2, 1, [(2, "later")])
    _, counters, _ = rec.drain()
    assert counters == [m.CounterDelta("s", "r", checks_passed=3, checks_failed=3, check_runs=2,
                                       check_fails={1: 1, 2: 2}, check_first={1: "first", 2: "second"})]
    assert rec.drain() == ([], [], [])


# ---- sequence tracking ----------------------------------------------------------------

@pytest.mark.parametrize("name,seqs,warnings,gaps", [
    ("in order", [0, 1, 2], [], []),
    ("duplicate", [0, 1, 1, 2], ["worker 1: duplicate report 1 ignored"], []),
    ("gap", [0, 1, 2, 3, 4, 7], ["worker 1: reports 5..6 missing"], [(5, 6)]),
    ("single gap", [0, 2], ["worker 1: report 1 missing"], [(1, 1)]),
    ("first missing", [1], ["worker 1: report 0 missing"], [(0, 0)]),
    ("late fill", [0, 3, 1], ["worker 1: reports 1..2 missing", "worker 1: report 1 arrived late; accepted"],
     [(2, 2)]),
    ("late then duplicate", [0, 2, 1, 1], ["worker 1: report 1 missing",
                                           "worker 1: report 1 arrived late; accepted",
                                           "worker 1: duplicate report 1 ignored"], []),
])
def test_sequence_gaps_and_duplicates(name, seqs, warnings, gaps):
    agg = Aggregate()
    got = []
    for seq in seqs:
        rec = Recorder()
        rec.request_done("s", "r", 100, None, False, None, None, 0, 0)
        got += agg.add(report(1, seq, seq, rec))
    assert got == warnings, name
    assert [(g["first"], g["last"]) for g in agg.gaps()] == gaps
    assert agg.counters()["requests"] == len(set(seqs))      # duplicates never double count


def test_missing_tail_and_other_runs():
    agg = Aggregate(run_id="r")
    agg.add(report(0, 0, 0, Recorder()))
    assert agg.expect_reports(0, 3) == ["worker 0: reports 1..2 missing (it sent 3)"]
    assert agg.expect_reports(2, 1) == ["worker 2: report 0 missing (it sent 1)"]
    assert agg.gaps() == [{"worker": 0, "first": 1, "last": 2}, {"worker": 2, "first": 0, "last": 0}]
    assert agg.add(report(0, 1, 0, Recorder(), run_id="old")) == [
        "worker 0: report 1 of run 'old' ignored (this run is 'r')"]


# ---- buckets --------------------------------------------------------------------------

def test_buckets_align_across_two_workers():
    agg = Aggregate()
    samples = {0: {0: [1000, 2000], 1: [3000]}, 1: {0: [4000], 1: [5000, 6000, 7000]}}
    gauges = {0: {0: (1, 5), 1: (2, 6)}, 1: {0: (3, 7), 1: (4, 8)}}
    for t in (0, 1):                   # interleaved arrival, as over ZeroMQ
        for w in (1, 0):
            rec = Recorder()
            for v in samples[t][w]:
                rec.request_done("a" if w == 0 else "b", "get", v, v + 100, False, None, None, 0, 0)
            rec.iteration_done("a" if w == 0 else "b", 1, 7)
            rec.set_gauges("a" if w == 0 else "b", *gauges[t][w])
            agg.add(report(w, t, t, rec))
    rows = agg.buckets()
    assert [r["t"] for r in rows] == [0, 1]
    for r in rows:
        t = r["t"]
        both = samples[t][0] + samples[t][1]
        ref = hdr.summarize_ms(reference(both))
        assert (r["p50"], r["p95"], r["p99"]) == (ref["p50"], ref["p95"], ref["p99"])
        rt = hdr.summarize_ms(reference([v + 100 for v in both]))
        assert r["rtP99"] == rt["p99"] and r["lagP50"] == 0.007
        assert r["requests"] == len(both) and r["iterations"] == 2
        assert (r["activeVUs"], r["vus"]) == (gauges[t][0][0] + gauges[t][1][0],
                                              gauges[t][0][1] + gauges[t][1][1])
        a = r["byScenario"]["a"]
        assert a["p99"] == hdr.summarize_ms(reference(samples[t][0]))["p99"]
        assert (a["activeVUs"], a["vus"]) == gauges[t][0]
    assert agg.scenario_counters()["vus_max"] == 7 + 8
    assert agg.scenario_counters("a")["vus_max"] == 7
    assert agg.last_complete_bucket()["t"] == 1
    assert agg.buckets(since=1)[0]["t"] == 1


def test_a_complete_second_is_read_open_or_sealed_without_sealing_it():
    """What windowed abortOnFail reads mid-run: the newest second both workers reported, and
    its counts and rows, equal to what the end of the run reads (`bucket_counts`)."""
    agg = Aggregate(open_buckets=2)
    for t in range(4):
        for w in (0, 1):
            if w == 1 and t == 3:
                continue                  # worker 1 has not reported second 3 yet
            rec = Recorder()
            rec.request_done("a", "get", 1000 * (t + 1) + w, None, w == 1, "timeout" if w else None, None, 0, 0)
            agg.add(report(w, t, t, rec))
    assert agg.complete_second() == 2 and agg.complete_second(workers=2) == 2
    assert agg.complete_second(workers=3) is None       # a third worker has not reported yet
    live = {t: agg.second_counts(t, HTTP_REQ_DURATION, "a") for t in range(4)}
    rows = {t: agg.second(t) for t in range(4)}
    assert agg.second(9) is None and agg.second_counts(9, HTTP_REQ_DURATION) == {}
    assert (rows[1]["requests"], rows[1]["failures"]) == (2, 1)
    assert agg._buckets.find(3).sealed is False            # reading sealed nothing
    assert dict(agg.bucket_counts(HTTP_REQ_DURATION, "a")) == live
    assert all(sum(c.values()) == (2 if t < 3 else 1) for t, c in live.items())


def test_last_gauges_of_a_worker_win_within_a_bucket():
    agg = Aggregate()
    for seq, vus in enumerate((10, 4)):          # e.g. a final flush in the same second
        rec = Recorder()
        rec.set_gauges("s", vus, vus)
        agg.add(report(0, seq, 5, rec))
    assert agg.buckets()[0]["vus"] == 4


def test_late_report_for_a_sealed_second():
    agg = Aggregate(open_buckets=2)
    for seq in range(5):                           # worker 0 reports seconds 0..4
        rec = Recorder()
        rec.request_done("s", "r", 1000, None, False, None, None, 0, 0)
        agg.add(report(0, seq, seq, rec))
    rec = Recorder()                               # worker 1, way behind, for second 1
    rec.request_done("s", "r", 9_000_000, None, False, None, None, 0, 0)
    warnings = agg.add(report(1, 0, 1, rec))
    assert warnings == ["worker 1: report 0 for second 1 arrived after that second was closed; "
                        "its latencies count in the totals but not in that second's percentiles"]
    row = agg.buckets()[1]
    assert row["requests"] == 2 and row["p99"] == 1.0
    assert agg.summary(HTTP_REQ_DURATION)["count"] == 6
    agg.finish()
    assert agg.buckets()[4]["p50"] == 1.0


# ---- cardinality and memory -----------------------------------------------------------

def test_series_cap_overflows_into_one_series():
    rec = Recorder(max_series=6)
    for i in range(10):
        rec.request_done("s", f"/item/{i}", 1000 + i, 1100 + i, False, None, None, 0, 0)
    rec.record("s", "/item/0", "custom", 5)      # a new key beyond the cap
    assert rec.series_count() == 6 + 2 + 1     # 3 names, then the overflow pair, then custom
    assert rec.overflowed == 7 + 1
    series, counters, _ = rec.drain()
    by_req = {(x.request, x.metric): hdr.Tally.from_wire(x.counts, x.n, x.lo, x.hi).histogram().get_total_count() for x in series}
    assert by_req[(OVERFLOW, HTTP_REQ_DURATION)] == 7
    assert by_req[(OVERFLOW, HTTP_REQ_RESPONSE_TIME)] == 7
    assert by_req[(OVERFLOW, "custom")] == 1
    assert {c.request: c.requests for c in counters}[OVERFLOW] == 7
    agg = Aggregate()
    warnings = agg.add(m.Report(worker=0, run_id="", seq=0, bucket=0, series=series, counters=counters))
    assert warnings == ["worker 0: scenario 's' reached the series cap; samples of further "
                        "request names are merged into request '__overflow__'"]
    assert agg.summary(HTTP_REQ_DURATION)["count"] == 10


def test_memory_is_bounded_by_series_not_samples():
    """1,000,000 samples in one series: the buffer never reaches the cap, the tally holds
    at most one entry per HDR bucket, and in steady state (traced over the last 200,000
    samples, two folds) nothing accumulates beyond that."""
    cap = 100_000
    rec = Recorder(buffer_cap=cap)
    pool = [random.Random(7).randint(500, 200_000) for _ in range(4096)]
    record = rec.record
    for i in range(800_000):
        record("s", "r", "m", pool[i & 4095])
        if i % 10_000 == 0:
            assert rec._pending < cap
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        for i in range(800_000, 1_000_000):
            record("s", "r", "m", pool[i & 4095])
        grown, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    s = rec._series[("s", "r", "m")]
    assert len(s.buf) < cap and len(s.tally.counts) <= hdr.new_histogram().counts_len
    assert grown - base < 1_500_000, grown - base      # ≤ cap list slots (8 B each)
    assert peak - base < 3_000_000, peak - base
    series, _, _ = rec.drain()
    assert hdr.Tally.from_wire(series[0].counts, series[0].n, series[0].lo, series[0].hi).histogram().get_total_count() == 1_000_000
