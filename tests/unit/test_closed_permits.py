"""Closed-model VU loops in-process with a scripted transport: permits before each request
(rate and lease), a stop while VUs wait, and VUs whose requests fail without ever suspending
(out of file descriptors, a template error) that must back off or yield, never spin."""

from __future__ import annotations

import asyncio
import time

from lunge_mp.executors import ConstantVUs
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.plan import Plan, RequestSpec
from lunge_mp.worker.closed_model import BACKOFF_MAX_S, ClosedScenario, backoff
from lunge_mp.worker.iteration import ScenarioRunner
from lunge_mp.worker.permits import PermitGate, PermittedTransport
from lunge_mp.worker.transport import HOP_PERMIT, Outcome, Prepared


class Instant:
    """Answers at once, without suspending (as an EMFILE on connect does), until `limit`
    sends; after that it sleeps a little, so a test of code that never yields still ends."""

    def __init__(self, outcome: Outcome, limit: int = 20_000, hops: int = 0) -> None:
        self.outcome, self.limit, self.hops = outcome, limit, hops
        self.sent = 0
        self.at: list[float] = []

    async def send(self, request: Prepared) -> Outcome:
        self.sent += 1
        self.at.append(time.monotonic())
        for _ in range(self.hops):          # redirect hops: as the transports do, a permit each
            permit = HOP_PERMIT.get()
            if permit is not None:
                await permit()
            self.sent += 1
            self.at.append(time.monotonic())
        if self.sent > self.limit:
            await asyncio.sleep(0.001)
        return self.outcome

    async def close(self) -> None:
        pass


def closed(transport, url: str = "http://h/", requests: int = 1, permits=None) -> ClosedScenario:
    scenario = ConstantVUs(name="s", vus=1, duration=10,
                            requests=tuple(RequestSpec(f"r{i}", "GET", url) for i in range(requests)))
    plan = Plan(name="p", scenarios=(scenario,))
    if permits is not None:                 # as the worker does
        transport = PermittedTransport(transport, permits)
    runner = ScenarioRunner(plan, scenario, transport, Recorder(), 1)
    return ClosedScenario(runner, lambda: None, permits)


async def _ticks_while(seconds: float) -> list[float]:
    """What a worker's heartbeat timer sees: the instants a 10 ms ticker actually ran."""
    seen = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seen.append(time.monotonic())
        await asyncio.sleep(0.01)
    return seen


def _max_gap(ticks: list[float]) -> float:
    return max(b - a for a, b in zip(ticks, ticks[1:]))


def test_generator_errors_back_off_and_never_starve_the_loop():
    failing = Instant(Outcome(duration_us=1, error_class="generator", error="OSError: [Errno 24]"))

    async def main():
        scenario = closed(failing)
        scenario.set_vus(50)
        ticks = await _ticks_while(0.5)
        scenario.interrupt()
        await asyncio.sleep(0)
        return scenario, ticks

    scenario, ticks = asyncio.run(main())
    assert _max_gap(ticks) < 0.1, _max_gap(ticks)           # the ticker kept running
    # 1, 2, 4, ... 256 ms (×0.5-1 jitter) in 0.5 s: about ten tries per VU, not thousands
    assert failing.sent <= 50 * 14, failing.sent
    _, counted, _ = scenario.runner.recorder.drain()
    assert counted[0].errors == {"generator": failing.sent}


def test_the_backoff_doubles_up_to_its_bound():
    pauses = [0.0]
    for _ in range(15):
        pauses.append(backoff(pauses[-1]))
    assert pauses[1] == 0.001 and pauses[2] == 0.002 and pauses[-1] == BACKOFF_MAX_S


def test_template_errors_yield_every_iteration():
    nothing_sent = Instant(Outcome(status=200, duration_us=1))

    async def main():
        scenario = closed(nothing_sent, url="http://h/{{never}}")
        scenario.set_vus(20)
        ticks = await _ticks_while(0.3)
        scenario.interrupt()
        await asyncio.sleep(0)
        return scenario, ticks

    scenario, ticks = asyncio.run(main())
    assert nothing_sent.sent == 0
    assert _max_gap(ticks) < 0.1, _max_gap(ticks)
    _, counted, _ = scenario.runner.recorder.drain()
    assert counted[0].errors["template"] > 20


def test_the_rate_bucket_holds_fast_vus_to_their_share():
    fast = Instant(Outcome(status=200, duration_us=1), limit=0)      # every send yields once

    async def main():
        gate = PermitGate(lease=False, ask=lambda used, want: None)
        scenario = closed(fast, requests=3, permits=gate.scenario(200.0))
        scenario.set_vus(20)
        await asyncio.sleep(0.5)
        scenario.interrupt()
        await asyncio.sleep(0)
        return gate

    gate = asyncio.run(main())
    # 200/s for 0.5 s: ≤ ⌈200·(0.5 s + 2 ms)⌉ = 101, a permit per request (3 per iteration)
    assert 60 <= fast.sent <= 101, fast.sent
    wait_s, waits = gate.stats()
    assert waits["maxRate"] > 0 and wait_s["maxRate"] > 0


def test_leased_permits_cover_every_request_and_redirect_hop():
    hops = Instant(Outcome(status=200, duration_us=1), limit=0, hops=2)   # 3 requests a send
    asked: list[tuple[int, int]] = []

    async def main():
        gate = PermitGate(lease=True, ask=lambda used, want: asked.append((used, want)))
        scenario = closed(hops, requests=2, permits=gate.scenario(0.0))
        scenario.set_vus(5)
        await asyncio.sleep(0.05)
        assert hops.sent == 0 and asked == [(0, 16)]       # no lease yet: VUs wait, none sends
        gate.granted(16, final=False)
        await asyncio.sleep(0.05)
        assert hops.sent == 16                              # every permit used, no more
        gate.granted(7, final=True)
        await asyncio.sleep(0.05)
        assert hops.sent == 23
        gate.close()                                        # the worker stops
        await asyncio.sleep(0.01)
        return scenario, gate

    scenario, gate = asyncio.run(main())
    assert not scenario.running                             # VUs waiting got PermitDenied
    _, counted, scns = scenario.runner.recorder.drain()
    assert sum(c.requests for c in counted) < 23           # a redirected request counts once
    assert scns[0].interrupted == 5
    assert asked[-1] == (23, 0)                             # the last permit's use was reported


def test_a_url_the_transport_cannot_use_yields_every_iteration():
    unusable = Instant(Outcome(duration_us=1, error_class="other", error="ValueError: bad URL"),
                       limit=200_000)          # spinning without a yield would starve the ticker for seconds

    async def main():
        scenario = closed(unusable)
        scenario.set_vus(20)
        ticks = await _ticks_while(0.3)
        scenario.interrupt()
        await asyncio.sleep(0)
        return ticks

    ticks = asyncio.run(main())
    assert _max_gap(ticks) < 0.1, _max_gap(ticks)
