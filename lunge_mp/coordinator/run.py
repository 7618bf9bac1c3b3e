"""The coordinator's run loop: handshake, schedule, merge, stop — and always clean up.

    spawn workers → Hello/Start/Ready from all → Go(t0)
    every TICK: open scenarios' arrivals for the next LOOKAHEAD → Assign (round robin over
                live workers); closed scenarios' VU targets → SetVUs on change
    Reports → Aggregate;  Heartbeats → worker health;  lost workers → load moves on
    every second: guardrails (coordinator/guarding.py) → a breach stops the run (exit 111)
    end of schedule (or a stop) → Stop(deadline) → final Reports and Bye → RunOutcome

Dealing the load to workers (Assign, SetVUs, EndScenario): coordinator/dealing.py.
Worker health (lost workers, stalled and resumed ones) and bad peers: coordinator/health.py.
"""

from __future__ import annotations

import asyncio
import gc
import re
import signal
import time
import uuid

import msgspec
import zmq
import zmq.asyncio

from lunge_mp.analysis import connection_waits
from lunge_mp.analysis.guardrails import Event
from lunge_mp import oslimits
from lunge_mp.coordinator import prestart, queue_monitor
from lunge_mp.coordinator.arrival_ledger import ArrivalLedger
from lunge_mp.coordinator.control import RunControl
from lunge_mp.coordinator.guarding import RunGuard
from lunge_mp.coordinator.dealing import LoadDealer
from lunge_mp.coordinator.health import WorkerHealth, exit_text
from lunge_mp.coordinator.lifecycle import Lifecycle
from lunge_mp.coordinator.pool import WorkerPool
from lunge_mp.coordinator.resources import ResourceMonitor
from lunge_mp.exit_codes import ExitCode
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.outcome import RunOutcome, WorkerInfo
from lunge_mp.plan import Plan
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import ProtocolError, State, WorkerSession
from lunge_mp.report.redis_metrics import redis_request_keys
from lunge_mp.schedule import timeline, warmup
from lunge_mp.schedule.random_arrivals import clock_for
from lunge_mp.schedule.scenario_rate import rate_fn

TICK_S = 0.05
GC_EVERY_S = 10.0            # merged HDR histograms are cyclic garbage: collect it (memory stays flat)
# between Go and t0, so every worker has Go before t0: twice the slowest Start→Ready round trip
# of the handshake (a message each way plus the worker's own set-up), within these bounds
START_DELAY_S = 0.3
MIN_START_DELAY_S = 0.02
HANDSHAKE_TIMEOUT_S = 20.0
_IDENTITY = re.compile(rb"w(\d{1,6})")


def _r(t: float | None) -> float | None:
    return None if t is None else round(t, 3)


