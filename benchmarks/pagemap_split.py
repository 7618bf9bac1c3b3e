"""How much of a forked process's private memory is copies of its parent's pages.

A forked child shares its parent's pages until one of them writes a page; the writer then
has a private copy. /proc/PID/pagemap says, page by page, whether a page is present (bit 63)
and mapped by this process only (bit 56). A private page of the child at an address where
the parent has a page too is such a copy (the child wrote it, or the parent did after the
fork); any other private page is the child's own (memory it allocated after the fork).
Used by benchmarks/serve_memory.py for the fork server's children (api/forkserver.py).
"""

from __future__ import annotations

import struct

PAGE = 4096


def _pagemap(pid: int, start: int, end: int) -> list[int]:
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(start // PAGE * 8)
        data = f.read((end - start) // PAGE * 8)
    return list(struct.unpack(f"{len(data) // 8}Q", data))


def _maps(pid: int) -> list[tuple[int, int]]:
    with open(f"/proc/{pid}/maps") as f:
        spans = [line.split(None, 1)[0].split("-") for line in f if "[vsyscall]" not in line]
    return [(int(a, 16), int(b, 16)) for a, b in spans]


def private_split(child: int, parent: int) -> tuple[int, int]:
    """(copied, own) bytes of a forked child's private pages (/proc/PID/pagemap: bit 63 present,
    bit 56 mapped by this process only): copied where its parent has a page at the same address
    (copy-on-write of the fork server's pages), its own elsewhere."""
    copied = own = 0
    parent_maps = _maps(parent)
    for start, end in _maps(child):
        mine = _pagemap(child, start, end)
        theirs = [0] * len(mine)
        for p_start, p_end in parent_maps:
            lo, hi = max(start, p_start), min(end, p_end)
            if lo < hi:
                at = (lo - start) // PAGE
                theirs[at:at + (hi - lo) // PAGE] = _pagemap(parent, lo, hi)
        for m, t in zip(mine, theirs):
            if m >> 63 & 1 and m >> 56 & 1:
                if t >> 63 & 1:
                    copied += PAGE
                else:
                    own += PAGE
    return copied, own
