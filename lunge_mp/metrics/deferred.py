"""Checked sparse counts kept beside a histogram and added to it when it is next read.

The coordinator adds every sample of every worker into a histogram: with 256 workers each
reporting 100 series a second that is 300,000 samples a second, into ~100 series totals and
the open seconds' histograms. Added in Python as each report arrives, each sample costs
~130 ns (an add through a memoryview). Kept instead (a list append per delta: its index bytes,
already checked by `hdr.unit_fault` or `hdr.unpack_checked`), a histogram's deltas are added
when it is read, many workers' at once, in one scatter-add in C (numpy's `add.at`: ~2 ns a
sample and ~10 µs a call).

numpy costs ~80 ms to import and ~18 MB of private memory (each API-started test's coordinator
is a process of its own), so it is imported only by an owner that keeps `IMPORT_NUMPY_FROM`
indexes in one second of the run (`Deferrals.second_passed`): a merge whose Python adds would
cost ~10 ms a second. Once imported, any histogram with `NUMPY_FROM` indexes waiting uses it;
fewer, or without numpy, are added in Python.

Every reader of the histogram applies first (`apply`): the histogram is then exactly what
adding each delta on arrival would have made it. What is kept is bounded by the owner, who
applies everything (`Deferrals.apply_all`) once `MAX_KEPT` deltas or `MAX_KEPT_INDEXES`
indexes are waiting: a few MB at most, less than the histograms' pages their adds would have
made resident meanwhile.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hdrh.histogram import HdrHistogram

from lunge_mp.metrics import hdr
from lunge_mp.protocol import packed

MAX_KEPT = 20_000       # deltas waiting over all histograms (~0.4 s of 256 workers x 100 series)
MAX_KEPT_INDEXES = 1_000_000    # and their indexes (2 MB): a few huge deltas are bounded too
NUMPY_FROM = 256        # indexes waiting in one histogram from which numpy adds them
IMPORT_NUMPY_FROM = 100_000     # indexes kept in one second of the run from which numpy is imported
_np = None


def load_numpy():
    global _np
    if _np is None:
        import numpy
        _np = numpy


class Deferrals:
    """Every `Deferred` of one owner (an Aggregate) that has deltas waiting, and how many."""

    __slots__ = ("waiting", "kept", "indexes", "this_second")

    def __init__(self) -> None:
        self.waiting: list[Deferred] = []
        self.kept = 0
        self.indexes = 0
        self.this_second = 0        # indexes kept since the run's last new second

    def second_passed(self) -> None:
        """The run reached a new second: numpy is worth loading if this one kept enough."""
        if _np is None and self.this_second >= IMPORT_NUMPY_FROM:
            load_numpy()
        self.this_second = 0

    def apply_all(self) -> None:
        for d in self.waiting:
            d.apply()       # a no-op if a reader applied it already
        self.waiting.clear()
        self.kept = self.indexes = 0


class Deferred:
    """One histogram and the checked deltas not yet added to it."""

    __slots__ = ("h", "owner", "view", "array", "units", "weighted", "items", "n", "lo", "hi")

    def __init__(self, h: HdrHistogram, owner: Deferrals) -> None:
        self.h = h
        self.owner = owner
        self.view = hdr.counts_view(h)
        self.array = None                           # the counts as a numpy array, once used
        self.units: list[bytes] = []                # packed indexes holding one sample each
        self.weighted: list[tuple[Sequence[int], Sequence[int]]] = []   # (indexes, counts)
        self.items = 0                              # indexes in units and weighted
        self.n = 0                                  # samples
        self.lo = sys.maxsize
        self.hi = 0

    def keep(self, s: hdr.Packed, idx: Sequence[int] | None = None, cnt: Sequence[int] | None = None) -> None:
        """Keep one delta found without fault: one sample at each index (`hdr.unit_fault`: its
        packed bytes are kept), or `idx` and `cnt` as `hdr.unpack_checked` gave them."""
        n = s.n
        if not n:
            return
        owner = self.owner
        if not self.n:
            owner.waiting.append(self)
        if cnt is None:
            self.units.append(s.index)
            items = n
        else:
            self.weighted.append((idx, cnt))
            items = len(idx)
        self.items += items
        self.n += n
        if s.lo < self.lo:
            self.lo = s.lo
        if s.hi > self.hi:
            self.hi = s.hi
        owner.kept += 1
        owner.indexes += items
        owner.this_second += items
        if owner.kept >= MAX_KEPT or owner.indexes >= MAX_KEPT_INDEXES:
            owner.apply_all()

    def apply(self) -> None:
        """Add what was kept to the histogram, with total, min and max as `hdr.add_packed`
        leaves them."""
        if not self.n:
            return
        if _np is not None and self.items >= NUMPY_FROM:
            self._scatter_add(_np)
        else:
            view = self.view
            for i in packed.view(b"".join(self.units), packed.INDEX):
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

    def _scatter_add(self, np) -> None:
        """The kept deltas added in C. `add.at` with an array of addends (a scalar one takes a
        path ~40x slower); integers throughout, so the counts stay exact."""
        if self.array is None:
            self.array = np.ctypeslib.as_array(self.h.counts)       # the same memory
        if self.units:          # little-endian u16 on the wire, whatever this host's order
            idx = np.frombuffer(b"".join(self.units), dtype="<u2").astype(np.intp)
            np.add.at(self.array, idx, np.ones(idx.size, dtype=self.array.dtype))
        if self.weighted:
            idx = np.concatenate([np.asarray(i, dtype=np.intp) for i, _ in self.weighted])
            cnt = np.concatenate([np.asarray(c, dtype=self.array.dtype) for _, c in self.weighted])
            np.add.at(self.array, idx, cnt)
