"""Closed model on a worker: N looping VUs, N set by the coordinator (`SetVUs`).

Raising N starts VU loops; lowering it asks the newest VUs to stop after their current
iteration. Whatever still runs at the deadline is interrupted (and counted as such).
"""

from __future__ import annotations

import asyncio
import random

from lunge_mp.plan import Pacing
from lunge_mp.worker.iteration import VU, ScenarioRunner


def pause_after_iteration(pacing: Pacing) -> float:
    """Seconds a VU waits between iterations."""
    if pacing.type == "constant":
        return pacing.duration
    if pacing.type == "random":
        return random.uniform(pacing.min, pacing.max)
    return 0.0


class ClosedScenario:
    def __init__(self, runner: ScenarioRunner) -> None:
        self.runner = runner
        self.vus: list[VU] = []          # VUs asked to run (excludes ones told to stop)
        self.running: set[asyncio.Task] = set()
        self.iterations_per_vu = 0

    @property
    def busy(self) -> int:
        return self.runner.active

    @property
    def allocated(self) -> int:
        return len(self.running)

    def set_vus(self, n: int, iterations_per_vu: int = 0, stop_within: float | None = None) -> None:
        """Run `n` VUs. VUs removed finish their iteration; after `stop_within` s they are interrupted."""
        loop = asyncio.get_running_loop()
        self.iterations_per_vu = iterations_per_vu
        while len(self.vus) < n:
            vu = self.runner.new_vu()
            self.vus.append(vu)
            task = loop.create_task(self._loop(vu))
            vu.task = task
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        while len(self.vus) > n:
            vu = self.vus.pop()
            vu.stop_requested = True
            if stop_within is not None and vu.task is not None:
                loop.call_later(max(0.0, stop_within), vu.task.cancel)

    def interrupt(self) -> None:
        for task in list(self.running):
            task.cancel()

    async def _loop(self, vu: VU) -> None:
        runner = self.runner
        pacing = runner.scenario.pacing
        try:
            while not vu.stop_requested:
                if self.iterations_per_vu and vu.iterations >= self.iterations_per_vu:
                    break
                await runner.iteration(vu, vu.iterations, None)
                pause = pause_after_iteration(pacing)
                if pause > 0 and not vu.stop_requested:
                    await asyncio.sleep(pause)
        except asyncio.CancelledError:
            if vu.in_iteration:
                runner.recorder.interrupted(runner.name)
            raise
