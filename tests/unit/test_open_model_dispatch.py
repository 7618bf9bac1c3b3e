"""The open model's dispatcher lets the event loop turn while it is far behind."""

from __future__ import annotations

import asyncio
import time

from lunge_mp.worker import open_model
from lunge_mp.worker.open_model import OpenScenario


class _Recorder:
    def __init__(self) -> None:
        self.scheduled_n = 0
        self.dropped_n = 0

    def scheduled(self, name: str, n: int) -> None:
        self.scheduled_n += n

    def dropped(self, name: str, why: str) -> None:
        self.dropped_n += 1

    def interrupted(self, name: str) -> None:
        pass


class _Runner:
    """Runs each iteration as one loop step; remembers when each one ran."""

    name = "s"

    def __init__(self) -> None:
        self.recorder = _Recorder()
        self.done: list[int] = []

    def new_vu(self) -> object:
        return object()

    async def iteration(self, vu, index: int, instant: int) -> None:
        self.done.append(index)

    def vu_ended(self, vu) -> None:
        pass


def test_thousands_due_at_once_are_handed_out_in_turns_so_a_timer_runs_between():
    runner = _Runner()
    due_n = 5 * open_model.PER_WAKE

    async def main() -> tuple[int, int]:
        t0 = time.monotonic_ns() - 200_000_000          # every arrival 0.1-0.2 s late: due, not dropped
        scenario = OpenScenario(runner, t0, pre_allocated=due_n, max_vus=due_n)
        scenario.start()
        scenario.assign(0, [i * (100_000 // due_n) for i in range(due_n)])
        seen_by_timer = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(lambda: seen_by_timer.set_result(
            runner.recorder.scheduled_n))        # a heartbeat's turn, asked for after the assign
        while len(runner.done) < due_n:
            await asyncio.sleep(0.001)
        return await seen_by_timer, runner.recorder.scheduled_n

    at_timer, total = asyncio.run(main())
    assert total == due_n and runner.recorder.dropped_n == 0
    assert 0 < at_timer < due_n, f"the timer waited for {at_timer} of {due_n} arrivals"
    assert sorted(runner.done) == list(range(due_n))
