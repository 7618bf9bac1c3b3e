"""Open model on a worker: start each assigned arrival at its instant on a free VU.

The coordinator sends arrival instants ahead of time. One dispatcher per scenario wakes at
the next instant and starts every arrival that is due: on a free VU, on a new VU while below
this worker's share of maxVUs, or else it counts a dropped iteration (`no_vu`). An arrival
found more than `BEHIND_S` late is dropped as `behind`: the worker cannot keep up and
starting it would only pile more load on a late schedule. One wake hands out at most
`PER_WAKE` arrivals and lets the loop turn before the next: a worker far behind (thousands
due at once, each a new VU and connection) would otherwise hold its loop for seconds, and its
heartbeats and reports with it, until the coordinator took it for lost.

A pause (`hold`, the coordinator's Hold) is a barrier on the instants: arrivals at or after
it stay in `pending`, unstarted, neither due nor dropped; `release` moves them later by the
paused time and they go on. A stop meanwhile counts them as never due, as any arrival whose
instant had not come.

How it is built, for a cheap hot path (docs/PERFORMANCE.md has the measurements):

* The dispatcher is a timer callback (`loop.call_later`), not a task that sleeps: no future,
  no task step per wake. The event loop's timers tick in whole milliseconds (uvloop rounds a
  delay to the nearest ms, so a 0.4 ms sleep returns at once), so the dispatcher asks for the
  delay to the next instant rounded *up* to whole ms. It never starts an arrival early; it
  starts it up to ~1 ms late (the schedule lag, which is measured and reported), and one
  wake starts every arrival due by then. Sleeping sub-millisecond delays instead makes the
  loop spin until the instant: that cost ~300 µs of CPU per arrival at 1,000/s.
* A VU is a long-lived task that waits for its next arrival on a future; the dispatcher hands
  an arrival to a free VU by resolving that future. That is ~1 µs cheaper per iteration than
  creating a task per iteration (measured on uvloop: 1.2 against 2.2 µs of loop overhead).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from lunge_mp.worker.iteration import VU, ScenarioRunner

BEHIND_S = 1.0
PER_WAKE = 512         # arrivals one wake hands out before the loop turns (heartbeats, replies)
_NO_HOLD = 1 << 62     # no pause: every instant may start
_monotonic_ns = time.monotonic_ns


class _Slot:
    """One VU of the scenario and the task that runs its iterations."""

    __slots__ = ("vu", "task", "fut", "job")

    def __init__(self, vu: VU) -> None:
        self.vu = vu
        self.task: asyncio.Task | None = None
        self.fut: asyncio.Future | None = None    # resolved with (index, instant) by the dispatcher
        self.job = False                          # an arrival was handed to it and is not done


class OpenScenario:
    def __init__(self, runner: ScenarioRunner, t0_ns: int, pre_allocated: int, max_vus: int) -> None:
        self.runner = runner
        self.t0_ns = t0_ns
        self.max_vus = max_vus
        self._pre = min(pre_allocated, max_vus)
        self.vus = 0                                   # VUs allocated (gauge)
        self.free: list[_Slot] = []                    # idle VUs, each waiting on its future
        self.slots: list[_Slot] = []                   # every VU (to cancel idle ones at the end)
        self.pending: deque[tuple[int, int]] = deque()   # (instant ns, global index)
        self.running: set[_Slot] = set()               # VUs inside an iteration
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False
        self._ending = False
        self._hold_ns = _NO_HOLD                       # paused: start no arrival at or after this

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for _ in range(self._pre):
            self._new_slot(None)
        self._arm()

    def assign(self, first_index: int, offsets_us: list[int], stride: int = 1) -> None:
        t0 = self.t0_ns
        pending = self.pending
        if pending and offsets_us and t0 + offsets_us[0] * 1000 < pending[-1][0]:
            # earlier than what is queued (a lost worker's arrivals dealt again): merge in order
            # and wake for the earliest (rare: the common Assign comes after everything queued)
            merged = sorted([*pending, *((t0 + off * 1000, first_index + i * stride)
                                         for i, off in enumerate(offsets_us))])
            pending.clear()
            pending.extend(merged)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        else:
            pending.extend((t0 + off * 1000, first_index + i * stride) for i, off in enumerate(offsets_us))
        if self._timer is None and self._loop is not None:
            self._arm()

    @property
    def busy(self) -> int:
        return len(self.running)

    @property
    def held(self) -> int:
        """Arrivals kept back by a pause (a suffix of `pending`: it is in instant order)."""
        hold = self._hold_ns
        return sum(1 for instant, _ in self.pending if instant >= hold) if hold != _NO_HOLD else 0

    def hold(self, at_ns: int) -> None:
        """Paused from `at_ns`: arrivals at or after it stay pending until `release`."""
        self._hold_ns = at_ns
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._loop is not None:
            self._arm()

    def release(self, shift_ns: int) -> None:
        """The pause is over: the held arrivals go `shift_ns` later than they were to."""
        hold, self._hold_ns = self._hold_ns, _NO_HOLD
        if hold == _NO_HOLD:
            return
        pending = self.pending
        if shift_ns and pending and pending[-1][0] >= hold:
            shifted = [(instant + shift_ns if instant >= hold else instant, index) for instant, index in pending]
            pending.clear()
            pending.extend(shifted)
        if self._timer is None and self._loop is not None:
            self._arm()

    # ---- dispatcher ----------------------------------------------------------------------

    def _arm(self) -> None:
        """Wake at the next pending instant (rounded up to the loop's millisecond tick)."""
        if self._stopped or not self.pending or self.pending[0][0] >= self._hold_ns:
            return
        delay_ns = self.pending[0][0] - _monotonic_ns()
        if delay_ns <= 0:
            self._timer = self._loop.call_soon(self._wake)
        else:
            self._timer = self._loop.call_later(-(-delay_ns // 1_000_000) / 1000, self._wake)

    def _wake(self) -> None:
        self._timer = None
        if self._stopped:
            return
        pending = self.pending
        clock = _monotonic_ns()
        now = min(clock, self._hold_ns - 1)     # paused: what is held is not due
        if pending and pending[0][0] <= now:
            rec = self.runner.recorder
            name = self.runner.name
            behind = clock - int(BEHIND_S * 1e9)
            free = self.free
            running = self.running
            started = 0
            while pending and pending[0][0] <= now and started < PER_WAKE:
                instant, index = pending.popleft()
                started += 1
                if instant < behind:
                    rec.dropped(name, "behind")
                    continue
                if free:
                    slot = free.pop()
                    slot.job = True
                    running.add(slot)
                    slot.fut.set_result((index, instant))
                elif self.vus < self.max_vus:
                    self._new_slot((index, instant))
                else:
                    rec.dropped(name, "no_vu")
            rec.scheduled(name, started)
        self._arm()     # more due (PER_WAKE reached): call_soon, after the loop's other ready work

    def _new_slot(self, job: tuple[int, int] | None) -> None:
        slot = _Slot(self.runner.new_vu())
        self.vus += 1
        self.slots.append(slot)
        if job is not None:
            slot.job = True
            self.running.add(slot)
        slot.task = self._loop.create_task(self._vu_loop(slot, job))

    async def _vu_loop(self, slot: _Slot, job: tuple[int, int] | None) -> None:
        """Run the arrivals handed to this VU, one at a time, until cancelled."""
        loop = self._loop
        runner = self.runner
        iteration = runner.iteration
        vu = slot.vu
        free = self.free
        running = self.running
        try:
            while True:
                if job is None:
                    fut = slot.fut = loop.create_future()
                    free.append(slot)
                    job = await fut
                await iteration(vu, job[0], job[1])
                job = None
                slot.job = False
                running.discard(slot)
        except asyncio.CancelledError:
            if slot.job:
                slot.job = False
                running.discard(slot)
                runner.recorder.interrupted(runner.name)
            raise
        finally:
            runner.vu_ended(vu)

    # ---- end and stop --------------------------------------------------------------------

    async def end(self, deadline_ns: int) -> None:
        """The schedule is over: start what is assigned (all of it is due before the end),
        let running iterations finish until the deadline, interrupt the rest."""
        self._ending = True
        while (len(self.pending) > self.held or self.running) and _monotonic_ns() < deadline_ns:
            await asyncio.sleep(0.01)
        if self.pending:
            self.stop_starting(_monotonic_ns())
        self.interrupt()
        while self.running:
            await asyncio.sleep(0)

    def stop_starting(self, now_ns: int) -> None:
        """Start nothing more. Arrivals already due are dropped as `behind`; later ones, and
        those held by a pause, were never due."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due_by = min(now_ns, self._hold_ns - 1)
        late = sum(1 for instant, _ in self.pending if instant <= due_by)
        for _ in range(late):
            self.runner.recorder.dropped(self.runner.name, "behind")
        if late:
            self.runner.recorder.scheduled(self.runner.name, late)
        self.pending.clear()

    def interrupt(self) -> None:
        """Cancel every VU task; the iterations started and not finished count as interrupted
        (counted here: a task cancelled before its first step never runs its handler)."""
        n = 0
        for slot in self.running:
            slot.job = False
            n += 1
        self.running.clear()
        if n:
            self.runner.recorder.interrupted(self.runner.name, n)
        for slot in self.slots:
            if slot.task is not None and not slot.task.done():
                slot.task.cancel()
        self.free.clear()
