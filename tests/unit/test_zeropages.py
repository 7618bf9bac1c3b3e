"""HDR counts arrays in lazily zero-filled private pages (metrics/zeropages.py): the same
histogram to every query, resident only where counts land, and private to each process."""

from __future__ import annotations

import os
import sys

import psutil
import pytest
from hdrh.histogram import HdrHistogram

from lunge_mp.metrics import hdr

VALUES = [1, 7, 950, 2_047, 2_048, 40_000, 1_250_000, 3_599_999_999]


def test_a_histogram_answers_as_hdrh_and_round_trips():
    h = hdr.new_histogram()
    assert len(h.counts) == 23_552 and not any(h.counts)
    for i, v in enumerate(VALUES):
        h.record_value(v, i + 1)
    assert h.total_count == sum(range(1, len(VALUES) + 1))
    for p in (50.0, 90.0, 99.0, 100.0):
        assert hdr.percentiles(h, [p])[p] == h.get_value_at_percentile(p)
    back = hdr.decode(hdr.encode(h))             # decoded counts are made the same way
    assert list(back.counts) == list(h.counts) and back.total_count == h.total_count
    total = hdr.new_histogram()
    hdr.merge(total, h)
    hdr.merge(total, back)
    assert total.get_count_at_value(950) == 2 * h.get_count_at_value(950)


def test_only_the_pages_counts_land_in_are_resident():
    proc = psutil.Process()
    before = proc.memory_full_info().uss
    live = [hdr.new_histogram() for _ in range(200)]
    for h in live:
        h.record_value(1_000)
    grown = proc.memory_full_info().uss - before
    assert grown < 10 * 2**20, f"{grown / 2**20:.1f} MB for 200 histograms (zero-filled: 37 MB)"
    assert not any(HdrHistogram(1, 3_600_000_000, 3).counts)      # hdrh's own constructor too


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_forked_process_writes_its_own_copy():
    h = hdr.new_histogram()
    h.record_value(500)
    pid = os.fork()
    if pid == 0:                                   # the child counts into its copy only
        h.record_value(500, 41)
        os._exit(0 if h.get_count_at_value(500) == 42 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert h.get_count_at_value(500) == 1
