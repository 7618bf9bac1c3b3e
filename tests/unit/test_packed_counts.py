"""A series' sparse counts travel packed (protocol/packed.py): they come back exactly as the
worker counted them, and no bytes a worker (or anyone on the port) can send make the merge
raise, write outside a histogram or count what was not stated."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from lunge_mp.metrics import hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.protocol import messages as m
from lunge_mp.protocol import packed

counts_maps = st.dictionaries(st.integers(0, hdr._COUNTS_LEN - 1),
                              st.one_of(st.just(1), st.integers(1, 1000), st.integers(1, 2**33)),
                              max_size=60)


def _delta(counts: dict[int, int], lo: int = 0, hi: int = 0) -> m.SeriesDelta:
    return m.SeriesDelta.of("s", "get", "http_req_duration", counts, sum(counts.values()), lo, hi)


@settings(max_examples=200, deadline=None)
@given(counts_maps)
def test_counts_come_back_as_packed(counts):
    report = m.Report(worker=0, run_id="r", seq=0, bucket=0, series=[_delta(counts, 0, hdr.HIGHEST)])
    sd = m.decode(m.encode(report)).series[0]
    assert sd.counts == counts
    idx, cnt, fault = hdr.unpack_checked(sd)
    assert fault is None
    assert list(idx) == sorted(counts)                       # ascending: the adds walk memory forwards
    assert (cnt is None) == all(k == 1 for k in counts.values())


def test_one_sample_at_each_index_sends_no_counts_and_wide_counts_fit():
    assert packed.pack({7: 1, 3: 1}) == (b"\x03\x00\x07\x00", b"")
    index, count = packed.pack({3: 2**33})
    assert len(count) == 8 and packed.to_dict(index, count) == {3: 2**33}
    assert len(packed.pack({3: 2**32 - 1})[1]) == 4


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.binary(max_size=128), st.integers(-2**63, 2**64 - 1),
       st.integers(-2**63, 2**63 - 1), st.integers(-2**63, 2**63 - 1))
def test_no_bytes_make_the_merge_raise_or_count_what_was_not_stated(index, count, n, lo, hi):
    agg = Aggregate("r")
    bad = m.SeriesDelta("s", "get", "http_req_duration", index, count, n, lo, hi)
    wire = m.decode(m.encode(m.Report(worker=0, run_id="r", seq=0, bucket=0, series=[bad])))
    warnings = agg.add(wire)
    h = agg.histogram("http_req_duration")
    if warnings:
        assert len(warnings) == 1 and "skipped" in warnings[0]
        assert h.total_count == 0
    else:                                   # accepted: its counts add up to its stated total
        assert h.total_count == max(n, 0) and sum(hdr.sparse_counts(h).values()) == h.total_count


def test_a_report_with_a_map_of_counts_does_not_decode():
    """Protocols up to 4 sent a map of counts: such a frame is refused by the decoder (the core logs
    an undecodable frame), never merged; the version check at Hello refuses such workers first."""
    class OldSeries(msgspec.Struct, array_like=True):
        scenario: str
        request: str
        metric: str
        counts: dict[int, int]
        n: int
        lo: int
        hi: int

    class Report(msgspec.Struct, tag=True):
        worker: int
        run_id: str
        seq: int
        bucket: int
        series: list[OldSeries] = []

    frame = msgspec.msgpack.encode(Report(0, "r", 0, 0, [OldSeries("s", "get", "http_req_duration",
                                                                    {1500: 2}, 2, 1500, 1501)]))
    with pytest.raises(msgspec.ValidationError):
        m.decode(frame)


def test_the_recorder_packs_what_it_counted():
    rec = Recorder()
    values = [5, 5, 900, 1500, 1501, 90_000, 3_000_000]
    for v in values:
        rec.request_done("s", "get", v, None, False, None, None, 1, 1)
    series, _, _ = rec.drain()
    sd = m.decode(m.encode(m.Report(worker=0, run_id="r", seq=0, bucket=0, series=series))).series[0]
    ref = hdr.new_histogram()
    for v in values:
        ref.record_value(v)
    assert sd.counts == hdr.sparse_counts(ref) and (sd.n, sd.lo, sd.hi) == (7, 5, 3_000_000)
    agg = Aggregate("r")
    assert agg.add(m.Report(worker=0, run_id="r", seq=0, bucket=0, series=[sd])) == []
    assert hdr.sparse_counts(agg.histogram("http_req_duration")) == hdr.sparse_counts(ref)


def test_the_swapping_path_of_a_big_endian_host_round_trips(monkeypatch):
    """A big-endian host swaps the bytes on the way out and in (array.byteswap); this one is
    little-endian, so with the flag forced the swap path must at least undo itself and refuse
    lengths that are not whole items."""
    monkeypatch.setattr(packed, "_LITTLE", False)
    for counts in ({3: 1, 258: 1}, {3: 2, 258: 70_000}, {9: 2**40}):
        assert packed.to_dict(*packed.pack(counts)) == counts
    index, count = packed.pack({3: 2, 258: 70_000})
    with pytest.raises(TypeError):
        packed.unpack(b"\x03", b"")
    with pytest.raises(TypeError):
        packed.unpack(index, count[:-1])
