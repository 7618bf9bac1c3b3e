"""The embedded target's request counters (one `Stats` per process) and their merge over the
processes of a multi-worker target: what `/__stats` answers."""

from __future__ import annotations

import time

MAX_PATH_KEYS = 10_000        # distinct byPath keys kept; the rest go to OTHER_PATH
OTHER_PATH = "(other)"
MAX_SECONDS_KEPT = 86_400     # perSecond buckets kept (oldest dropped first)


class Stats:
    """Per-process request counters."""

    __slots__ = ("total", "by_path", "per_second", "since", "first_at")

    def __init__(self, since: float | None = None) -> None:
        self.total = 0
        self.by_path: dict[bytes, int] = {}
        self.per_second: dict[int, int] = {}
        self.since = time.time() if since is None else since
        self.first_at: float | None = None     # wall clock of the first request counted

    def count(self, path: bytes) -> None:
        if not self.total:
            self.first_at = time.time()       # start-up benchmarks: when the first request came
        self.total += 1
        bp = self.by_path
        n = bp.get(path)
        if n is not None:
            bp[path] = n + 1
        elif len(bp) < MAX_PATH_KEYS:
            bp[path] = 1
        else:
            key = OTHER_PATH.encode()
            bp[key] = bp.get(key, 0) + 1
        sec = int(time.time())
        ps = self.per_second
        n = ps.get(sec)
        if n is not None:
            ps[sec] = n + 1
        else:
            ps[sec] = 1
            if len(ps) > MAX_SECONDS_KEPT:
                del ps[min(ps)]

    def reset(self, since: float | None = None) -> None:
        self.total = 0
        self.by_path = {}
        self.per_second = {}
        self.since = time.time() if since is None else since
        self.first_at = None

    def snapshot(self) -> dict:
        return {
            "requests": self.total,
            "firstAt": self.first_at,
            "byPath": {k.decode("latin-1"): v for k, v in self.by_path.items()},
            "perSecond": {str(k): v for k, v in sorted(self.per_second.items())},
            "since": self.since,
        }


def merge_snapshots(snaps: list[dict]) -> dict:
    total = 0
    by_path: dict[str, int] = {}
    per_second: dict[int, int] = {}
    since = first = None
    for s in snaps:
        total += s["requests"]
        if s.get("firstAt") is not None:
            first = s["firstAt"] if first is None else min(first, s["firstAt"])
        for k, v in s["byPath"].items():
            by_path[k] = by_path.get(k, 0) + v
        for k, v in s["perSecond"].items():
            k = int(k)
            per_second[k] = per_second.get(k, 0) + v
        since = s["since"] if since is None else min(since, s["since"])
    return {
        "requests": total,
        "byPath": by_path,
        "perSecond": {str(k): v for k, v in sorted(per_second.items())},
        "since": since,
        "firstAt": first,
        "workers": len(snaps),
    }
