"""The coordinator's run loop: the socket, the clock, the worker processes and signals around
the pure core (coordinator/core.py) — and always clean up.

    spawn workers → frames → core;  every 2 ms until Go, every TICK_S after: core.tick
    what the core returns → Send over the socket (a failed one back as send_failed), Log to
    the person watching, Merged reports to the Redis queue monitor
    every second: resource sample, guardrails (core.check), abortOnFail (on_second), live view
    core stopping → wait for Byes (or its deadline) → core.close → RunOutcome

Decisions (dealing, worker health, iteration moves, the lifecycle, stop) are the core's.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import signal
import time

import psutil
import zmq
import zmq.asyncio

from lunge_mp import oslimits
from lunge_mp.analysis import connection_waits
from lunge_mp.coordinator import prestart, queue_monitor
from lunge_mp.coordinator.control import RunControl
from lunge_mp.coordinator.core import RunCore, RunPhase
from lunge_mp.coordinator.health import exit_text
from lunge_mp.coordinator.outbox import Action, Log, Merged, Note, Reply, Send
from lunge_mp.coordinator.pool import WorkerPool
from lunge_mp.coordinator.resources import ResourceMonitor
from lunge_mp.outcome import RunOutcome
from lunge_mp.plan import Plan
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State

TICK_S = 0.05
HANDSHAKE_POLL_S = 0.002
STOPPING_POLL_S = 0.1
GC_EVERY_S = 10.0            # merged HDR histograms are cyclic garbage: collect it (memory stays flat)
RECEIVE_BATCH = 64          # frames taken off the socket at once, at most (`_receive`)


def _user_id(frame: zmq.Frame) -> str | None:
    """The fingerprint of the Curve key the frame's connection was authenticated with (the
    ZAP handler's User-Id: the key, z85), or None (ipc://: a local worker)."""
    try:
        return _fingerprint(frame.get("User-Id"))
    except zmq.ZMQError:
        return None


@functools.lru_cache(maxsize=1024)     # only authorized keys get this far: a few, hashed once each
def _fingerprint(z85_key: str) -> str:
    from lunge_mp.remote.keys import fingerprint

    return fingerprint(z85_key.encode())


def _box_memory_mb() -> float | None:
    try:
        return psutil.virtual_memory().total / 2**20
    except (OSError, RuntimeError):
        return None


