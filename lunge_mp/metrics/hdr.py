"""HDR histogram helpers: one configuration, a wire encoding, exact merge, fast queries.

Every latency histogram in lunge_mp tracks microseconds from LOWEST=1 µs to
HIGHEST=3,600,000,000 µs (1 h) with 3 significant digits, so any two can be added
bucket by bucket and merged percentiles equal those of one histogram of all samples.

With that configuration (unit magnitude 0, sub-bucket half-count magnitude 10) a value
v ≥ 0 lands in counts-array index

    b   = bitlen(v | 2047) - 11          (the power-of-two bucket, 0 for v < 2048)
    idx = (b << 10) + (v >> b)

which is `HdrHistogram._counts_index_for` with the constants folded in. `Tally` counts a
batch with C-level loops (`map` over a precomputed index table, then `Counter`),
~0.1 µs a value instead of ~1 µs of Python per `record_value`.

The pure-Python `hdrh` package has two behaviours this module works around:
- `add()` sets the destination's min to 0 when either side is empty (it asks
  `get_min_value()` of an empty histogram); `merge()` restores the true minimum.
- percentile queries walk all ~23,500 counters in Python (~10 ms); `percentiles()`
  copies the used prefix of the counts array once and bisects its running sum in C.
"""

from __future__ import annotations

import ctypes
import sys
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol
from itertools import accumulate, chain, compress, repeat
from operator import rshift

from hdrh.histogram import HdrHistogram

from lunge_mp.metrics import zeropages
from lunge_mp.protocol import packed

zeropages.install()     # counts arrays resident only where counts land (metrics/zeropages.py)

LOWEST = 1
HIGHEST = 3_600_000_000
SIGNIFICANT_FIGURES = 3

_SUB_MASK = 2047         # sub_bucket_mask for this configuration
_SUB_BITS = 11           # sub_bucket_half_count_magnitude + 1
_HALF_BITS = 10          # sub_bucket_half_count_magnitude

SUMMARY_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
_COUNTS_LEN = (((HIGHEST | _SUB_MASK).bit_length() - _SUB_BITS) << _HALF_BITS) + 2048   # 23,552


def new_histogram() -> HdrHistogram:
    """An empty histogram in the project's one configuration (µs, 1 µs .. 1 h, 3 digits)."""
    return HdrHistogram(LOWEST, HIGHEST, SIGNIFICANT_FIGURES)


def encode(h: HdrHistogram) -> bytes:
    """HDR V2 compressed encoding, base64 text as bytes (~120 bytes for a second of data)."""
    return h.encode()


def decode(data: bytes | str) -> HdrHistogram:
    """Inverse of `encode`. Raises ValueError on garbage or on a histogram of another
    configuration (it could not be merged bucket by bucket)."""
    try:
        h = HdrHistogram.decode(data)
    except Exception as exc:  # binascii.Error, zlib.error, Hdr*Exception, ctypes errors
        raise ValueError(f"not an encoded HDR histogram: {exc}") from exc
    if (h.lowest_trackable_value, h.highest_trackable_value, h.significant_figures) != (
            LOWEST, HIGHEST, SIGNIFICANT_FIGURES):
        raise ValueError(
            f"HDR histogram configured {h.lowest_trackable_value}..{h.highest_trackable_value}"
            f" µs / {h.significant_figures} digits; expected {LOWEST}..{HIGHEST} µs /"
            f" {SIGNIFICANT_FIGURES} digits")
    return h


def merge(dst: HdrHistogram, src: HdrHistogram) -> None:
    """dst += src, bucket by bucket (C loop), keeping min exact (hdrh's `add` does not)."""
    if not src.total_count:
        return
    lo = src.get_min_value()
    if dst.total_count:
        lo = min(lo, dst.get_min_value())
    dst.add(src)
    dst.min_value = lo


def reset(h: HdrHistogram) -> None:
    """Empty `h` in place with one memset (hdrh's `reset` loops over 23,552 counters)."""
    if h.total_count:
        used = h.get_counts_array_index(h.max_value) + 1
        ctypes.memset(ctypes.addressof(h.counts), 0, used * ctypes.sizeof(h.counts._type_))
    h.total_count = 0
    h.min_value = sys.maxsize
    h.max_value = 0


def _used_counts(h: HdrHistogram) -> list[int]:
    """The counts array up to the highest non-empty index, as Python ints (one C copy)."""
    if not h.total_count:
        return []
    return h.counts[: h.get_counts_array_index(h.max_value) + 1]


