"""Guardrail permits on a worker: closed-model requests wait for one before they are sent.

The accounting is pure (`schedule/permits.py`); this module is its asyncio side.

- `PermitGate`: the worker's lease for maxTotalRequests (shared by its closed scenarios),
  its questions to the coordinator (`PermitRequest`) and the answers (`granted`), the VUs
  waiting for a leased permit (first come, first served), and how long VUs waited.
- `ScenarioPermits`: one closed scenario's token bucket for maxRate, with its waiting VUs
  released one per interval by a loop timer (rounded up to whole milliseconds, as the open
  model's dispatcher: a permit is never early, at most ~1 ms late).
- `PermittedTransport`: a closed scenario's transport (HTTP, and Redis for queue jobs): a
  permit, then the request. Its redirect hops take permits too (`HOP_PERMIT`, read by the
  transports before each hop), since every hop is a request at the server.

A permit is taken before the request is handed to the transport, so a VU's wait is not in
any latency; it is counted apart (`wait_s`, `waits`: Heartbeat and Bye, then results and the
summary). At the worker's stop (`close`), every waiting VU gets `PermitDenied`: its iteration
ends there, counted as interrupted, and nothing is sent. Open-model scenarios never come here.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

from lunge_mp.schedule.permits import Lease, TokenBucket
from lunge_mp.worker.transport import Outcome, PermitDenied, Prepared, Transport, Wrapper

__all__ = ["PermitDenied", "PermitGate", "PermittedTransport", "ScenarioPermits"]

_monotonic_ns = time.monotonic_ns

RATE = "maxRate"
TOTAL = "maxTotalRequests"


def _next(waiters: deque[asyncio.Future]) -> asyncio.Future | None:
    """The longest-waiting VU still waiting (those cancelled meanwhile are dropped)."""
    while waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            return waiter
    return None


class PermitGate:
    """The worker's permits. `ask(used, want)` sends a PermitRequest (never blocks)."""

    def __init__(self, lease: bool, ask: Callable[[int, int], None]) -> None:
        self.lease = Lease() if lease else None
        self._ask = ask
        self._waiters: deque[asyncio.Future] = deque()
        self.closed = False
        self.wait_ns = {RATE: 0, TOTAL: 0}
        self.waits = {RATE: 0, TOTAL: 0}
        self.scenarios: list[ScenarioPermits] = []

    def scenario(self, rate_per_s: float) -> ScenarioPermits:
        permits = ScenarioPermits(self, rate_per_s)
        self.scenarios.append(permits)
        return permits

    def maybe_ask(self) -> None:
        lease = self.lease
        want = lease.ask(time.monotonic_ns())
        if want is not None:
            self._ask(lease.used, want)

    def granted(self, permits: int, final: bool) -> None:
        """The coordinator's answer: hand permits to waiting VUs first, in order."""
        lease = self.lease
        if lease is None:
            return
        lease.granted(permits, final)
        while lease.left > 0:
            waiter = _next(self._waiters)
            if waiter is None:
                break
            lease.take()
            waiter.set_result(None)
        self.maybe_ask()

    async def take_leased(self) -> None:
        """One leased permit, waiting for the coordinator if there is none."""
        lease = self.lease
        if not self._waiters and lease.take():
            if lease.left <= lease.low:
                self.maybe_ask()
            return
        if self.closed:
            raise PermitDenied("the worker is stopping")
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.maybe_ask()
        started = time.monotonic_ns()
        try:
            await waiter
        finally:
            self.wait_ns[TOTAL] += time.monotonic_ns() - started
            self.waits[TOTAL] += 1

    def close(self) -> None:
        """The worker stops: every waiting VU is told no permit will come."""
        self.closed = True
        waiters = [self._waiters]
        for permits in self.scenarios:
            permits.cancel_timer()
            waiters.append(permits.waiters)
        for queue in waiters:
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_exception(PermitDenied("the worker is stopping"))

    def stats(self) -> tuple[dict[str, float], dict[str, int]]:
        """(guardrail → seconds VUs waited for permits, guardrail → waits) so far."""
        return ({k: round(v / 1e9, 6) for k, v in self.wait_ns.items() if self.waits[k]},
                {k: v for k, v in self.waits.items() if v})


class ScenarioPermits:
    """One closed scenario's permits: its maxRate bucket (if any) and the worker's lease."""

    __slots__ = ("gate", "bucket", "lease", "waiters", "_timer")

    def __init__(self, gate: PermitGate, rate_per_s: float) -> None:
        self.gate = gate
        self.bucket = TokenBucket(rate_per_s) if rate_per_s > 0 else None
        self.lease = gate.lease
        self.waiters: deque[asyncio.Future] = deque()
        self._timer: asyncio.TimerHandle | None = None

    async def take(self) -> None:
        """One permit for one request, after waiting for it if need be."""
        if self.lease is not None:
            await self.gate.take_leased()
        bucket = self.bucket
        if bucket is None:
            return
        if not self.waiters and bucket.take(time.monotonic_ns()):
            return
        if self.gate.closed:
            raise PermitDenied("the worker is stopping")
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        if self._timer is None:
            self._arm()
        started = time.monotonic_ns()
        try:
            await waiter
        finally:
            gate = self.gate
            gate.wait_ns[RATE] += time.monotonic_ns() - started
            gate.waits[RATE] += 1

    def _arm(self) -> None:
        wait_ms = math.ceil(self.bucket.wait_ns(time.monotonic_ns()) / 1e6)   # never early
        self._timer = asyncio.get_running_loop().call_later(wait_ms / 1e3, self._release)

    def _release(self) -> None:
        """The next permit is due: to the longest-waiting VU (re-armed while VUs wait)."""
        self._timer = None
        bucket, now = self.bucket, time.monotonic_ns()
        while True:
            waiter = _next(self.waiters)
            if waiter is None:
                return
            if not bucket.take(now):
                self.waiters.appendleft(waiter)     # its slot has not come: its turn stays
                break
            waiter.set_result(None)
        self._arm()

    def cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class PermittedTransport(Wrapper):
    """A closed scenario's transport: a permit before every request. (Its redirect hops take
    theirs through `HOP_PERMIT`, which the closed model sets once in each VU's task.)"""

    def __init__(self, inner: Transport, permits: ScenarioPermits) -> None:
        super().__init__(inner)
        self.permits = permits

    def send(self, request: Prepared) -> Awaitable[Outcome]:
        """The common case (maxRate only, a permit due now, nobody waiting before us) hands
        back the inner transport's coroutine itself: no coroutine of our own per request."""
        p = self.permits
        if p.lease is None and not p.waiters and (p.bucket is None or p.bucket.take(_monotonic_ns())):
            return self.inner.send(request)
        return self._send_after_permit(request)

    async def _send_after_permit(self, request: Prepared) -> Outcome:
        await self.permits.take()
        return await self.inner.send(request)
