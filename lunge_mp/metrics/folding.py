"""Folding old 1-second buckets into coarser ones, so a day-long run keeps bounded memory. Pure.

The most recent `FULL_S` seconds (one hour) keep their 1-second buckets. Older seconds are
folded into 10-second buckets, and those older than `TEN_S` (six hours) into 60-second
buckets: a 24-hour run holds 3,600 + 1,800 + 1,080 buckets instead of 86,400. A folded
bucket is exact for what it keeps: its counters and errors are the sums of its seconds', its
latency histograms the merge of theirs (so its p50/p95/p99 are those of every sample in it),
its VU gauges the highest of its seconds', a monitored queue's the latest. Run totals never depend on buckets, and windowed
thresholds judge each second before it is folded (Buckets.on_retire, analysis/window_judge.py),
so a folded bucket drops the seconds' window groups (analysis/window_groups.py).

A bucket's `span` says how many seconds it covers, from `t` (aligned to its span).
"""

from __future__ import annotations

from lunge_mp.metrics import hdr

FULL_S = 3600          # the newest hour keeps every second
TEN_S = 6 * 3600       # seconds older than this (from the newest) are folded into minutes
TIERS = ((FULL_S, 10), (TEN_S, 60))   # (age beyond which, span folded into)


def merge(parts: list, into) -> None:
    """Add the sealed buckets `parts` into the sealed bucket `into` (counts, errors, gauge
    peaks, merged histograms; percentiles recomputed)."""
    merged: dict = {}
    for b in parts:
        for scn, c in b.counts.items():
            dst = into.scn(scn)
            for i, n in enumerate(c):
                dst[i] += n
        for scn, errors in b.errors.items():
            into.add_errors(scn, errors)
        for scn, (active, vus) in b.gauge_sums.items():
            sums = into.gauge_sums.setdefault(scn, [0, 0])
            sums[0], sums[1] = max(sums[0], active), max(sums[1], vus)
        if getattr(b, "queue", None) is not None:
            into.queue = b.queue        # a gauge: the latest second's
        for key, data in b.encoded.items():
            if type(key[0]) is int:
                continue        # a window group's (buckets.py): judged already, not kept
            h = merged.get(key)
            if h is None:
                h = merged[key] = hdr.new_histogram()
            hdr.merge(h, hdr.decode(data))
    for key, data in into.encoded.items():
        h = merged.get(key)
        if h is not None:
            hdr.merge(h, hdr.decode(data))
    into.pct.clear()
    for key, h in merged.items():
        into.encoded[key] = hdr.encode(h)
        v = hdr.percentiles(h, (50.0, 95.0, 99.0))
        into.pct[key] = (v[50.0], v[95.0], v[99.0])