def percentiles(h: HdrHistogram, ps: Iterable[float]) -> dict[float, int]:
    """Value (µs) at each percentile, identical to `h.get_value_at_percentile(p)`.

    target(p) = max(1, int(min(p,100)·N/100 + 0.5)); the answer is the first counts index
    whose running sum reaches the target, reported as the highest value equivalent to that
    bucket (the lowest for p = 0), as HdrHistogram does.  Empty histogram: all 0.
    """
    ps = list(ps)
    counts = _used_counts(h)
    if not counts:
        return {p: 0 for p in ps}
    cum = list(accumulate(counts))
    total = h.total_count
    out: dict[float, int] = {}
    for p in ps:
        target = max(int(((min(p, 100.0) * total) / 100) + 0.5), 1)
        idx = min(bisect_left(cum, target), len(cum) - 1)
        value = h.get_value_from_index(idx)
        out[p] = h.get_highest_equivalent_value(value) if p else h.get_lowest_equivalent_value(value)
    return out


def mean(h: HdrHistogram) -> float:
    """Mean (µs), identical to `h.get_mean_value()`: Σ count·midpoint(bucket) / N.

    midpoint = lowest equivalent value + half the bucket width; the sum is an exact int.
    """
    counts = _used_counts(h)
    if not counts:
        return 0.0
    half = h.sub_bucket_half_count
    shm = h.sub_bucket_half_count_magnitude
    unit = h.unit_magnitude
    total = 0
    for i in compress(range(len(counts)), counts):
        b = (i >> shm) - 1
        sub = (i & (half - 1)) + half
        if b < 0:
            sub -= half
            b = 0
        total += counts[i] * ((sub << (b + unit)) + ((1 << (unit + b)) >> 1))
    return float(total) / h.total_count


def _ms(us: float) -> float:
    return round(us / 1000.0, 3)


def summarize_ms(h: HdrHistogram) -> dict[str, int | float | None]:
    """count, min, avg, med, p50, p90, p95, p99, p99.9, max — milliseconds, 3 decimals.

    An empty histogram gives count 0 and None everywhere else (no fake zeros in reports).
    """
    n = h.total_count
    if not n:
        return {"count": 0, "min": None, "avg": None, "med": None, "p50": None, "p90": None,
                "p95": None, "p99": None, "p99.9": None, "max": None}
    pv = percentiles(h, SUMMARY_PERCENTILES)
    return {
        "count": n,
        "min": _ms(h.get_min_value()),
        "avg": _ms(mean(h)),
        "med": _ms(pv[50.0]),
        "p50": _ms(pv[50.0]),
        "p90": _ms(pv[90.0]),
        "p95": _ms(pv[95.0]),
        "p99": _ms(pv[99.0]),
        "p99.9": _ms(pv[99.9]),
        "max": _ms(h.get_max_value()),
    }


def _sanitize(values: Sequence[int]) -> list[int]:
    """Values as ints clamped to [0, HIGHEST] (the slow path; rare)."""
    out = []
    for v in values:
        v = int(v)
        out.append(0 if v < 0 else HIGHEST if v > HIGHEST else v)
    return out


def _index(v: int) -> int:
    """Counts-array index of a value in [0, HIGHEST] (see the module docstring)."""
    b = (v | _SUB_MASK).bit_length() - _SUB_BITS
    return (b << _HALF_BITS) + (v >> b)


# Lookup tables that turn batch indexing into C-level `map(list.__getitem__)`:
#   v < 2**17 (131 ms):              index = T1[v]
#   2**17 <= v < 2**24 (16.8 s):     index = T2[v >> 7]   (exact: those buckets are ≥ 128 µs
#                                    wide, so the low 7 bits never matter)
# Larger values use `_index`. Built on first use (~2.5 MB, a few ms), never on the
# coordinator, which only decodes.
_T1_LIMIT = 1 << 17
_T2_SHIFT = 7
_T2_LIMIT = 1 << 24
_TABLES: tuple[list[int], list[int]] | None = None


def _tables() -> tuple[list[int], list[int]]:
    global _TABLES
    if _TABLES is None:
        t1 = list(range(1 << _SUB_BITS))             # bucket 0: index = value
        for b in range(1, 7):                        # values [2**(10+b), 2**(11+b))
            base = (b << _HALF_BITS) + (1 << _HALF_BITS)
            t1.extend(chain.from_iterable(repeat(i, 1 << b) for i in range(base, base + 1024)))
        t2 = [0] * (1 << _HALF_BITS)                 # u = v >> 7 < 1024 never occurs
        for b in range(7, 14):                       # u in [2**(b+3), 2**(b+4))
            base = (b << _HALF_BITS) + (1 << _HALF_BITS)
            t2.extend(chain.from_iterable(repeat(i, 1 << (b - 7)) for i in range(base, base + 1024)))
        assert len(t1) == _T1_LIMIT and len(t2) == _T2_LIMIT >> _T2_SHIFT
        _TABLES = (t1, t2)
    return _TABLES


