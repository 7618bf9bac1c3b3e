"""Histograms travel from workers as sparse HDR counts (`SeriesDelta`): merged exactly, and a
malformed one is skipped with a warning, never written outside a histogram."""

from __future__ import annotations

import random
from array import array

import pytest

from lunge_mp.metrics import hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.protocol import messages as m


def _report(worker: int, seq: int, series: list[m.SeriesDelta]) -> m.Report:
    return m.Report(worker=worker, run_id="r", seq=seq, bucket=seq, series=series)


def _delta(values: list[int]) -> m.SeriesDelta:
    t = hdr.Tally()
    t.add_values(values)
    return m.SeriesDelta.of("s", "get", "http_req_duration", t.counts, t.n, t.lo, t.hi)


def test_merged_sparse_deltas_equal_one_histogram_of_every_sample():
    rng = random.Random(3)
    agg, everything = Aggregate("r"), hdr.new_histogram()
    for worker in range(4):
        for second in range(3):
            values = [int(rng.lognormvariate(9, 1.2)) for _ in range(200)] + [0, 1, hdr.HIGHEST]
            for v in values:
                everything.record_value(v)
            wire = m.decode(m.encode(_report(worker, second, [_delta(values)])))
            assert agg.add(wire) == []
    for h in (agg.histogram("http_req_duration"), agg.histogram("http_req_duration", "s"),
              agg.histogram("http_req_duration", "s", "get")):
        assert h.total_count == everything.total_count
        assert h.get_min_value() == everything.get_min_value()
        assert h.get_max_value() == everything.get_max_value()
        assert hdr.percentiles(h, [50, 99, 99.9]) == hdr.percentiles(everything, [50, 99, 99.9])


def test_a_later_report_shows_in_the_totals_asked_for_again():
    agg = Aggregate("r")
    agg.add(_report(0, 0, [_delta([1000] * 10)]))
    assert agg.histogram("http_req_duration").total_count == 10
    agg.add(_report(0, 1, [_delta([5000] * 30)]))
    assert agg.histogram("http_req_duration").total_count == 40
    assert agg.histogram("http_req_duration", "s").total_count == 40


def _packed(indexes, counts=None, wide=False) -> tuple[bytes, bytes]:
    return (array("H", indexes).tobytes(),
            b"" if counts is None else array("Q" if wide else "I", counts).tobytes())


@pytest.mark.parametrize("index,count,n,lo,hi,why", [
    (*_packed([hdr._COUNTS_LEN]), 1, 0, 0, "index outside"),
    (*_packed([65535], [1]), 1, 0, 0, "index outside"),
    (*_packed([5], [2]), 3, 5, 5, "do not add up"),
    (*_packed([5], [0]), 0, 5, 5, "do not add up"),
    (*_packed([5, 6], [1, 0], wide=True), 1, 5, 5, "do not add up"),
    (*_packed([5, 6]), 3, 5, 5, "do not add up"),         # one sample an index, two indexes
    (*_packed([5]), 1, 9, 2, "outside"),
    (*_packed([5], [1]), 1, -1, 2, "outside"),
    (*_packed([]), 4, 0, 0, "no counts"),
    (b"\x05", b"", 1, 0, 0, "not packed"),                # half an index
    (*_packed([5, 6], [1]), 1, 0, 0, "not packed"),       # fewer counts than indexes
    (_packed([5])[0], b"\x01\x00\x00", 1, 0, 0, "not packed"),
    (b"", b"\x01\x00\x00\x00", 1, 0, 0, "not packed"),   # a count with no index
    (*_packed([5], [2**41], wide=True), 2**41, 5, 5, "total above"),
])
def test_a_malformed_delta_is_skipped_with_a_warning(index, count, n, lo, hi, why):
    agg = Aggregate("r")
    bad = m.SeriesDelta("s", "get", "http_req_duration", index, count, n, lo, hi)
    wire = m.decode(m.encode(_report(0, 0, [bad, _delta([2000])])))
    warnings = agg.add(wire)
    assert len(warnings) == 1 and "skipped" in warnings[0] and why in warnings[0]
    assert agg.histogram("http_req_duration").total_count == 1     # the good one counted


def test_the_recorder_hands_over_its_counts_and_starts_afresh():
    rec = Recorder()
    for v in (1500, 1500, 90_000):
        rec.request_done("s", "get", v, v + 1, False, None, None, 1, 1)
    series, _, _ = rec.drain()
    first = {d.metric: d for d in series}["http_req_duration"]
    assert (first.n, first.lo, first.hi) == (3, 1500, 90_000)
    assert sum(first.counts.values()) == 3
    rec.request_done("s", "get", 7, 8, False, None, None, 1, 1)
    series, _, _ = rec.drain()
    second = {d.metric: d for d in series}["http_req_duration"]
    assert (second.n, second.lo, second.hi) == (1, 7, 7)
    assert sum(first.counts.values()) == 3          # the first interval's counts stayed as sent
