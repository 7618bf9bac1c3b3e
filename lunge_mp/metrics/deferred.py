"""Checked sparse counts kept beside a histogram and added to it when it is next read.

The coordinator adds every sample of every worker into a histogram: with 256 workers each
reporting 100 series a second that is 300,000 samples a second, into ~100 series totals and
the open seconds' histograms, each with 188 KB of counts. Added as each report arrives, a
report's adds jump between a hundred histograms, and most of an add's cost is the cache miss
on its counter. Kept instead (a list append per delta: the delta's index bytes, already
checked by `hdr.unpack_checked`) and applied one histogram at a time, a histogram's
deltas are added in one scatter-add in C (numpy's `add.at`: ~2 ns a sample instead of the
~75 ns of a Python add through a memoryview), the many workers' deltas of one second at once.
Few samples are added in Python: numpy is imported only once a histogram gets `NUMPY_FROM`
between two reads, so small runs never pay its import (~80 ms).

Every reader of the histogram applies first (`apply`): the histogram is then exactly what
adding each delta on arrival would have made it. What is kept is bounded by the owner, who
applies everything (`Deferrals.apply_all`) once `MAX_KEPT` deltas or `MAX_KEPT_INDEXES`
indexes are waiting.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from itertools import chain

from hdrh.histogram import HdrHistogram

from lunge_mp.metrics import hdr

MAX_KEPT = 50_000       # deltas waiting over all histograms (~1 s of 256 workers x 100 series)
MAX_KEPT_INDEXES = 4_000_000    # and their indexes (8 MB): a few huge deltas are bounded too
NUMPY_FROM = 256        # indexes waiting in one histogram from which numpy adds them (~10 µs a call)
_np = None


def _numpy():
    global _np
    if _np is None:
        import numpy
        _np = numpy
    return _np


class Deferred:
    """One histogram and the checked deltas not yet added to it."""

    __slots__ = ("h", "view", "array", "units", "weighted", "items", "n", "lo", "hi")

    def __init__(self, h: HdrHistogram) -> None:
        self.h = h
        self.view = hdr.counts_view(h)
        self.array = None                           # the counts as a numpy array, once used
        self.units: list[Sequence[int]] = []        # indexes holding one sample each
        self.weighted: list[tuple[Sequence[int], Sequence[int]]] = []   # (indexes, counts)
        self.items = 0                              # indexes in units and weighted
        self.n = 0                                  # samples
        self.lo = sys.maxsize
        self.hi = 0

    def keep(self, idx: Sequence[int], cnt: Sequence[int] | None, s: hdr.Packed) -> bool:
        """Keep one delta (`hdr.unpack_checked` found no fault in it). True when it is the
        first kept since the last `apply`: the owner then lists this one as waiting."""
        if not s.n:
            return False
        first = not self.n
        if cnt is None:
            self.units.append(idx)
        else:
            self.weighted.append((idx, cnt))
        self.items += len(idx)
        self.n += s.n
        if s.lo < self.lo:
            self.lo = s.lo
        if s.hi > self.hi:
            self.hi = s.hi
        return first

    def apply(self) -> None:
        """Add what was kept to the histogram, with total, min and max as `hdr.add_packed`
        leaves them."""
        if not self.n:
            return
        if self.items >= NUMPY_FROM:
            self._scatter_add()
        else:
            view = self.view
            for i in chain.from_iterable(self.units):
                view[i] += 1
            for idx, cnt in self.weighted:
                for i, k in zip(idx, cnt):
                    view[i] += k
        h = self.h
        h.total_count += self.n
        if self.lo < h.min_value:
            h.min_value = self.lo
        if self.hi > h.max_value:
            h.max_value = self.hi
        self.units, self.weighted = [], []
        self.items, self.n, self.lo, self.hi = 0, 0, sys.maxsize, 0

    def _scatter_add(self) -> None:
        """The kept deltas added in C. `add.at` with an array of addends (a scalar one takes a
        path ~40x slower); integers throughout, so the counts stay exact."""
        np = _numpy()
        if self.array is None:
            self.array = np.ctypeslib.as_array(self.h.counts)       # the same memory
        if self.units:
            idx = np.frombuffer(b"".join(self.units), dtype=np.uint16).astype(np.intp)
            np.add.at(self.array, idx, np.ones(idx.size, dtype=self.array.dtype))
        if self.weighted:
            idx = np.concatenate([np.asarray(i, dtype=np.intp) for i, _ in self.weighted])
            cnt = np.concatenate([np.asarray(c, dtype=self.array.dtype) for _, c in self.weighted])
            np.add.at(self.array, idx, cnt)


class Deferrals:
    """The `Deferred` of one owner (an Aggregate) that have deltas waiting."""

    __slots__ = ("waiting", "kept", "indexes")

    def __init__(self) -> None:
        self.waiting: list[Deferred] = []
        self.kept = 0
        self.indexes = 0

    def keep(self, d: Deferred, idx: Sequence[int], cnt: Sequence[int] | None, s: hdr.Packed) -> None:
        if d.keep(idx, cnt, s):
            self.waiting.append(d)
        self.kept += 1
        self.indexes += len(idx)
        if self.kept >= MAX_KEPT or self.indexes >= MAX_KEPT_INDEXES:
            self.apply_all()

    def apply_all(self) -> None:
        for d in self.waiting:
            d.apply()       # a no-op if a reader applied it already
        self.waiting.clear()
        self.kept = self.indexes = 0