def _count_indices(values: Sequence[int], hi: int) -> Counter[int]:
    """{counts index: count} of int values in [0, HIGHEST] whose maximum is `hi`."""
    t1, t2 = _tables()
    if hi < _T1_LIMIT:                       # the common case: every value < 131 ms
        return Counter(map(t1.__getitem__, values))
    idx = Counter(map(t1.__getitem__, [v for v in values if v < _T1_LIMIT]))
    high = [v for v in values if v >= _T1_LIMIT]
    if hi < _T2_LIMIT:
        idx.update(map(t2.__getitem__, map(rshift, high, repeat(_T2_SHIFT))))
    else:
        idx.update(map(_index, high))
    return idx


class Tally:
    """Sparse HDR counts of raw µs values: {counts index: count} plus exact n, min, max.

    Why: folding a batch is C-level table lookups and counting plus Python work per
    *distinct bucket*, several times cheaper than `record_value` per value, and memory is
    bounded by the number of distinct buckets (≤ 23,552), not by the number of values.
    `apply(h)` leaves `h` exactly as `h.record_value(v)` for every value would, after
    clamping out-of-range values to [0, HIGHEST] (record_value would silently drop them)
    and truncating non-int values (a float from a careless timing site) to int.
    """

    __slots__ = ("counts", "n", "lo", "hi")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0
        self.lo = sys.maxsize
        self.hi = 0

    def __bool__(self) -> bool:
        return self.n > 0

    def add_values(self, values: Sequence[int]) -> None:
        """Count a batch of raw µs values (a list is the cheap container)."""
        n = len(values)
        if not n:
            return
        lo, hi = min(values), max(values)
        if lo < 0 or hi > HIGHEST or type(lo) is not int or type(hi) is not int:
            values = _sanitize(values)
            lo, hi = min(values), max(values)
        try:
            idx = _count_indices(values, hi)
        except TypeError:                        # a float among ints: truncate, retry
            values = _sanitize(values)
            lo, hi = min(values), max(values)
            idx = _count_indices(values, hi)
        counts = self.counts
        if not counts:
            self.counts = idx
        else:
            get = counts.get
            for i, k in idx.items():
                counts[i] = get(i, 0) + k
        self.n += n
        if lo < self.lo:
            self.lo = lo
        if hi > self.hi:
            self.hi = hi

    def add_zeros(self, n: int) -> None:
        """Count `n` values of 0 at once (series recorded only when non-zero: the rest are 0)."""
        if n > 0:
            self.counts[0] = self.counts.get(0, 0) + n
            self.n += n
            self.lo = 0

    def apply(self, h: HdrHistogram) -> None:
        """h += these counts, with total, min and max as record_value would leave them."""
        add_sparse(h, h.counts, self)

    def clear(self) -> None:
        self.counts = {}      # a new dict: one handed out by `drain` stays the receiver's
        self.n = 0
        self.lo = sys.maxsize
        self.hi = 0

    @classmethod
    def from_wire(cls, counts: dict[int, int], n: int, lo: int, hi: int) -> "Tally":
        """A worker's interval as it came over the wire, checked so that `apply` can neither
        write outside a histogram nor leave its total disagreeing with its counts.
        Raises ValueError."""
        fault = wire_fault(counts, n, lo, hi)
        if fault is not None:
            raise ValueError(fault)
        t = cls()
        t.counts, t.n, t.lo, t.hi = counts, n, lo, hi
        return t

    def histogram(self) -> HdrHistogram:
        """A new histogram holding exactly these counts."""
        h = new_histogram()
        self.apply(h)
        return h


class Sparse(Protocol):
    """Sparse HDR counts with their total, min and max: a `Tally`, or a `SeriesDelta` off the wire."""
    counts: dict[int, int]
    n: int
    lo: int
    hi: int


def wire_fault(counts: dict[int, int], n: int, lo: int, hi: int) -> str | None:
    """Why sparse counts from a worker may not be added to a histogram (an index outside it,
    counts that do not add up to the total, min/max out of range), or None if they may."""
    if counts:
        if min(counts) < 0 or max(counts) >= _COUNTS_LEN:
            return "a counts index outside the histogram"
        if min(counts.values()) <= 0 or sum(counts.values()) != n:
            return "counts that do not add up to the stated total"
        if not 0 <= lo <= hi <= HIGHEST:
            return f"min {lo} / max {hi} outside 0..{HIGHEST} µs"
    elif n:
        return "a total with no counts"
    return None


_WIRE_TOTAL_MAX = 1 << 40     # samples in one delta: far beyond a worker's second


class Packed(Protocol):
    """Packed sparse counts with their total, min and max: a `SeriesDelta` off the wire."""
    index: bytes
    count: bytes
    n: int
    lo: int
    hi: int