class Coordinator:
    def __init__(self, plan: Plan, workers: int, on_tick=None, on_second=None, on_log=None,
                 control: RunControl | None = None, signals: bool = True) -> None:
        self.pool = prestart.take(workers) or WorkerPool(workers)   # started while the config was read
        self.core = RunCore(plan, workers, control=control, box_memory_mb=_box_memory_mb(),
                            **self.pool.core_options(plan))     # run --listen: remote_pool.py
        self.on_tick = on_tick       # live view callback(coordinator, t)
        self.on_second = on_second   # mid-run checks callback(coordinator, t) -> (reason, code) | None
        self.on_log = on_log         # a line for the person watching (guardrails, lost workers)
        self.control = control       # stop/pause/resume/scale from outside (coordinator/control.py)
        self.signals = signals       # SIGINT/SIGTERM stop (and with a control SIGUSR1/2 pause/resume)
        self.monitor = ResourceMonitor()
        self.conn_waits = connection_waits.LiveWatch(self.plan.settings.max_connections_per_host, workers)
        self._last_sample = float("-inf")                      # seconds after t0 of the last one
        self.saturated: list[tuple[str, str]] = []              # this second: (worker, cpu|lag)
        self.saturation: dict[tuple[str, str], list[int]] = {}  # every second it was seen
        self._stop_event = asyncio.Event()      # a stop was asked for: the running loop turns at once
        self._byes = asyncio.Event()            # stopping, and every worker said Bye or was lost
        self._pending: list[Action] = []         # decided outside `_do` (callbacks): carried out next
        for action in self.core.take():          # the plan's guardrail notes, shown now
            if isinstance(action, Log) and on_log is not None:
                on_log(action.text)
        # Redis queues the plan enqueues into: depth once a second into the buckets (or None)
        self.queue_monitor = queue_monitor.for_plan(self.worker_plan, self.core.aggregates, self.log,
                                                    self._on_guardrails)

    # --- what the live view, the API and the runner read ----------------------------------
    run_id = property(lambda self: self.core.run_id)
    plan = property(lambda self: self.core.plan)
    worker_plan = property(lambda self: self.core.worker_plan)
    aggregate = property(lambda self: self.core.aggregate)
    outcome = property(lambda self: self.core.outcome)
    lifecycle = property(lambda self: self.core.lifecycle)
    clocks = property(lambda self: self.core.clocks)
    info = property(lambda self: self.core.info)
    sessions = property(lambda self: self.core.sessions)

    def now(self) -> float:
        """Seconds since t0 (0 before it is set)."""
        return self.core.t(time.monotonic())

    def live_workers(self) -> list[int]:
        return self.core.live_workers()

    def warn(self, text: str) -> None:
        self.core.warn(text)

    def log(self, text: str) -> None:
        """A warning that the person watching should also see now."""
        self.core.warn(text)
        if self.on_log is not None:
            self.on_log(text)

    def request_stop(self, reason: str, code: int | None = None) -> None:
        self.core.request_stop(reason, code)
        self._stop_event.set()

    # --- carrying out the core's actions ----------------------------------------------------
    async def _do(self, actions: list[Action]) -> None:
        """Send, show and pass on what the core decided, in order; a failed send goes back to it."""
        if self._pending:
            actions, self._pending = self._pending + actions, []
        while actions:
            for action in actions:
                match action:
                    case Send(worker=w, msg=msg) if self.core.deliverable(action):
                        why = await self._send(w, msg)
                        if why is not None and not action.raw:
                            self._pending += self.core.send_failed(w, why, time.monotonic())
                    case Log(text=text) if self.on_log is not None:
                        self.on_log(text)
                    case Merged(report=report):
                        if self.queue_monitor is not None:
                            self.queue_monitor.on_report(report)
                        if self.control is not None:
                            self.control.reported(self)   # a second complete now reaches the stream now
                    case Reply(identity=identity, msg=msg):     # a refused remote peer
                        try:
                            await self.sock.send_multipart([identity, m.encode(msg)], flags=zmq.NOBLOCK)
                        except zmq.ZMQError:
                            pass
                    case Note(text=text):
                        self.pool.note(text)
            actions, self._pending = self._pending, []
        if self.core.stop_requested or self.core.hard_stop:
            self._stop_event.set()
        if self.core.phase is RunPhase.STOPPING and self.core.settled():
            self._byes.set()

    async def _send(self, worker: int, msg: m.Message) -> str | None:
        """Without ever blocking the run: why a worker cannot take it, or None."""
        try:
            await self.sock.send_multipart([self.core.identity(worker), m.encode(msg)], flags=zmq.NOBLOCK)
            return None
        except zmq.Again:
            return "its message queue is full (it stopped reading)"
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            code = self.pool.exit_code_soon(worker)    # usually: its process just died
            return "it disconnected" if code is None else exit_text(code)

    async def _tick(self) -> None:
        """Workers whose process ended, then the core's timer."""
        now = time.monotonic()
        for w in range(self.pool.count):
            code = self.pool.exited(w)
            if code is not None:
                await self._do(self.core.exited(w, code, now))
        await self._do(self.core.tick(now))

    def _on_guardrails(self, events) -> None:
        """From the queue monitor's task: acted on by the loop's next turn."""
        self._pending += self.core.guardrails(events)
        if self.core.stop_requested:
            self._stop_event.set()

    def _key_refused(self, text: str) -> None:
        """From the ZAP handler (an unknown Curve key): logged by the next turn of the loop."""
        self.core.health.refuse(text)
        self._pending += self.core.take()

    def _on_signal(self) -> None:
        self.core.signal()
        self._stop_event.set()

    # --- the run -------------------------------------------------------------------------
    async def run(self) -> RunOutcome:
        loop = asyncio.get_running_loop()
        soft, _ = oslimits.raise_nofile()         # before spawning: workers inherit it
        problem = oslimits.nofile_warning(self.worker_plan, self.pool.count, soft)
        if problem:
            self.log(problem)
        ctx = zmq.asyncio.Context()
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.sock.setsockopt(zmq.MAXMSGSIZE, 64 * 2**20)
        self.pool.bind(ctx, self.sock, self._key_refused)    # ipc://, or tcp:// with Curve (remote_pool.py)
        handlers = {signal.SIGINT: self._on_signal, signal.SIGTERM: self._on_signal,
                    **(self.control.signal_handlers() if self.control else {})} if self.signals else {}
        for sig, handler in handlers.items():
            loop.add_signal_handler(sig, handler)
        self.outcome.start_time = time.time()
        receiver = loop.create_task(self._receive())
        try:
            self.pool.spawn()
            self.core.spawned([self.pool.pid(w) for w in range(self.pool.count)])
            while self.core.phase is RunPhase.HANDSHAKE:
                await self._tick()
                if self.core.phase is RunPhase.HANDSHAKE:
                    await asyncio.sleep(HANDSHAKE_POLL_S)
            if self.core.phase is RunPhase.RUNNING:
                await self._drive()
                await self._finish()
            elif self.core.remote is not None and self.core.remote.dismiss(self.outcome.abort or "stopped"):
                await self._do(self.core.take())   # remote workers that joined learn why (admission.py)
                await asyncio.sleep(0.2)        # the socket closes without linger: let it go first
        finally:
            gc.unfreeze()
            receiver.cancel()
            for sig in handlers:
                loop.remove_signal_handler(sig)
            self.pool.unbind()
            self.sock.close(linger=0)
            ctx.term()
            self.pool.stop(grace_s=1.0)
            self.outcome.end_time = time.time()
            self.outcome.coordinator_cpu_s = time.process_time()   # whole process, start-up included
        return self.outcome

    async def _receive(self) -> None:
        """Every frame to the core. After one awaited frame, those already queued are taken
        without awaiting (a non-blocking receive on the socket's synchronous shadow, up to
        RECEIVE_BATCH): awaiting each costs a future and, for one that arrives alone, a wake of
        the loop (docs/PERFORMANCE.md, the merge at cluster scale)."""
        keyed = getattr(self.pool, "keys", None) is not None   # Curve: each frame says whose key sent it
        copy = not keyed   # keyed: zmq.Frames, whose User-Id binds a worker id to its sender (admission.py)
        shadow = zmq.Socket.shadow(self.sock.underlying)
        while True:
            batch = [await self.sock.recv_multipart(copy=copy)]
            try:
                while len(batch) < RECEIVE_BATCH:
                    batch.append(shadow.recv_multipart(zmq.NOBLOCK, copy=copy))
            except zmq.Again:
                pass
            for parts in batch:
                if keyed:
                    frames, key = [p.bytes for p in parts], _user_id(parts[-1])
                else:
                    frames, key = parts, None
                await self._do(self.core.frames(frames, time.monotonic(), key))

    async def _drive(self) -> None:
        """Core ticks until it stops; the per-second checks and the live view around them."""
        last_live = last_gc = 0.0
        gc.freeze()      # start-up objects never need scanning again: the periodic collection stays cheap
        if self.queue_monitor is not None:
            self.queue_monitor.start(self.core.t0_us * 1000)
        await asyncio.sleep(max(0.0, -self.now()))   # the first tick at t0: scenarios starting at 0 start then
        while True:
            t = self.now()
            if t - last_gc >= GC_EVERY_S:
                # every merged Report leaves HdrHistograms in reference cycles (histogram ↔ its
                # encoder); their counts arrays are big but invisible to the gc's thresholds, so
                # without this the coordinator grows ~1 MB/s at 1,000 it/s
                last_gc = t
                gc.collect()
            await self._tick()
            if self.core.phase is not RunPhase.RUNNING:
                return
            if self.control is not None:
                self.control.watch(self, t)
            if t - last_live >= 1.0:
                last_live = t
                self._sample_resources(t)
                await self._do(self.core.check(time.monotonic(),
                                               self.monitor.samples[-1] if self.monitor.samples else None))
                if self.on_second is not None:
                    verdict = self.on_second(self, t)
                    if verdict is not None:
                        self.request_stop(*verdict)
                note = self.conn_waits.check(self.aggregate.counters())
                if note is not None and self.on_log is not None:
                    self.on_log(note)          # results.json gets the final share (report/results.py)
                if self.on_tick is not None:
                    self.on_tick(self, t)
            try:
                await asyncio.wait_for(self._stop_event.wait(), TICK_S)
            except asyncio.TimeoutError:
                pass

    async def _finish(self) -> None:
        """The final Stop is out: final reports and Byes until the core's deadline."""
        while not self.core.finished(time.monotonic()):
            await self._tick()
            if self.now() - self._last_sample >= 1.0:   # the graceful stop's seconds get samples too
                self._sample_resources(self.now())
            if self.core.finished(time.monotonic()):
                break
            try:
                await asyncio.wait_for(self._byes.wait(), STOPPING_POLL_S)
            except asyncio.TimeoutError:
                pass
        samples = self.monitor.samples
        if not samples or samples[-1]["t"] < int(self.now()):   # the last (partial) second has one too
            self._sample_resources(self.now())
        self.outcome.resources = self.monitor.samples
        await self._do(self.core.close(time.monotonic(), self.saturation))
        if self.queue_monitor is not None:
            self.outcome.queue = await self.queue_monitor.stop()

    def _sample_resources(self, t: float) -> None:
        """One resource sample (coordinator, box, workers that have not said Bye: a finished
        worker's last heartbeat is no longer its state) and the saturated workers in it."""
        self._last_sample = t
        running = [info for info, s in zip(self.info, self.sessions) if s.state is not State.DONE]
        self.saturated = self.monitor.sample(t, running)
        for flag in self.saturated:
            self.saturation.setdefault(flag, []).append(int(t))