class Coordinator(WorkerHealth, LoadDealer):
    def __init__(self, plan: Plan, workers: int, on_tick=None, on_second=None, on_log=None,
                 control: RunControl | None = None, signals: bool = True) -> None:
        self.run_id = uuid.uuid4().hex[:12]
        self.pool = prestart.take(workers) or WorkerPool(workers)   # started while the config was read
        self.sessions = [WorkerSession(i, self.run_id) for i in range(workers)]
        self.info = [WorkerInfo(i) for i in range(workers)]
        self.aggregate = Aggregate(run_id=self.run_id)
        # guardrail caps go into the plans: the schedule, live view and results all see them
        self.guard = RunGuard(plan, warmup.with_warmup(plan), warmup.offset(plan))
        self.plan = plan = self.guard.plan
        self.guard.live_workers = self.live_workers    # maxTotalRequests leases: who holds them
        self.worker_plan = self.guard.worker_plan     # what workers run: warmups + the test
        self.warm_aggregate = Aggregate(run_id=self.run_id) if plan.options.warmup else None
        self.warm_names = warmup.names(self.worker_plan)   # their deltas go to warm_aggregate
        for agg in self._aggregates():      # which requests are Redis commands (redis_* metrics)
            agg.redis_requests = redis_request_keys(self.worker_plan)
        self.lifecycle = Lifecycle(plan, warmup.scenarios(plan), warmup.offset(plan))
        self.outcome = RunOutcome(plan, self.run_id, self.aggregate, self.info,
                                  planned_s=self.lifecycle.planned_length(),
                                  warmup=self.warm_aggregate, measured_from=warmup.offset(plan))
        self.on_tick = on_tick       # live view callback(coordinator, t)
        self.on_second = on_second   # mid-run checks callback(coordinator, t) -> (reason, code) | None
        self.on_log = on_log         # a line for the person watching (guardrails, lost workers)
        self.control = control       # stop/pause/resume/scale from outside (coordinator/control.py)
        self.signals = signals       # SIGINT/SIGTERM stop (and with a control SIGUSR1/2 pause/resume)
        self.t0_ns = 0
        self.stop_requested: str | None = None
        self.hard_stop = False
        self.outcome.arrival_processes = timeline.arrival_processes(self.worker_plan, self.run_id)
        self.clocks = {s.name: clock_for(rate_fn(s), **self.outcome.arrival_processes[s.name])
                       for s in self.worker_plan.scenarios if s.is_open}
        for note in self.guard.start_notes(self.outcome.planned_s, self.clocks):
            self.log(note)
        self.rr_next = {name: 0 for name in self.clocks}
        self.ledger = ArrivalLedger(self.clocks)     # where each open-model arrival went
        self._redeal: list = []                      # (lost worker, parts) to deal again next tick
        self.vus_sent: dict[str, list[int]] = {}
        self.monitor = ResourceMonitor()
        self.conn_waits = connection_waits.LiveWatch(plan.settings.max_connections_per_host, workers)
        self._last_sample = float("-inf")                      # seconds after t0 of the last one
        self.saturated: list[tuple[str, str]] = []              # this second: (worker, cpu|lag)
        self.saturation: dict[tuple[str, str], list[int]] = {}  # every second it was seen
        self._byes = asyncio.Event()
        self._last_heartbeat = 0.0
        self._stop_event = asyncio.Event()
        self._refusals: dict[str, int] = {}          # refusal text → how many times
        self._after_loss: dict[int, int] = {}        # lost worker → messages it sent since
        self._final_stop: m.Stop | None = None       # the Stop sent at the end (for a worker that rejoins)
        self._ends_sent: dict[str, set[int]] = {}    # scenario → workers sent its EndScenario
        self._started_on: dict[str, set[int]] = {}   # iteration-based scenario → workers given a share
        # iteration-based scenarios (health.py `_move_iterations`): each worker's share of the
        # iterations, how many its accepted reports account for (completed + interrupted), its VUs,
        # the iterations AddIterations gave it, and AddIterations still to send
        self._iter_share: dict[str, dict[int, int]] = {}
        self._iter_counted: dict[tuple[str, int], int] = {}
        self._iter_vus: dict[str, list[int]] = {}
        self._added: dict[tuple[str, int], int] = {}
        self._pending_adds: list[tuple[int, str, int]] = []
        # Redis queues the plan enqueues into: depth once a second into the buckets (or None)
        self.queue_monitor = queue_monitor.for_plan(self.worker_plan, self._aggregates, self.log,
                                                    self._on_guardrails)

    # --- helpers -------------------------------------------------------------------------
    def now(self) -> float:
        """Seconds since t0 (negative before it)."""
        return (time.monotonic_ns() - self.t0_ns) / 1e9

    def paused_s(self, t: float) -> float:
        """Seconds paused up to `t`: maxDuration counts only the time the run was not paused."""
        return self.control.paused_at(t) if self.control is not None else 0.0

    def live_workers(self) -> list[int]:
        return [s.worker for s in self.sessions if s.state in (State.RUNNING, State.READY)]

    async def send(self, worker: int, msg: m.Message) -> bool:
        """Send without ever blocking the run: a worker that cannot take it is lost."""
        self.sessions[worker].sent(msg)
        return await self._send_raw(worker, msg)

    async def _send_raw(self, worker: int, msg: m.Message) -> bool:
        try:
            await self.sock.send_multipart([f"w{worker}".encode(), m.encode(msg)], flags=zmq.NOBLOCK)
            return True
        except zmq.Again:
            self._lose(worker, "its message queue is full (it stopped reading)")
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            code = self.pool.exit_code_soon(worker)    # usually: its process just died
            self._lose(worker, "it disconnected" if code is None else exit_text(code))
        return False

    async def _heartbeat(self, states: tuple[State, ...]) -> None:
        """Every second, so workers know the coordinator lives (they leave after 5 s of silence)."""
        now = time.monotonic()
        if now - self._last_heartbeat < 1.0:
            return
        self._last_heartbeat = now
        for s in self.sessions:
            if s.state in states:
                await self.send(s.worker, m.Heartbeat())

    def warn(self, text: str) -> None:
        if text not in self.outcome.warnings:
            self.outcome.warnings.append(text)

    def log(self, text: str) -> None:
        """A warning that the person watching should also see now."""
        self.warn(text)
        if self.on_log is not None:
            self.on_log(text)

    def request_stop(self, reason: str, code: int | None = None) -> None:
        """First reason wins: a later one never overwrites the exit code."""
        if self.outcome.abort is None:
            self.outcome.abort = reason
            self.outcome.abort_code = code
        self.stop_requested = self.stop_requested or reason
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
        self.sock.bind(self.pool.endpoint)
        handlers = {signal.SIGINT: self._on_signal, signal.SIGTERM: self._on_signal,
                    **(self.control.signal_handlers() if self.control else {})} if self.signals else {}
        for sig, handler in handlers.items():
            loop.add_signal_handler(sig, handler)
        self.outcome.start_time = time.time()
        receiver = loop.create_task(self._receive())
        try:
            self.pool.spawn()
            if await self._handshake():
                await self._drive()
                await self._finish()
        finally:
            gc.unfreeze()
            receiver.cancel()
            for sig in handlers:
                loop.remove_signal_handler(sig)
            self.sock.close(linger=0)
            ctx.term()
            self.pool.stop(grace_s=1.0)
            self.outcome.end_time = time.time()
            self.outcome.coordinator_cpu_s = time.process_time()   # whole process, start-up included
        return self.outcome

    def _on_signal(self) -> None:
        if self.stop_requested is None:
            self.request_stop("stopped by a signal", ExitCode.STOPPED)
        else:
            self.hard_stop = True
            self._stop_event.set()

    async def _handshake(self) -> bool:
        """Hello from all, Start to all, Ready from all; then Go with t0 a moment ahead."""
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT_S
        pre, mx = timeline.vu_shares(self.worker_plan, self.pool.count)
        started: dict[int, float] = {}      # worker → when Start went out
        round_trip = 0.0                    # the slowest Start → Ready
        while time.monotonic() < deadline and not self.stop_requested:
            for s in self.sessions:
                if s.state == State.READY and s.worker in started:
                    round_trip = max(round_trip, time.monotonic() - started.pop(s.worker))
                if s.state == State.GREETED and s.worker not in started:
                    started[s.worker] = time.monotonic()
                    await self.send(s.worker, m.Start(
                        run_id=self.run_id, plan=self.worker_plan, worker=s.worker, workers=self.pool.count,
                        max_vus={k: v[s.worker] for k, v in mx.items()},
                        pre_allocated_vus={k: v[s.worker] for k, v in pre.items()},
                        **self.guard.start_fields(self.pool.count)))
            if all(s.state == State.READY for s in self.sessions) and not started:
                break
            await self._heartbeat((State.GREETED, State.STARTED, State.READY))
            for i in range(self.pool.count):
                code = self.pool.exited(i)
                if code is not None:
                    self.request_stop(f"worker {i} {exit_text(code)} before the run started", 1)
                    return False
                if self.sessions[i].state == State.LOST:
                    self.request_stop(f"worker {i} was lost before the run started: {self.info[i].error}", 1)
                    return False
            await asyncio.sleep(0.002)
        if self.stop_requested:
            return False
        if not all(s.state == State.READY for s in self.sessions):
            self.request_stop(f"workers did not become ready within {HANDSHAKE_TIMEOUT_S:.0f}s", 1)
            return False
        delay = min(START_DELAY_S, max(MIN_START_DELAY_S, 2 * round_trip))
        self.t0_ns = time.monotonic_ns() + int(delay * 1e9)
        for s in self.sessions:
            s_info = self.info[s.worker]
            s_info.pid, s_info.last_heard = s.pid, time.monotonic()
            await self.send(s.worker, m.Go(t0_us=self.t0_ns // 1000))
        return True

    async def _drive(self) -> None:
        """Until every scenario has ended or a stop: start and end scenarios, hand out
        arrivals and VU targets every tick."""
        last_live = last_gc = 0.0
        gc.freeze()      # start-up objects never need scanning again: the periodic collection stays cheap
        if self.queue_monitor is not None:
            self.queue_monitor.start(self.t0_ns)
        await asyncio.sleep(max(0.0, -self.now()))   # the first tick at t0: scenarios starting at 0 start then
        while not self.stop_requested and not self.lifecycle.all_ended:
            t = self.now()
            if t - last_gc >= GC_EVERY_S:
                # every merged Report leaves HdrHistograms in reference cycles (histogram ↔ its
                # encoder); their counts arrays are big but invisible to the gc's thresholds, so
                # without this the coordinator grows ~1 MB/s at 1,000 it/s
                last_gc = t
                gc.collect()
            paused = self.control is not None and await self.control.tick(self, t)
            if not paused:     # paused: nothing starts, ends or is dealt (the schedule waits)
                for action in self.lifecycle.due(t):
                    await self._apply(action)
                self._on_guardrails(self.guard.check_time(t - self.paused_s(t)))
                await self._schedule_open(t)
                await self._schedule_closed(t)
            self._check_workers()
            await self._send_moved_iterations()
            await self._heartbeat((State.RUNNING,))
            if t - last_live >= 1.0:
                last_live = t
                self._sample_resources(t)
                self._on_guardrails(self.guard.check(
                    t - self.paused_s(t), self._aggregates(), self.aggregate.last_complete_bucket(),
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
        self._record_windows()

    def _sample_resources(self, t: float) -> None:
        """One resource sample (coordinator, box, workers that have not said Bye: a finished
        worker's last heartbeat is no longer its state) and the saturated workers in it."""
        self._last_sample = t
        running = [info for info, s in zip(self.info, self.sessions) if s.state is not State.DONE]
        self.saturated = self.monitor.sample(t, running)
        for flag in self.saturated:
            self.saturation.setdefault(flag, []).append(int(t))

    def _aggregates(self) -> list[Aggregate]:
        return [self.aggregate] + ([self.warm_aggregate] if self.warm_aggregate is not None else [])

    def _on_guardrails(self, events: list[Event]) -> None:
        for e in events:
            if e.kind != "breach":
                self.log(e.message)
            elif self.plan.guardrails.emergency_stop:
                self.log(f"{e.message}: stopping the run (guardrails.emergencyStop)")
                self.request_stop(e.message, ExitCode.GUARDRAIL)
            else:
                self.log(f"{e.message} (guardrails.emergencyStop is off: warned only)")

    def _record_windows(self) -> None:
        states = self.lifecycle.states
        self.outcome.scenario_starts = {name: st.started_at for name, st in states.items()}
        self.outcome.scenario_windows = {
            name: {"start": _r(st.started_at), "scheduleEnd": _r(st.end_sent_at), "end": _r(st.ended_at)}
            for name, st in states.items()}

    async def _receive(self) -> None:
        while True:
            frames = await self.sock.recv_multipart()
            if len(frames) != 2:
                self._refuse(f"a message of {len(frames)} frames (expected 2)")
                continue
            identity, data = frames
            known = _IDENTITY.fullmatch(identity)
            worker = int(known.group(1)) if known else -1
            if not 0 <= worker < self.pool.count:
                self._refuse(f"a message from an unknown peer {identity[:40]!r} ({len(data):,} bytes)")
                continue
            session = self.sessions[worker]
            try:
                msg = m.decode(data)
            except Exception as exc:  # garbage from a bad peer: log and go on
                self._refuse(f"an undecodable frame from worker {worker} ({type(exc).__name__})")
                continue
            if session.state is State.LOST and not await self._rejoin(worker):
                await self._after_lost(worker, msg)
                continue
            try:
                session.received(msg)
            except ProtocolError as exc:
                self._refuse(str(exc))
                continue
            info = self.info[worker]
            info.last_heard = time.monotonic()
            match msg:
                case m.Report():
                    self.ledger.reported(worker, msg.scenarios)
                    for sc in msg.scenarios:
                        if sc.scenario in self._iter_share:
                            key = (sc.scenario, worker)
                            self._iter_counted[key] = self._iter_counted.get(key, 0) + sc.iterations + sc.interrupted
                    for warning in self._merge(msg):
                        self.warn(warning)
                    if self.queue_monitor is not None:
                        self.queue_monitor.on_report(msg)
                case m.ScenarioDone(scenario=name, added=added):
                    if added >= self._added.get((name, worker), 0):   # else stale: more were added
                        self.lifecycle.worker_done(name, worker, self.live_workers(), self.now())
                case m.PermitRequest():
                    await self.send(worker, self.guard.grant(msg))
                case m.Heartbeat():
                    info.cpu_percent, info.loop_lag_ms, info.rss_mb = msg.cpu_percent, msg.loop_lag_ms, msg.rss_mb
                    self.guard.permit_waits(worker, msg.permit_wait_s, msg.permit_waits)
                case m.Bye():
                    info.cpu_user, info.cpu_system = msg.cpu_user, msg.cpu_system
                    self.guard.permit_waits(worker, msg.permit_wait_s, msg.permit_waits)
                    info.error = msg.error or info.error    # a rejoined worker keeps why it was lost
                    for warning in self.aggregate.expect_reports(worker, msg.reports):
                        self.warn(warning)
                    if msg.error:
                        info.lost_at, info.lost = round(self.now(), 3), True
                        self.log(f"worker {worker} failed at {info.lost_at:.1f}s: {msg.error}")
                        self._move_iterations(worker)
                        self._take_back_arrivals(worker)
                        self.lifecycle.worker_lost(self.live_workers(), self.now(), for_good=True)
                        if not self.live_workers() and not self.stop_requested:
                            self.request_stop("lost all workers", ExitCode.LOST_WORKERS)
                    if all(s.state in (State.DONE, State.LOST, State.NEW) for s in self.sessions):
                        self._byes.set()

    def _merge(self, report: m.Report) -> list[str]:
        """Into the run's aggregate; warmup scenarios' deltas into their own."""
        if self.warm_aggregate is None:
            return self.aggregate.add(report)
        warm = msgspec.structs.replace(
            report, series=[d for d in report.series if d.scenario in self.warm_names],
            counters=[d for d in report.counters if d.scenario in self.warm_names],
            scenarios=[d for d in report.scenarios if d.scenario in self.warm_names])
        main = msgspec.structs.replace(
            report, series=[d for d in report.series if d.scenario not in self.warm_names],
            counters=[d for d in report.counters if d.scenario not in self.warm_names],
            scenarios=[d for d in report.scenarios if d.scenario not in self.warm_names])
        return self.warm_aggregate.add(warm) + self.aggregate.add(main)

    async def _finish(self) -> None:
        """Stop every worker, give running iterations their graceful stop, collect final reports."""
        if self.hard_stop:
            grace = 0.0
        elif self.stop_requested:   # stopped mid-run: running iterations get their graceful stop
            grace = max(s.graceful_stop for s in self.plan.scenarios)
        else:                       # every scenario has ended: nothing should be running
            grace = 1.0
        t = self.now()
        deadline_us = int((t + grace) * 1e6)
        self._final_stop = m.Stop(deadline_us=deadline_us, hard=self.hard_stop,
                                  reason=self.stop_requested or "end of schedule")
        for w in self.live_workers():
            await self.send(w, self._final_stop)
        until = time.monotonic() + grace + 3.0
        hard_sent = self.hard_stop
        while not self._byes.is_set() and time.monotonic() < until:
            if self.hard_stop and not hard_sent:
                hard_sent = True
                until = min(until, time.monotonic() + 2.0)
                for s in self.sessions:
                    if s.state == State.STOPPING:
                        await self.send(s.worker, m.Stop(deadline_us=0, hard=True, reason="second signal"))
            self._check_workers()
            await self._heartbeat((State.STOPPING,))
            if self.now() - self._last_sample >= 1.0:   # the graceful stop's seconds get samples too
                self._sample_resources(self.now())
            if all(s.state in (State.DONE, State.LOST) for s in self.sessions):
                break
            try:
                await asyncio.wait_for(self._byes.wait(), 0.1)
            except asyncio.TimeoutError:
                pass
        for s in self.sessions:
            if s.state == State.STOPPING:
                self.warn(f"worker {s.worker} did not finish in time; its last second may be missing")
        self.outcome.duration_s = max(0.0, self.now())
        samples = self.monitor.samples
        if not samples or samples[-1]["t"] < int(self.now()):   # the last (partial) second has one too
            self._sample_resources(self.now())
        self._record_windows()
        self.outcome.resources = self.monitor.samples
        self._summarise_saturation()
        self._summarise_refusals()
        self._summarise_lost()
        for note in self.guard.permit_notes():
            self.warn(note)
        self.outcome.guardrails = self.guard.summary()
        if self.queue_monitor is not None:
            self.outcome.queue = await self.queue_monitor.stop()

    def _summarise_saturation(self) -> None:
        """Saturation warnings once per worker and kind, with how long it lasted."""
        for (wid, kind), seconds in sorted(self.saturation.items()):
            what = "was near a full core" if kind == "cpu" else "ran its event loop over 50 ms late"
            self.warn(f"worker {wid} {what} in {len(seconds)} second(s), first at {seconds[0]}s: its "
                      f"latencies include its own queueing; add workers or lower the load")
