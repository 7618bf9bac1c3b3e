"""The worker's open-model dispatcher under a pause (worker/open_model.py hold/release): held
arrivals start nothing until released, then go at their instants shifted; a stop meanwhile
counts them as never due (not behind)."""

from __future__ import annotations

import asyncio
import time

from lunge_mp.worker.open_model import OpenScenario
from tests.support import until
from tests.unit.test_open_model_dispatch import _Runner

MS = 1_000_000


class _TimedRunner(_Runner):
    """Remembers each iteration's instant and when it really started."""

    def __init__(self) -> None:
        super().__init__()
        self.started: dict[int, tuple[int, int]] = {}

    async def iteration(self, vu, index: int, instant: int) -> None:
        self.started[index] = (instant, time.monotonic_ns())
        self.done.append(index)


def test_held_arrivals_wait_for_the_release_and_go_shifted_in_order():
    runner = _TimedRunner()

    async def main():
        t0 = time.monotonic_ns() + 50 * MS
        scenario = OpenScenario(runner, t0, pre_allocated=4, max_vus=4)
        scenario.start()
        scenario.assign(0, [i * 20_000 for i in range(20)])      # every 20 ms for 0.4 s
        scenario.hold(t0 + 100 * MS)                            # paused from 100 ms on
        while time.monotonic_ns() < t0 + 300 * MS:
            await asyncio.sleep(0.01)
        during = sorted(runner.done)
        assert scenario.held == 15
        scenario.release(250 * MS)                              # resumed: 250 ms later
        await until(lambda: len(runner.done) >= 20, timeout=5, what="the held arrivals to run")
        return during

    during = asyncio.run(main())
    assert during == [0, 1, 2, 3, 4]                  # only instants before the hold
    assert runner.recorder.scheduled_n == 20 and runner.recorder.dropped_n == 0
    instants = [runner.started[i][0] for i in range(20)]
    assert all(b - a == 20 * MS for a, b in zip(instants[:5], instants[1:5]))
    assert instants[5] - instants[4] == 20 * MS + 250 * MS   # one gap, the pause
    assert all(b - a == 20 * MS for a, b in zip(instants[5:], instants[6:]))
    assert all(real >= instant for instant, real in runner.started.values())   # none early


def test_a_stop_while_held_counts_the_held_arrivals_as_never_due():
    runner = _TimedRunner()

    async def main():
        t0 = time.monotonic_ns() - 500 * MS                     # half of them already due
        scenario = OpenScenario(runner, t0, pre_allocated=4, max_vus=4)
        scenario.hold(t0 + 200 * MS)                            # held before they could start
        scenario.start()
        scenario.assign(0, [i * 100_000 for i in range(10)])    # 0 .. 0.9 s, every 100 ms
        await until(lambda: len(runner.done) >= 2, timeout=5, every=0.001, what="0 and 1 to run")
        assert sorted(runner.done) == [0, 1]
        scenario.stop_starting(time.monotonic_ns())             # 2..5 due by now, but held

    asyncio.run(main())
    assert runner.recorder.scheduled_n == 2 and runner.recorder.dropped_n == 0
