"""HDR counts arrays in pages the kernel zero-fills on first write.

hdrh allocates each histogram's counts as a ctypes array, which is zero-filled: all
~188 KB (23,552 counters) of it are written, and so resident, at once. A run keeps dozens
of histograms live (per series, and per scenario and metric in each of the last seconds'
buckets: metrics/buckets.py), yet a second's latencies fill a few pages of each. Backed by
a private anonymous mapping instead, a counts array costs only the pages its counts land
in (4 KB = 512 counters each); the rest read as zero without being resident.

`install()` (done by metrics/hdr.py) replaces hdrh's `HdrPayload._init_counts`, the one
place every histogram's counts are made (new or decoded); elsewhere than POSIX, or if a
mapping fails, the array is made as hdrh makes it.
"""

from __future__ import annotations

import ctypes
import mmap

_MIN_BYTES = 64 * 1024          # smaller arrays: malloc is cheaper than a mapping of their own


def _counts(counter_ctype, length: int):
    size = ctypes.sizeof(counter_ctype) * length
    if size >= _MIN_BYTES and hasattr(mmap, "MAP_PRIVATE"):
        try:        # private: a forked process never shares a histogram's pages
            pages = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", 0))
        except OSError:
            pass
        else:
            return (counter_ctype * length).from_buffer(pages)    # keeps the mapping alive
    return (counter_ctype * length)()


def _init_counts(self) -> None:
    self.counts = _counts(self.counter_ctype, self.counts_len)


def install() -> None:
    from hdrh.codec import HdrPayload

    HdrPayload._init_counts = _init_counts      # noqa: SLF001 - the one allocation point
