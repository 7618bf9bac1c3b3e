"""Queue health per second: depth, backlog and the consumers' processing rate. Pure.

The queue monitor (coordinator/queue_monitor.py) samples each monitored key at whole seconds
after t0: a list's LLEN, a sorted set's ZCARD, a stream's XLEN and each consumer group's
pending (delivered, not acknowledged) and lag (not yet delivered), plus Redis' used memory.
The workers' reports say how many commands to each key succeeded in each second.

For second t (the bucket [t, t+1)), with S(k) the sample at instant k:

    backlog(k)      list: LLEN;  sorted set: ZCARD;  stream: max over groups of lag + pending
                    (XLEN when the stream has no group)
    enqueued(t)     successful commands to the key whose report second is t
    processed(t)    enqueued(t) − (backlog(t+1) − backlog(t))        jobs the consumers took
    processingRate  Σ processed over keys (per second: the bucket is one second)

A stream trimmed by MAXLEN and without a group "processes" what the trim drops; a delayed-job
sorted set's processing is what its consumers moved out. A second without both samples has
no processed figure (None). Seconds are recomputed as late reports arrive. Sample instants and
report seconds meet only roughly (a sample is read a little after its whole second, a command
counts in the second it completed), so a second's figure can be off by the few jobs done around
that edge, in either direction (−2 with no consumer at 1,000 jobs/s); sums over seconds are exact.

The per-second field (`queue` in each bucket of results.json and of the live stream):
    {"keys": {key: {"type", "depth", "backlog", "pending", "lag", "enqueued", "processed"}},
     "depth": Σ backlog, "memoryBytes": used_memory, "enqueued": Σ, "processingRate": Σ processed}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lunge_mp.plan import Plan
from lunge_mp.scenario.template import Template

KEY_TYPES = {"LPUSH": "list", "RPUSH": "list", "XADD": "stream", "ZADD": "zset"}


@dataclass(frozen=True)
class Targets:
    keys: dict[str, str]                       # key → list | stream | zset
    requests: dict[tuple[str, str], str]       # (scenario, request) → key (of a worker plan: warmup copies too)
    skipped: tuple[str, ...] = ()              # templated keys: not monitored


def targets(plan: Plan) -> Targets:
    """The queues a plan enqueues into: every static key of an LPUSH/RPUSH/XADD/ZADD request."""
    keys: dict[str, str] = {}
    requests: dict[tuple[str, str], str] = {}
    skipped: list[str] = []
    for s in plan.scenarios:
        for r in s.requests:
            c = r.redis
            if c is None or c.command not in KEY_TYPES:
                continue
            if not Template(c.key).static:
                skipped.append(c.key)
                continue
            keys.setdefault(c.key, KEY_TYPES[c.command])
            requests[(s.name, r.name)] = c.key
    return Targets(keys, requests, tuple(dict.fromkeys(skipped)))


@dataclass
class Sample:
    """One reading: per key {"depth", "pending", "lag"} (pending/lag: streams with groups)."""
    keys: dict[str, dict[str, int | None]]
    memory_bytes: int | None


def backlog(kind: str, figures: dict[str, int | None]) -> int:
    if kind == "stream" and figures.get("groups"):
        return int(figures.get("pending") or 0) + int(figures.get("lag") or 0)
    return int(figures.get("depth") or 0)


@dataclass
class QueueSeries:
    """Samples and enqueue counts by second; `field(t)` is second t's bucket field."""
    targets: Targets
    samples: dict[int, Sample] = field(default_factory=dict)
    enqueued: dict[int, dict[str, int]] = field(default_factory=dict)

    def add_sample(self, k: int, sample: Sample) -> None:
        self.samples[k] = sample

    def add_counts(self, second: int, scenario: str, request: str, succeeded: int) -> None:
        key = self.targets.requests.get((scenario, request))
        if key is None or succeeded <= 0 or second < 0:
            return
        per = self.enqueued.setdefault(second, {})
        per[key] = per.get(key, 0) + succeeded

    def backlog_at(self, k: int) -> int | None:
        s = self.samples.get(k)
        if s is None:
            return None
        return sum(backlog(kind, s.keys.get(key, {})) for key, kind in self.targets.keys.items())

    def field(self, t: int) -> dict | None:
        start, end = self.samples.get(t), self.samples.get(t + 1)
        if end is None:
            return None
        counts = self.enqueued.get(t, {})
        keys = {}
        total_processed: int | None = 0
        for key, kind in self.targets.keys.items():
            f = end.keys.get(key, {})
            b_end = backlog(kind, f)
            enq = counts.get(key, 0)
            processed = None
            if start is not None:
                processed = enq - (b_end - backlog(kind, start.keys.get(key, {})))
            if processed is None:
                total_processed = None
            elif total_processed is not None:
                total_processed += processed
            keys[key] = {"type": kind, "depth": f.get("depth"), "backlog": b_end,
                         "pending": f.get("pending"), "lag": f.get("lag"),
                         "enqueued": enq, "processed": processed}
        return {"keys": keys, "depth": sum(k["backlog"] for k in keys.values()),
                "memoryBytes": end.memory_bytes, "enqueued": sum(counts.values()),
                "processingRate": total_processed}


def over_depth(series: QueueSeries, k: int, limit: int) -> tuple[str, int] | None:
    """(key, backlog) of the first monitored key whose backlog at sample k is above `limit`."""
    s = series.samples.get(k)
    if s is None or limit <= 0:
        return None
    for key, kind in series.targets.keys.items():
        b = backlog(kind, s.keys.get(key, {}))
        if b > limit:
            return key, b
    return None
