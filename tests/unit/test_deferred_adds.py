"""metrics/deferred.py: deltas kept until read are added exactly (in Python and by numpy, u64
counts included), a second sealed with deltas still kept keeps them, and what is kept stays
bounded when nothing reads."""

from __future__ import annotations

import subprocess
import sys
from array import array

import pytest
from hypothesis import given, settings, strategies as st

from lunge_mp.metrics import deferred, hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.deferred import Deferrals, Deferred
from lunge_mp.protocol import messages as m


@pytest.fixture(params=[10**9, 0], ids=["python", "numpy"])
def numpy_from(request, monkeypatch):
    if request.param == 0:
        deferred.load_numpy()
    monkeypatch.setattr(deferred, "NUMPY_FROM", request.param)
    return request.param


def _delta(counts: dict[int, int], lo: int, hi: int) -> m.SeriesDelta:
    wire = m.SeriesDelta.of("s", "get", "http_req_duration", counts, sum(counts.values()), lo, hi)
    return m.decode(m.encode(m.Report(worker=0, run_id="r", seq=0, bucket=0, series=[wire]))).series[0]


def test_weighted_counts_past_32_bits_are_added_exactly(numpy_from):
    d = Deferred(hdr.new_histogram(), Deferrals())
    first = _delta({5: 2**39, 900: 3}, 5, 900)          # u64 counts on the wire
    top = hdr.value_at_index(20_000)
    second = _delta({5: 1, 20_000: 2**33}, 5, top)
    for sd in (first, second, second):
        idx, cnt, fault = hdr.unpack_checked(sd)
        assert fault is None and cnt is not None
        d.keep(sd, idx, cnt)
    assert d.h.total_count == 0                         # nothing added before a read
    d.apply()
    assert hdr.sparse_counts(d.h) == {5: 2**39 + 2, 900: 3, 20_000: 2**34}
    assert (d.h.total_count, d.h.min_value, d.h.max_value) == (2**39 + 5 + 2**34, 5, top)
    d.apply()                                           # applying twice adds nothing more
    assert d.h.total_count == 2**39 + 5 + 2**34


def test_unit_counts_from_many_workers_add_up(numpy_from):
    d = Deferred(hdr.new_histogram(), Deferrals())
    want: dict[int, int] = {}
    for w in range(300):
        counts = {i: 1 for i in range(w % 7, 2000, 97)}
        sd = _delta(counts, 1, 5000)
        assert not sd.count and hdr.unit_fault(sd) is None
        d.keep(sd)
        for i in counts:
            want[i] = want.get(i, 0) + 1
    d.apply()
    assert hdr.sparse_counts(d.h) == want


def test_what_is_kept_is_applied_once_the_bound_is_reached(monkeypatch):
    monkeypatch.setattr(deferred, "MAX_KEPT", 10)
    keeper = Deferrals()
    d = Deferred(hdr.new_histogram(), keeper)
    sd = _delta({7: 1}, 7, 7)
    for _ in range(9):
        d.keep(sd)
    assert d.h.total_count == 0 and keeper.kept == 9 and keeper.waiting == [d]
    d.keep(sd)
    assert d.h.total_count == 10 and keeper.kept == 0 and not keeper.waiting
    monkeypatch.setattr(deferred, "MAX_KEPT_INDEXES", 25)  # a few big deltas count by their indexes
    big = _delta({i: 1 for i in range(12)}, 1, 12)
    d.keep(big)
    d.keep(big)
    assert d.h.total_count == 10
    d.keep(big)
    assert d.h.total_count == 46 and keeper.indexes == 0


def test_a_second_sealed_with_deltas_kept_has_them_in_its_percentiles(numpy_from):
    """Seconds seal as newer ones arrive (here 2 s behind); one sealed between reads still
    counts every delta kept for it."""
    agg = Aggregate("r", open_buckets=2)
    for t in range(6):
        tally = hdr.Tally()
        tally.add_values([1000 * (t + 1)] * 3 + [50_000])
        wire = m.SeriesDelta.of("s", "get", "http_req_duration", tally.counts, tally.n, tally.lo, tally.hi)
        assert agg.add(m.Report(worker=0, run_id="r", seq=t, bucket=t, series=[wire])) == []
    rows = {r["t"]: r for r in agg.buckets()}
    for t in range(6):
        assert rows[t]["p50"] == pytest.approx(t + 1, rel=1e-3)
        assert rows[t]["p99"] == pytest.approx(50.0, rel=1e-3)
    assert agg.histogram("http_req_duration").total_count == 24


units = st.builds(lambda idx, n, lo, hi: m.SeriesDelta("s", "get", "http_req_duration", idx, b"", n, lo, hi),
                  st.one_of(st.binary(max_size=9),
                            st.lists(st.integers(0, 65535), max_size=5).map(lambda v: array("H", v).tobytes())),
                  st.integers(0, 6), st.integers(-2, 5), st.sampled_from((0, 7, hdr.HIGHEST, hdr.HIGHEST + 1)))


@settings(max_examples=400, deadline=None)
@given(units)
def test_the_unit_check_refuses_what_unpacking_refuses(sd):
    """`unit_fault` reads the bytes without unpacking them; it must say what `unpack_checked` says."""
    assert hdr.unit_fault(sd) == hdr.unpack_checked(sd)[2]


def test_numpy_is_imported_only_for_a_big_merge():
    """A merge that keeps fewer than IMPORT_NUMPY_FROM indexes in a second (most runs, every
    small API-started test) never loads numpy; a bigger one does, and adds with it from then on. In a process of its own, so that numpy is not loaded already."""
    code = """
import sys
from lunge_mp.metrics import deferred, hdr
from lunge_mp.protocol import messages as m
keeper = deferred.Deferrals()
hists = [deferred.Deferred(hdr.new_histogram(), keeper) for _ in range(4)]
delta = m.SeriesDelta.of("s", "", "http_req_duration", {i: 1 for i in range(1000)}, 1000, 1, 5000)
def round_of(k):                        # one second of the run: k indexes over four histograms
    for n in range(k // 1000):
        hists[n % 4].keep(delta)
    keeper.second_passed()
    keeper.apply_all()
round_of(deferred.IMPORT_NUMPY_FROM - 1000)
small = "numpy" in sys.modules
round_of(deferred.IMPORT_NUMPY_FROM)
print(small, "numpy" in sys.modules, sum(d.h.total_count for d in hists))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "True", str(2 * deferred.IMPORT_NUMPY_FROM - 1000)], out.stderr