def unpack_checked(s: Packed) -> tuple[Sequence[int], Sequence[int] | None, str | None]:
    """A delta's packed counts as sequences of ints (views of its bytes: nothing allocated
    for a well-formed delta on a little-endian host) — indexes, counts (None: one sample at
    each index) — and why they may not be added to a histogram (None if they may): the same
    refusals as `wire_fault`, plus bytes that are not whole indexes and counts."""
    try:
        idx, cnt = packed.unpack(s.index, s.count)
    except TypeError:
        return (), None, "counts not packed as whole indexes and counts"
    n = s.n
    if idx:
        if n > _WIRE_TOTAL_MAX:                # so no run of them can overflow a u64 counter
            return idx, cnt, f"a total above {_WIRE_TOTAL_MAX} samples"
        if max(idx) >= _COUNTS_LEN:            # u16: never negative
            return idx, cnt, "a counts index outside the histogram"
        if (len(idx) != n) if cnt is None else (min(cnt) <= 0 or sum(cnt) != n):
            return idx, cnt, "counts that do not add up to the stated total"
        if not 0 <= s.lo <= s.hi <= HIGHEST:
            return idx, cnt, f"min {s.lo} / max {s.hi} outside 0..{HIGHEST} µs"
    elif n:
        return idx, cnt, "a total with no counts"
    return idx, cnt, None


_INDEX_HIGH_BYTE_LIMIT = _COUNTS_LEN >> 8     # u16 little-endian: index < 23,552 iff its high byte < 92
assert _INDEX_HIGH_BYTE_LIMIT << 8 == _COUNTS_LEN


def unit_fault(s: Packed) -> str | None:
    """`unpack_checked`'s fault (None if none) for a delta with one sample at each index
    (`s.count` empty), read from its bytes without unpacking them: the merge's common case,
    ~0.3 µs instead of ~0.7."""
    index, n = s.index, s.n
    if len(index) & 1:
        return "counts not packed as whole indexes and counts"
    if not index:
        return "a total with no counts" if n else None
    if n > _WIRE_TOTAL_MAX:
        return f"a total above {_WIRE_TOTAL_MAX} samples"
    if max(index[1::2]) >= _INDEX_HIGH_BYTE_LIMIT:      # the wire is little-endian on every host
        return "a counts index outside the histogram"
    if len(index) != 2 * n:
        return "counts that do not add up to the stated total"
    if not 0 <= s.lo <= s.hi <= HIGHEST:
        return f"min {s.lo} / max {s.hi} outside 0..{HIGHEST} µs"
    return None


def counts_view(h: HdrHistogram) -> memoryview:
    """`h`'s counts array as a writable memoryview: reading and writing an item through it
    costs about half of what the ctypes array's own indexing does (the coordinator's merge
    adds every sample of every worker this way). Same memory, so both stay in step."""
    return memoryview(h.counts).cast("B").cast(h.counts._type_._type_)


def add_sparse(h: HdrHistogram, counts_of_h, s: Sparse) -> None:
    """h += the sparse counts `s` (checked: `wire_fault`), with total, min and max as
    record_value would leave them. `counts_of_h` is `h.counts` or `counts_view(h)`."""
    add_packed(h, counts_of_h, s.counts.keys(), s.counts.values(), s)


def add_packed(h: HdrHistogram, counts_of_h, idx: Sequence[int], cnt: Sequence[int] | None,
               s: Packed) -> None:
    """`add_sparse` of a delta's packed counts (`unpack_checked`: checked first)."""
    if not s.n:
        return
    if cnt is None:
        for i in idx:
            counts_of_h[i] += 1
    else:
        for i, k in zip(idx, cnt):
            counts_of_h[i] += k
    h.total_count += s.n
    if s.lo < h.min_value:
        h.min_value = s.lo
    if s.hi > h.max_value:
        h.max_value = s.hi


def record_many(h: HdrHistogram, values: Sequence[int]) -> None:
    """Record a batch into `h`; same result as `record_value` per (clamped) value."""
    t = Tally()
    t.add_values(values)
    t.apply(h)



def sparse_counts(h: HdrHistogram) -> dict[int, int]:
    """{counts index: count} of the non-empty buckets of `h` (for sliding windows)."""
    counts = _used_counts(h)
    return {i: c for i, c in enumerate(counts) if c}


_REFERENCE: HdrHistogram | None = None


def value_at_index(index: int, lowest: bool = False) -> int:
    """The value (µs) HdrHistogram reports for a counts index: the highest equivalent value
    of its bucket (the lowest with `lowest`), as percentiles and max do."""
    global _REFERENCE
    if _REFERENCE is None:
        _REFERENCE = new_histogram()
    value = _REFERENCE.get_value_from_index(index)
    return _REFERENCE.get_lowest_equivalent_value(value) if lowest else _REFERENCE.get_highest_equivalent_value(value)
