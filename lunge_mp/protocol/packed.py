"""A series' sparse HDR counts on the wire: packed bytes, not a msgpack map.

`index` holds the HDR counts-array indexes (u16, little-endian, ascending: every index of the
project's one configuration is < 23,552); `count` the samples at each (u32, or u64 when one
would not fit, little-endian), or nothing at all when every index holds one sample, the common
case of a series with few samples a second. The coordinator reads both through memoryviews, so
decoding a series costs one bytes object per field instead of a dict of ints, and the add loop
walks them in C-level iteration (metrics/hdr.py `add_packed`). Checking them is the reader's
job (`hdr.packed_fault`): these functions only convert.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Mapping
from itertools import repeat

INDEX = "H"
COUNT = "I"
WIDE_COUNT = "Q"
_LITTLE = sys.byteorder == "little"
_COUNT_MAX = (1 << 32) - 1
assert array(INDEX).itemsize == 2 and array(COUNT).itemsize == 4 and array(WIDE_COUNT).itemsize == 8


def _bytes(a: array) -> bytes:
    if not _LITTLE:
        a.byteswap()
    return a.tobytes()


def pack(counts: Mapping[int, int]) -> tuple[bytes, bytes]:
    """{counts index: samples} → (index, count) bytes; count is b"" when every index holds one."""
    keys = sorted(counts)
    index = _bytes(array(INDEX, keys))
    values = [counts[k] for k in keys]
    if not values or max(values) == 1:
        return index, b""
    return index, _bytes(array(COUNT if max(values) <= _COUNT_MAX else WIDE_COUNT, values))


def view(data: bytes, typecode: str) -> memoryview | array:
    """Packed little-endian items as a sequence of ints (a memoryview: no copy, here).
    Raises TypeError when the length is not a whole number of items."""
    if _LITTLE:
        return memoryview(data).cast(typecode)
    a = array(typecode)
    if len(data) % a.itemsize:
        raise TypeError("not a whole number of items")
    a.frombytes(data)
    a.byteswap()
    return a


def unpack(index: bytes, count: bytes) -> tuple[memoryview | array, memoryview | array | None]:
    """(indexes, counts or None: one sample each). The counts' width follows from their length
    (4 or 8 bytes an index). Raises TypeError on lengths that fit neither."""
    if _LITTLE:                 # the merge's hot path: no call beyond the casts
        idx = memoryview(index).cast(INDEX)
        if not count:
            return idx, None
        width = len(count) // len(idx) if idx and not len(count) % len(idx) else 0
        if width == 4:
            return idx, memoryview(count).cast(COUNT)
        if width == 8:
            return idx, memoryview(count).cast(WIDE_COUNT)
        raise TypeError("as many counts as indexes expected")
    idx = view(index, INDEX)
    if not count:
        return idx, None
    if len(count) == 4 * len(idx):
        return idx, view(count, COUNT)
    if len(count) == 8 * len(idx):
        return idx, view(count, WIDE_COUNT)
    raise TypeError("as many counts as indexes expected")


def to_dict(index: bytes, count: bytes) -> dict[int, int]:
    """The counts as {index: samples} (tests, tools; the merge reads them packed)."""
    idx, cnt = unpack(index, count)
    out: dict[int, int] = {}
    for i, k in zip(idx, cnt if cnt is not None else repeat(1)):
        out[i] = out.get(i, 0) + k
    return out

