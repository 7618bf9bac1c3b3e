"""Closed model on a worker: N looping VUs, N set by the coordinator (`SetVUs`).

Raising N starts VU loops; lowering it asks the newest VUs to stop after their current
iteration. Whatever still runs at the deadline is interrupted (and counted as such).

Iteration-based scenarios can be given more iterations mid-run (`add_iterations`: a lost
worker's remaining ones): shared-iterations adds them to this worker's share; per-vu-iterations
keeps them in `extra_left`, pulled by a VU once it has run its own N. VUs whose loops had
ended start again, and the scenario says done again once the added ones are run.

Parked (`park`, worker/parking.py: the coordinator has been silent too long): no VU starts
a new iteration; those in flight finish and are counted as usual, so every request sent is
reported. A parked VU waits at the top of its loop, keeping its iteration count (a
per-vu-iterations VU goes on with its own N once unparked); VUs told to stop meanwhile leave.
A parked VU's iterations not run are neither dropped nor interrupted: the closed model
schedules none ahead, so there is nothing to account for (RESULTS.md).

Guardrails (`permits`, worker/permits.py): each request, redirect hops included, waits for a
permit (maxRate, maxTotalRequests); a VU told at the worker's stop that none will come ends
its iteration there, counted as interrupted.

A VU never spins: an iteration whose request failed inside the load generator (out of file
descriptors or ports: class `generator`) is followed by a pause that doubles each time, from
`BACKOFF_MIN_S` up to `BACKOFF_MAX_S` (with jitter), until an iteration gets through; one that
failed before anything was sent (a template error, a host refused by allowedHosts) yields to the
event loop (so does any `other` failure, such as a URL the transport cannot use). Such failures
can return without ever suspending, and a loop of them would starve the worker's heartbeats
and Reports.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from lunge_mp.plan import Pacing
from lunge_mp.worker.iteration import VU, ScenarioRunner
from lunge_mp.worker.permits import PermitDenied, ScenarioPermits
from lunge_mp.worker.transport import HOP_PERMIT

BACKOFF_MIN_S = 0.001
BACKOFF_MAX_S = 1.0


def pause_after_iteration(pacing: Pacing) -> float:
    """Seconds a VU waits between iterations."""
    if pacing.type == "constant":
        return pacing.duration
    if pacing.type == "random":
        return random.uniform(pacing.min, pacing.max)
    return 0.0


def backoff(previous: float) -> float:
    """The next pause after a load-generator failure: doubled, within the bounds."""
    return min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, previous * 2))


class ClosedScenario:
    def __init__(self, runner: ScenarioRunner, on_done: Callable[[], None],
                 permits: ScenarioPermits | None = None) -> None:
        self.runner = runner
        # the runner's transports take a permit before each request (`PermittedTransport`,
        # put in place by the worker); the VUs' redirect hops take theirs through HOP_PERMIT
        if permits is not None and permits.bucket is None and permits.lease is None:
            permits = None              # no limit to hold it to
        self.permits = permits
        self.vus: list[VU] = []          # VUs asked to run (excludes ones told to stop)
        self.running: set[asyncio.Task] = set()
        self.iterations_per_vu = 0
        self.shared_left: int | None = None   # shared-iterations: this worker's share left
        self.extra_left = 0              # per-vu-iterations: added iterations left (any VU past its N)
        self.added = 0                   # iterations added by the coordinator so far
        self.ending = False
        self._on_done = on_done
        self._reported = False
        self.parked = False
        self._wake = asyncio.Event()     # set (and replaced) when parked VUs should look again

    @property
    def busy(self) -> int:
        return self.runner.active

    @property
    def allocated(self) -> int:
        """The VUs it runs (the `vus` gauge): none while parked, their share runs elsewhere."""
        return 0 if self.parked else len(self.running)

    @property
    def iteration_based(self) -> bool:
        return self.runner.scenario.iteration_based

    def set_vus(self, n: int, iterations_per_vu: int = 0, stop_within: float | None = None,
                iterations_total: int = 0) -> None:
        """Run `n` VUs. VUs removed finish their iteration; after `stop_within` s they are interrupted."""
        loop = asyncio.get_running_loop()
        self.iterations_per_vu = iterations_per_vu
        if self.iteration_based and self.runner.scenario.shares_iterations and self.shared_left is None:
            self.shared_left = iterations_total
        while len(self.vus) < n:
            vu = self.runner.new_vu()
            self.vus.append(vu)
            task = loop.create_task(self._loop(vu))
            vu.task = task
            self.running.add(task)
            task.add_done_callback(self._vu_ended)
        while len(self.vus) > n:
            vu = self.vus.pop()
            vu.stop_requested = True
            if stop_within is not None and vu.task is not None:
                loop.call_later(max(0.0, stop_within), vu.task.cancel)
        if self.parked:
            self._wake_all()            # parked VUs told to stop leave now
        self._maybe_done()

    def add_iterations(self, n: int) -> None:
        """Run `n` more iterations on this worker's VUs (restarting those that had finished)."""
        self.added += n                 # counted even if not run: ScenarioDone must cover it
        if n <= 0 or self.ending:
            return
        if self.iteration_based and self.runner.scenario.shares_iterations:
            self.shared_left = (self.shared_left or 0) + n
        else:
            self.extra_left += n
        loop = asyncio.get_running_loop()
        for vu in self.vus:
            if vu.task is None or vu.task.done():
                task = loop.create_task(self._loop(vu))
                vu.task = task
                self.running.add(task)
                task.add_done_callback(self._vu_ended)
        if self.running:
            self._reported = False      # done again once the added ones have run

    def end(self, stop_within: float) -> None:
        """The schedule is over: VUs finish their iteration within `stop_within` s."""
        self.ending = True
        self.set_vus(0, self.iterations_per_vu, stop_within)
        self._maybe_done()

    def _vu_ended(self, task: asyncio.Task) -> None:
        self.running.discard(task)
        self._maybe_done()

    def _maybe_done(self) -> None:
        """Report done once nothing runs and no more will: after `end`, or when an
        iteration-based scenario used up its iterations (a ramp to 0 VUs is not an end)."""
        if self.running or self._reported or not (self.ending or self.iteration_based):
            return
        self._reported = True
        self._on_done()

    def park(self) -> None:
        """No VU starts a new iteration until `unpark`; iterations in flight finish."""
        self.parked = True

    def unpark(self) -> None:
        self.parked = False
        self._wake_all()

    def _wake_all(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    async def _unparked(self, vu: VU) -> None:
        while self.parked and not vu.stop_requested:
            await self._wake.wait()

    def interrupt(self) -> None:
        for task in list(self.running):
            task.cancel()

    async def _loop(self, vu: VU) -> None:
        runner = self.runner
        iteration = runner.iteration
        pacing = runner.scenario.pacing
        paced = pacing.type in ("constant", "random")     # else the pause is always 0
        pause_s = 0.0                   # the backoff after load-generator failures
        if self.permits is not None:
            HOP_PERMIT.set(self.permits.take)      # this task's redirect hops take permits too
        try:
            while not vu.stop_requested:
                if self.parked:         # before taking an iteration: a parked VU claims none
                    await self._unparked(vu)
                    if vu.stop_requested:
                        break
                if self.iterations_per_vu and vu.iterations >= self.iterations_per_vu:
                    if self.extra_left <= 0:
                        break
                    self.extra_left -= 1
                elif self.shared_left is not None:
                    if self.shared_left <= 0:
                        break
                    self.shared_left -= 1
                local = await iteration(vu, vu.iterations, None)
                if local is not None:   # failed before reaching the target: never spin
                    if local == "generator":
                        pause_s = backoff(pause_s)
                        await asyncio.sleep(pause_s * random.uniform(0.5, 1.0))
                    else:
                        await asyncio.sleep(0)
                elif pause_s:
                    pause_s = 0.0
                if paced:
                    pause = pause_after_iteration(pacing)
                    if pause > 0 and not vu.stop_requested:
                        await asyncio.sleep(pause)
        except asyncio.CancelledError:
            if vu.in_iteration:
                runner.recorder.interrupted(runner.name)
            raise
        except PermitDenied:            # the worker stops while this VU waited for a permit
            if vu.in_iteration:
                runner.recorder.interrupted(runner.name)
        finally:
            runner.vu_ended(vu)
