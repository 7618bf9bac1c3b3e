"""Open model on a worker: start each assigned arrival at its instant on a free VU.

The coordinator sends arrival instants ahead of time. One dispatcher task per scenario
sleeps until the next instant, then starts every due arrival: on a free VU, on a new VU
while below this worker's share of maxVUs, or else it counts a dropped iteration
(`no_vu`). An arrival found more than `BEHIND_S` late is dropped as `behind`: the worker
cannot keep up and starting it would only pile more load on a late schedule.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from lunge_mp.worker.iteration import VU, ScenarioRunner

BEHIND_S = 1.0


class OpenScenario:
    def __init__(self, runner: ScenarioRunner, t0_ns: int, pre_allocated: int, max_vus: int) -> None:
        self.runner = runner
        self.t0_ns = t0_ns
        self.max_vus = max_vus
        self.free: list[VU] = [runner.new_vu() for _ in range(min(pre_allocated, max_vus))]
        self.vus = len(self.free)
        self.pending: deque[tuple[int, int]] = deque()   # (instant ns, global index)
        self.running: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._stopped = False
        self._ending = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._dispatch())

    def assign(self, first_index: int, offsets_us: list[int], stride: int = 1) -> None:
        t0 = self.t0_ns
        self.pending.extend((t0 + off * 1000, first_index + i * stride) for i, off in enumerate(offsets_us))
        self._wake.set()

    @property
    def busy(self) -> int:
        return len(self.running)

    async def _dispatch(self) -> None:
        rec = self.runner.recorder
        name = self.runner.name
        loop = asyncio.get_running_loop()
        pending = self.pending
        behind_ns = int(BEHIND_S * 1e9)
        while not self._stopped:
            if not pending:
                if self._ending:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            now = time.monotonic_ns()
            due = pending[0][0]
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                continue
            started = 0
            while pending and pending[0][0] <= now:
                instant, index = pending.popleft()
                started += 1
                if now - instant > behind_ns:
                    rec.dropped(name, "behind")
                    continue
                if self.free:
                    vu = self.free.pop()
                elif self.vus < self.max_vus:
                    vu = self.runner.new_vu()
                    self.vus += 1
                else:
                    rec.dropped(name, "no_vu")
                    continue
                task = loop.create_task(self._run(vu, index, instant))
                self.running.add(task)
                task.add_done_callback(self.running.discard)
            rec.scheduled(name, started)

    async def _run(self, vu: VU, index: int, instant: int) -> None:
        try:
            await self.runner.iteration(vu, index, instant)
        except asyncio.CancelledError:
            self.runner.recorder.interrupted(self.runner.name)
            raise
        self.free.append(vu)

    async def end(self, deadline_ns: int) -> None:
        """The schedule is over: start what is assigned (all of it is due before the end),
        let running iterations finish until the deadline, interrupt the rest."""
        self._ending = True
        self._wake.set()
        while (self.pending or self.running) and time.monotonic_ns() < deadline_ns:
            await asyncio.sleep(0.01)
        if self.pending:
            self.stop_starting(time.monotonic_ns())
        self.interrupt()
        while self.running:
            await asyncio.sleep(0)

    def stop_starting(self, now_ns: int) -> None:
        """Start nothing more. Arrivals already due are dropped as `behind`; later ones were never due."""
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
        late = sum(1 for instant, _ in self.pending if instant <= now_ns)
        for _ in range(late):
            self.runner.recorder.dropped(self.runner.name, "behind")
        if late:
            self.runner.recorder.scheduled(self.runner.name, late)
        self.pending.clear()

    def interrupt(self) -> None:
        for task in list(self.running):
            task.cancel()
