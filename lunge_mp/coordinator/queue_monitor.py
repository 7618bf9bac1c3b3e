"""The queue monitor: once a second, one extra connection reads the depth of every queue the
plan enqueues into, and Redis' used memory; the figures go into the per-second buckets.

It runs in the coordinator, not in a worker: one connection for the run however many workers
there are, in the process that merges the workers' enqueue counts into the same seconds (the
processing rate needs both), and that process is mostly idle (one pipelined round trip a
second). Math and the bucket field: metrics/queue.py. The client is redis-py's asyncio one
(speed does not matter here; the load goes through worker/redis_transport.py).

Sample k is taken at t0 + k s. Redis not answering is warned about once ("the queue looks
down"), and once more when it answers again; the run goes on either way. With
guardrails.maxQueueDepth, a backlog above it is a guardrail breach: the run stops (exit 111)
with emergencyStop, else a warning.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from lunge_mp.analysis.guardrails import Event
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.queue import QueueSeries, Sample, over_depth, targets
from lunge_mp.plan import Plan, RedisSettings

READ_TIMEOUT_S = 0.8
RECOMPUTE_S = 12
LATE_S = 0.5              # a reading finished later than this after its second is dropped          # late reports: seconds re-published at each sample


def for_plan(plan: Plan, aggregates: Callable[[], list[Aggregate]], log: Callable[[str], None],
             on_guardrail: Callable[[list[Event]], None]) -> QueueMonitor | None:
    t = targets(plan)
    if not t.keys:
        return None
    for key in t.skipped:
        log(f"queue monitor: key '{key}' is templated, so its depth is not monitored")
    # imported now, before the run: importing redis-py takes ~0.2 s of CPU, which at the first
    # sample would stall the coordinator's loop (and the arrivals it deals) at t0
    import redis.asyncio  # noqa: F401
    import redis.asyncio.retry  # noqa: F401
    import redis.backoff  # noqa: F401
    return QueueMonitor(plan, QueueSeries(t), aggregates, log, on_guardrail)


class QueueMonitor:
    def __init__(self, plan: Plan, series: QueueSeries, aggregates: Callable[[], list[Aggregate]],
                 log: Callable[[str], None], on_guardrail: Callable[[list[Event]], None]) -> None:
        self.settings = plan.settings.redis or RedisSettings()
        self.series = series
        self.max_depth = plan.guardrails.max_queue_depth
        self._aggregates = aggregates
        self._log = log
        self._on_guardrail = on_guardrail
        self._task: asyncio.Task | None = None
        self._client = None
        self._down = False
        self._breached = False
        self.peak_depth = 0
        self.peak_memory = 0

    def on_report(self, report) -> None:
        for cd in report.counters:
            self.series.add_counts(report.bucket, cd.scenario, cd.request, cd.requests - cd.failures)

    def start(self, t0_ns: int) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(t0_ns))

    async def stop(self) -> dict:
        """Final sample, every second published; the `queue` block of results.json.

        The final reading (the run is over: nothing moves any more on our side) stands as the
        next second's sample, so the last second's figures include its last jobs."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        k = max(self.series.samples, default=-1) + 1
        sample = await self._read(k)
        if sample is not None:
            self.series.add_sample(k, sample)
            self._breached = True       # peaks only: the run is over, a breach can stop nothing
            self._check_depth(k)
        for t in sorted(self.series.samples):
            self._publish_second(t)
        if self._client is not None:
            try:
                await self._client.aclose()
            except Exception:
                pass
        return {"url": self.settings.url, "keys": dict(self.series.targets.keys),
                "peakDepth": self.peak_depth, "peakMemoryBytes": self.peak_memory or None,
                "samples": len(self.series.samples), "maxQueueDepth": self.max_depth or None}

    async def _run(self, t0_ns: int) -> None:
        k = 0
        while True:
            delay = (t0_ns + k * 1_000_000_000 - time.monotonic_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            sample = await self._read(k)
            late = time.monotonic_ns() - t0_ns > (k + LATE_S) * 1_000_000_000
            if sample is not None and not late:     # a late reading is not sample k's
                self.series.add_sample(k, sample)
                self._publish(k)
                self._check_depth(k)
            k = max(k + 1, int((time.monotonic_ns() - t0_ns) // 1_000_000_000) + 1)

    def _publish(self, k: int) -> None:
        for t in range(max(0, k - RECOMPUTE_S), k):
            self._publish_second(t)

    def _publish_second(self, t: int) -> None:
        figures = self.series.field(t)
        if figures is not None:
            for agg in self._aggregates():
                agg.set_queue(t, figures)

    def _check_depth(self, k: int) -> None:
        depth = self.series.backlog_at(k) or 0
        self.peak_depth = max(self.peak_depth, depth)
        memory = self.series.samples[k].memory_bytes
        if memory:
            self.peak_memory = max(self.peak_memory, memory)
        hit = over_depth(self.series, k, self.max_depth)
        if hit is not None and not self._breached:
            self._breached = True
            key, backlog = hit
            self._on_guardrail([Event("maxQueueDepth", "breach",
                                      f"guardrail maxQueueDepth: queue '{key}' holds {backlog:,} jobs, "
                                      f"over the limit of {self.max_depth:,}", float(k))])

    def _connect(self):
        import redis.asyncio as aredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        s = self.settings
        # no retries: a sample that cannot be read now is missing, not read late as this second's
        return aredis.Redis(retry=Retry(NoBackoff(), 0), host=s.host, port=s.port, db=s.db, username=s.username or None,
                            password=s.password or None, ssl=s.tls,
                            ssl_cert_reqs="none" if s.insecure_skip_verify else "required",
                            socket_timeout=READ_TIMEOUT_S, socket_connect_timeout=READ_TIMEOUT_S,
                            single_connection_client=True, retry_on_timeout=False)

    async def _read(self, k: int) -> Sample | None:
        try:
            if self._client is None:
                self._client = self._connect()
            sample = await asyncio.wait_for(self._query(), READ_TIMEOUT_S + 0.2)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._client is not None:
                try:
                    await self._client.aclose()
                except Exception:
                    pass
                self._client = None
            if not self._down:
                self._down = True
                detail = str(exc) or type(exc).__name__
                self._log(f"queue monitor: Redis at {self.settings.url} does not answer at {k}s "
                          f"({detail}): the queue looks down; commands to it fail (class connect) "
                          f"until it is back")
            return None
        if self._down:
            self._down = False
            self._log(f"queue monitor: Redis at {self.settings.url} answers again at {k}s")
        return sample

    async def _query(self) -> Sample:
        keys = self.series.targets.keys
        pipe = self._client.pipeline(transaction=False)
        for key, kind in keys.items():
            if kind == "list":
                pipe.llen(key)
            elif kind == "zset":
                pipe.zcard(key)
            else:
                pipe.xlen(key)
                pipe.execute_command("XINFO", "GROUPS", key)
        pipe.info("memory")
        replies = await pipe.execute(raise_on_error=False)
        figures: dict[str, dict[str, int | None]] = {}
        i = 0
        for key, kind in keys.items():
            depth = replies[i]
            i += 1
            f: dict[str, int | None] = {"depth": depth if isinstance(depth, int) else None}
            if kind == "stream":
                f.update(_groups(replies[i]))
                i += 1
            figures[key] = f
        info = replies[i]
        memory = info.get("used_memory") if isinstance(info, dict) else None
        return Sample(figures, memory if isinstance(memory, int) else None)


def _groups(reply: object) -> dict[str, int | None]:
    """The consumer group with the largest backlog (lag + pending): its pending and lag."""
    if not isinstance(reply, list) or not reply:
        return {"groups": 0, "pending": None, "lag": None}
    best: tuple[int, int | None, int | None] | None = None
    for g in reply:
        if isinstance(g, list):      # RESP2 flat [name, value, ...] pairs
            g = {g[j]: g[j + 1] for j in range(0, len(g) - 1, 2)}
        if not isinstance(g, dict):
            continue
        g = {(k.decode() if isinstance(k, bytes) else k): v for k, v in g.items()}
        pending = g.get("pending") if isinstance(g.get("pending"), int) else 0
        lag = g.get("lag") if isinstance(g.get("lag"), int) else 0
        if best is None or pending + lag > best[0]:
            best = (pending + lag, pending, lag)
    if best is None:
        return {"groups": 0, "pending": None, "lag": None}
    return {"groups": len(reply), "pending": best[1], "lag": best[2]}
