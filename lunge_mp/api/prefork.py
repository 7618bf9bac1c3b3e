"""The fork server's last step before its first fork (api/forkserver.py): fewer of its pages
written by each forked coordinator (`settle`).

A forked child shares the fork server's pages until it writes one; then that page (4 KB) is
copied, private to the child. Measured page by page (/proc/PID/pagemap), ~85% of a forked
coordinator's private memory was such copies, not memory of its own. Most are Python 3.11's
reference counts on the objects a run touches, which nothing here can avoid. Two kinds can be:

* **The allocators' holes.** After the imports, pymalloc's pools hold ~0.5 MB of free blocks and
  glibc's heap ~1 MB of free chunks, scattered among live objects. An allocator reuses its
  holes first, so a child's first objects land in them, each in a page of the fork server's,
  which is then copied. `fill_holes` allocates blocks that fill them, kept alive for the
  fork server's life and never touched again: a child's new objects go to fresh pages.
* **The type attribute cache** holds a reference to each cached attribute name, so each
  entry a child replaces writes the old name's reference count, in a page of the fork
  server's. Cleared here, its entries hold None, whose count lives in one page.

Filling the holes took ~0.9 MB off each forked coordinator and ~0.9 MB off the fork server's
own share, the cache ~0.15 MB more each (issue 14's memory figure; docs/PERFORMANCE.md).
Running an event loop and a ZeroMQ context here first, so that their caches and Python
3.11's specialised bytecode were made once before the fork, changed little (< 0.2 MB, within
the noise): not done. Best effort: on another
allocator or Python, or if a figure cannot be read, a part does nothing.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import tempfile

_PYMALLOC_MIN = 48          # a bytes object's smallest block (33 bytes of header and one of data)
_BYTES_HEAD = 33            # sys.getsizeof(b"") on CPython
_CHUNK = 528                # just above pymalloc's 512-byte limit: glibc malloc serves it
_MAX_CHUNKS = 20_000        # ~10 MB: a bound, far above the ~2,000 chunks the holes take


def settle() -> list:
    """The last step before the first fork; the caller keeps the list alive."""
    ballast = fill_holes()
    if hasattr(sys, "_clear_type_cache"):
        sys._clear_type_cache()     # noqa: SLF001 - its entries then hold None, not names
    return ballast


def fill_holes() -> list:
    """Blocks filling pymalloc's and glibc malloc's free space among live objects; the caller
    keeps the list alive."""
    return _fill_pymalloc() + _fill_malloc()


def _pymalloc_free_blocks() -> dict[int, int]:
    """{block size: free blocks in pools in use}, from sys._debugmallocstats (C stderr)."""
    if not hasattr(sys, "_debugmallocstats"):
        return {}
    try:
        with tempfile.TemporaryFile("w+") as out:
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(out.fileno(), 2)
            try:
                sys._debugmallocstats()     # noqa: SLF001 - the one view of pymalloc's pools
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            out.seek(0)
            text = out.read()
    except (OSError, ValueError):          # no stderr to borrow, no temporary file: fill nothing
        return {}
    # rows: class, size, num pools, blocks in use, avail blocks
    return {int(m[2]): int(m[5]) for m in re.finditer(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", text, re.M)}


def _fill_pymalloc() -> list:
    blocks: list = []
    for size, free in _pymalloc_free_blocks().items():
        if size >= _PYMALLOC_MIN:
            blocks += [bytes(size - _BYTES_HEAD) for _ in range(free)]
        elif size == 32:                     # a float is 24 bytes: the 32-byte class
            blocks += [i + 0.5 for i in range(free)]
    return blocks


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _fill_malloc() -> list:
    """Chunks of 528 bytes until one comes from the heap's top (the heap grew, or its top
    shrank): then no hole that fits one is left."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2     # glibc 2.33+
    except (OSError, AttributeError):
        return []
    mallinfo2.restype = _MallInfo2
    chunks: list = []
    for _ in range(_MAX_CHUNKS):
        before = mallinfo2()
        chunks.append(bytes(_CHUNK - _BYTES_HEAD))
        after = mallinfo2()
        if after.arena != before.arena or after.keepcost != before.keepcost:
            break
    return chunks
