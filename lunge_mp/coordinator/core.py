"""The coordinator's decisions without sockets, timers or processes (sans-IO, like h11).

`RunCore` is one run's state: the workers' sessions and health, the scenario lifecycle,
the dealing of the load, iteration moves, guardrails and the outcome. It takes events and
returns actions; coordinator/run.py is the loop that feeds it from the socket, the clock,
the worker processes and signals, and carries out what comes back.

Events in (`now` is the loop's monotonic clock in seconds; `t` below is seconds after t0):
    frames(frames, now, key)      the frames of one message from the socket (identity, data), and
                                  the fingerprint of the Curve key its sender was authenticated with
    received(worker, msg, now)    a decoded message from worker i
    tick(now)                     the timer: every TICK_S while running
    exited(worker, code, now)     a worker's process ended
    send_failed(worker, why, now) a message could not be handed to a worker
    signal()                      SIGINT/SIGTERM: a stop; the second one a hard stop (no actions:
                                  the next tick acts on these two)
    request_stop(reason, code)    a stop from anywhere (the first reason and code win)
    check(now, resources)         the per-second guardrail check (with a resource sample)
    close(now, saturation)        the end: summaries into the outcome
Actions out: each event returns the list of `Send | Log | Merged` (coordinator/outbox.py)
decided since the last one, in order. Decisions stay in `outcome` (warnings, abort reason
and exit code, lost and rejoined workers, scenario windows).

The run goes HANDSHAKE → RUNNING → STOPPING → CLOSED (`phase`); a failed handshake goes to
CLOSED at once. The loop paces itself by `phase` and `finished(now)` (every worker said Bye,
or the wait for them is over), then calls `close`. RunControl (coordinator/control.py) is
applied at the start of each running tick.
"""

from __future__ import annotations

import enum
import uuid

import msgspec

from lunge_mp import capacity, timeline, warmup
from lunge_mp.analysis.guardrails import Event
from lunge_mp.coordinator.admission import RemoteJoin
from lunge_mp.coordinator.arrival_ledger import ArrivalLedger
from lunge_mp.coordinator.dealing import Dealer
from lunge_mp.coordinator.guarding import RunGuard
from lunge_mp.coordinator.handshake import Handshake
from lunge_mp.coordinator import heartbeats
from lunge_mp.coordinator.health import WATCHED, Health, exit_text, saturation_warnings
from lunge_mp.coordinator.iterations import IterationShares
from lunge_mp.coordinator.lifecycle import Lifecycle
from lunge_mp.coordinator.outbox import Action, Outbox, Send
from lunge_mp.exit_codes import ExitCode
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.outcome import RunOutcome, WorkerInfo
from lunge_mp.plan import Plan
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import ProtocolError, State, WorkerSession
from lunge_mp.report.redis_metrics import redis_request_keys
from lunge_mp.schedule.random_arrivals import clock_for

STOP_SLACK_S = 3.0           # after the final Stop's grace, how long to wait for Byes
HARD_STOP_WAIT_S = 2.0       # after a hard stop, at most this long
HEARTBEAT_EVERY_S = 1.0      # workers leave after 5 s without a word from the coordinator


class RunPhase(enum.Enum):
    HANDSHAKE = "handshake"
    RUNNING = "running"
    STOPPING = "stopping"
    CLOSED = "closed"


class RunCore:
    def __init__(self, plan: Plan, workers: int, *, run_id: str | None = None, control=None,
                 box_memory_mb: float | None = None, remote: int = 0, wait_s: float | None = None,
                 data_files: dict[str, bytes] | None = None, local_ids: list[bytes] | None = None) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.workers = workers
        self.sessions = [WorkerSession(i, self.run_id) for i in range(workers)]
        self.info = [WorkerInfo(i) for i in range(workers)]
        self.aggregate = Aggregate(run_id=self.run_id)
        # guardrail caps go into the plans: the schedule, live view and results all see them
        self.guard = RunGuard(plan, warmup.with_warmup(plan), warmup.offset(plan), box_memory_mb)
        self.plan = plan = self.guard.plan
        self.guard.live_workers = self.live_workers    # maxTotalRequests leases: who holds them
        self.worker_plan = self.guard.worker_plan     # what workers run: warmups + the test
        self.warm_aggregate = Aggregate(run_id=self.run_id) if plan.options.warmup else None
        self.warm_names = warmup.names(self.worker_plan)   # their deltas go to warm_aggregate
        for agg in self.aggregates():      # which requests are Redis commands (redis_* metrics)
            agg.redis_requests = redis_request_keys(self.worker_plan)
        self.lifecycle = Lifecycle(plan, warmup.scenarios(plan), warmup.offset(plan))
        self.outcome = RunOutcome(plan, self.run_id, self.aggregate, self.info,
                                  planned_s=self.lifecycle.planned_length(),
                                  warmup=self.warm_aggregate, measured_from=warmup.offset(plan))
        self.control = control      # stop/pause/resume/scale from outside (coordinator/control.py)
        self.out = Outbox(self.sessions, self.outcome.warnings)
        self.phase = RunPhase.HANDSHAKE
        self.t0: float | None = None      # the run's zero instant on the loop's clock (set at Go)
        self.t0_us = 0
        self.stop_requested: str | None = None
        self.hard_stop = False
        self.outcome.arrival_processes = timeline.arrival_processes(self.worker_plan, self.run_id)
        self.clocks = {s.name: clock_for(s.target_fn(), **self.outcome.arrival_processes[s.name])
                       for s in self.worker_plan.scenarios if s.is_open}
        for note in self.guard.start_notes(self.outcome.planned_s, self.clocks):
            self.out.log(note)
        self.ledger = ArrivalLedger(self.clocks)     # where each open-model arrival went
        self.iterations = IterationShares()
        self.dealer = Dealer(workers, self.lifecycle, self.clocks, self.ledger, self.iterations, self.guard,
                             self.outcome, self.aggregates, self.out)
        self.vus_sent = self.dealer.vus_sent   # control.py and scaling.py clear it to re-send VU targets
        self.health = Health(self.sessions, self.info, self.outcome, self.out)
        self.handshake = Handshake(workers, *([wait_s] if wait_s else []))
        # run --listen: the last `remote` workers join over tcp (admission.py)
        self.remote = RemoteJoin(workers - remote, remote, self.sessions, self.info, self.handshake, self.health,
                                 self.out, data_files) if remote else None
        if self.remote is not None:
            self.remote.peaks = capacity.peaks(self.worker_plan)
        self._vu_shares = timeline.vu_shares(self.worker_plan, workers)
        self._last_heartbeat = float("-inf")
        self._final_stop: m.Stop | None = None     # the Stop sent at the end (for a worker that rejoins)
        self._stop_until = 0.0
        self._hard_sent = False
        self._unreachable: set[int] = set()          # a send to it failed: it is gone for good
        # local workers' routing ids (protocol/routing.py; plain w<i> for a core driven by tests)
        self._identities = list(local_ids) if local_ids is not None else [b"w%d" % i for i in range(workers)]
        self._local_of = {identity: i for i, identity in enumerate(self._identities)}

    # --- queries -------------------------------------------------------------------------
    def t(self, now: float) -> float:
        """Seconds after t0 (0 before Go)."""
        return now - self.t0 if self.t0 is not None else 0.0

    def live_workers(self) -> list[int]:
        return [s.worker for s in self.sessions if s.state in (State.RUNNING, State.READY)]

    def aggregates(self) -> list[Aggregate]:
        return [self.aggregate] + ([self.warm_aggregate] if self.warm_aggregate is not None else [])

    def paused_s(self, t: float) -> float:
        """Seconds paused up to `t`: maxDuration counts only the time the run was not paused."""
        return self.control.paused_at(t) if self.control is not None else 0.0

    def settled(self) -> bool:
        """No worker is running any more (all said Bye or were lost)."""
        return all(s.state in (State.DONE, State.LOST, State.NEW) for s in self.sessions)

    def finished(self, now: float) -> bool:
        """Stopping, and every worker said Bye or was lost, or the wait for them is over."""
        return self.phase is RunPhase.STOPPING and (self.settled() or now >= self._stop_until)

    def identity(self, worker: int) -> bytes:
        """The socket identity worker i connects with (worker/main.py; a remote one its own)."""
        if self.remote is not None and self.remote.is_remote(worker):
            return self.remote.identity(worker)
        return self._identities[worker]

    def worker_of(self, identity: bytes) -> int | None:
        """The worker a socket identity names, or None (an unknown peer)."""
        worker = self._local_of.get(identity)
        if self.remote is not None and (worker is None or worker >= self.remote.local):
            return self.remote.worker_of(identity)
        return worker

    def deliverable(self, send: Send) -> bool:
        """False once a send to its worker has failed (later ones of the same batch are dropped)."""
        return send.raw or send.worker not in self._unreachable

    # --- what control.py and the loop use -------------------------------------------------
    def send(self, worker: int, msg: m.Message) -> None:
        self.out.send(worker, msg)

    def warn(self, text: str) -> None:
        self.out.warn(text)

    def log(self, text: str) -> None:
        self.out.log(text)

    def take(self) -> list[Action]:
        return self.out.take()

    # --- events --------------------------------------------------------------------------
    def spawned(self, pids: list[int]) -> None:
        """The process ids of the workers the loop started (for the lines about lost workers)."""
        self.health.pids = list(pids)

    def request_stop(self, reason: str, code: int | None = None) -> None:
        """First reason wins: a later one never overwrites the exit code. The next tick acts on it."""
        if self.outcome.abort is None:
            self.outcome.abort = reason
            self.outcome.abort_code = code
        self.stop_requested = self.stop_requested or reason

    def signal(self) -> None:
        """SIGINT or SIGTERM: a stop; once stopping, a hard stop (the next tick acts on it)."""
        if self.stop_requested is None:
            self.request_stop("stopped by a signal", ExitCode.STOPPED)
        else:
            self.hard_stop = True

    def frames(self, frames: list[bytes], now: float, key: str | None = None) -> list[Action]:
        if len(frames) != 2:
            self.health.refuse(f"a message of {len(frames)} frames (expected 2)")
            return self.out.take()
        identity, data = frames
        worker = self.worker_of(identity)
        if worker is None and self.remote is not None:      # a remote worker joining, or refused
            started = self.phase is not RunPhase.HANDSHAKE or bool(self.stop_requested)
            joined = self.remote.join(identity, data, started, key)
            return self.received(*joined, now) if joined is not None else self.out.take()
        if worker is None:
            self.health.refuse(f"a message from an unknown peer {identity[:40]!r} ({len(data):,} bytes)")
            return self.out.take()
        if self.remote is not None and not self.remote.speaks_for(worker, key):     # admission.py
            return self.out.take()
        try:
            msg = m.decode(data)
        except Exception as exc:  # garbage from a bad peer: log and go on
            self.health.refuse(f"an undecodable frame from worker {worker} ({type(exc).__name__})")
            return self.out.take()
        return self.received(worker, msg, now)

    def received(self, worker: int, msg: m.Message, now: float) -> list[Action]:
        session = self.sessions[worker]
        if session.state is State.LOST and not self._rejoin(worker, now):
            if self.health.spoke_after_loss(worker):
                self.out.send_raw(worker, m.Stop(deadline_us=0, hard=True, reason="declared lost"))
            return self.out.take()
        try:
            session.received(msg)
        except ProtocolError as exc:
            self.health.refuse(str(exc))
            return self.out.take()
        info = self.info[worker]
        info.last_heard = now
        match msg:
            case m.Report():
                self.ledger.reported(worker, msg.scenarios)
                self.iterations.reported(worker, msg.scenarios)
                for warning in self._merge(msg):
                    self.out.warn(warning)
                self.out.merged(msg)
            case m.ScenarioDone(scenario=name, added=added):
                if not self.iterations.stale_done(name, worker, added):
                    self.lifecycle.worker_done(name, worker, self.live_workers(), self.t(now))
            case m.PermitRequest():
                self.out.send(worker, self.guard.grant(msg))
            case m.Heartbeat():     # its load, clock, permit waits; parked VUs asking for their share
                heartbeats.received(self, worker, msg, now)
            case m.Bye() if self.phase is RunPhase.HANDSHAKE:     # it refused the plan (worker/remote.py)
                info.error = msg.error or "it left before the start"
            case m.Bye():
                self._bye(worker, msg, now)
            case m.Hello() if self.phase is RunPhase.HANDSHAKE and not self.stop_requested:
                if self.remote is None or self.remote.clock_known(worker, now):
                    self._send_start(worker, now)
            case m.TimeEcho() if self.remote is not None:
                self.remote.echo(worker, msg, now)
            case m.Ready():
                self.handshake.ready(worker, now)
        return self.out.take()

    def exited(self, worker: int, code: int, now: float) -> list[Action]:
        if self.phase is RunPhase.HANDSHAKE:
            self.request_stop(f"worker {worker} {exit_text(code)} before the run started", 1)
            self.phase = RunPhase.CLOSED
        elif self.sessions[worker].state in WATCHED:
            self._lose(worker, exit_text(code), False, now)
        return self.out.take()

    def send_failed(self, worker: int, why: str, now: float) -> list[Action]:
        self._unreachable.add(worker)
        self._lose(worker, why, False, now)
        return self.out.take()

    def tick(self, now: float) -> list[Action]:
        if self.phase is RunPhase.HANDSHAKE:
            self._handshake_tick(now)
        elif self.phase is RunPhase.RUNNING:
            self._running_tick(now)
        elif self.phase is RunPhase.STOPPING:
            self._stopping_tick(now)
        return self.out.take()

    def guardrails(self, events: list[Event]) -> list[Action]:
        """Guardrail events from elsewhere (the Redis queue monitor)."""
        self._guardrails(events)
        return self.out.take()

    def check(self, now: float, resources: dict | None) -> list[Action]:
        """The per-second guardrails: requests, the last complete second, memory and CPU."""
        t = self.t(now)
        self._guardrails(self.guard.check(t - self.paused_s(t), self.aggregates(),
                                          self.aggregate.last_complete_bucket(), resources))
        return self.out.take()

    def _guardrails(self, events: list[Event]) -> None:
        for e in events:
            if e.kind != "breach":
                self.out.log(e.message)
            elif self.plan.guardrails.emergency_stop:
                self.out.log(f"{e.message}: stopping the run (guardrails.emergencyStop)")
                self.request_stop(e.message, ExitCode.GUARDRAIL)
            else:
                self.out.log(f"{e.message} (guardrails.emergencyStop is off: warned only)")

    def close(self, now: float, saturation: dict[tuple[str, str], list[int]]) -> list[Action]:
        """The run is over: what is still unknown is said, and the outcome summarised."""
        for s in self.sessions:
            if s.state == State.STOPPING:
                self.out.warn(f"worker {s.worker} did not finish in time; its last second may be missing")
        self.outcome.duration_s = max(0.0, self.t(now))
        self.record_windows()
        for text in saturation_warnings(saturation):
            self.out.warn(text)
        self.health.summarise_refusals()
        self.health.summarise_lost(self.dealer.settled_ledger())   # taken back, not dealt again: unaccounted
        for note in self.guard.permit_notes():
            self.out.warn(note)
        self.outcome.guardrails = self.guard.summary()
        self.phase = RunPhase.CLOSED
        return self.out.take()

    # --- the phases ----------------------------------------------------------------------
    def _send_start(self, worker: int, now: float) -> None:
        pre, mx = self._vu_shares
        self.out.send(worker, m.Start(
            run_id=self.run_id, plan=self.worker_plan, worker=worker, workers=self.workers,
            max_vus={k: v[worker] for k, v in mx.items()},
            pre_allocated_vus={k: v[worker] for k, v in pre.items()},
            **self.guard.start_fields(self.workers), **(self.remote.start_fields(worker) if self.remote else {})))
        self.handshake.start_sent(worker, now)

    def _handshake_tick(self, now: float) -> None:
        """Start goes out on Hello; when every worker is ready, Go with t0 a moment ahead."""
        self.handshake.begin(now)
        if self.stop_requested:
            self.phase = RunPhase.CLOSED
            return
        for s in self.sessions:
            if s.state in (State.LOST, State.DONE):     # DONE: it refused the plan
                what = "was lost before the run started" if s.state is State.LOST else "refused the plan"
                self.request_stop(f"worker {s.worker} {what}: {self.info[s.worker].error}", 1)
                self.phase = RunPhase.CLOSED
                return
        for w in self.remote.tick(now) if self.remote is not None else ():   # admission.py
            self._send_start(w, now)
        if all(s.state is State.READY for s in self.sessions):
            self._go(now)
        elif self.handshake.timed_out(now):
            waiting = f": {self.remote.waiting_for()}" if self.remote is not None else ""
            self.request_stop(f"workers did not become ready within {self.handshake.timeout_s:g}s{waiting}", 1)
            self.phase = RunPhase.CLOSED
        else:
            self._heartbeat(now, (State.GREETED, State.STARTED, State.READY))

    def _go(self, now: float) -> None:
        self.t0_us = int((now + self.handshake.start_delay()) * 1e6)
        self.t0 = self.t0_us / 1e6
        for s in self.sessions:
            info = self.info[s.worker]
            info.pid, info.last_heard = s.pid, now
            self.out.send(s.worker, self.handshake.go(s.worker, self.t0_us))
        self.phase = RunPhase.RUNNING

    def _running_tick(self, now: float) -> None:
        """Start and end scenarios, deal arrivals and VU targets, watch the workers."""
        if self.stop_requested or self.lifecycle.all_ended:
            self._begin_stop(now)
            return
        t = self.t(now)
        paused = self.control is not None and self.control.apply(self, t)
        if not paused:     # paused: nothing starts, ends or is dealt (the schedule waits)
            for action in self.lifecycle.due(t):
                self.dealer.apply(action, self.live_workers())
            self._guardrails(self.guard.check_time(t - self.paused_s(t)))
            self.dealer.deal_open(t, self.health.responsive(self.live_workers(), now), bool(self.stop_requested))
            self.dealer.deal_closed(t, self.live_workers())
        self._check_silence(now)
        self.dealer.send_moved_iterations(lambda w: self.sessions[w].state is State.RUNNING)
        self._heartbeat(now, (State.RUNNING,))

    def _begin_stop(self, now: float) -> None:
        """Stop every worker; running iterations get their graceful stop, then final reports and Bye."""
        if self.hard_stop:
            grace = 0.0
        elif self.stop_requested:   # stopped mid-run: running iterations get their graceful stop
            grace = max(s.graceful_stop for s in self.plan.scenarios)
        else:                       # every scenario has ended: nothing should be running
            grace = 1.0
        self.record_windows()
        self._final_stop = m.Stop(deadline_us=int((self.t(now) + grace) * 1e6), hard=self.hard_stop,
                                  reason=self.stop_requested or "end of schedule")
        for w in self.live_workers():
            self.out.send(w, self._final_stop)
        self._stop_until = now + grace + STOP_SLACK_S
        self._hard_sent = self.hard_stop
        self.phase = RunPhase.STOPPING

    def _stopping_tick(self, now: float) -> None:
        if self.hard_stop and not self._hard_sent:
            self._hard_sent = True
            self._stop_until = min(self._stop_until, now + HARD_STOP_WAIT_S)
            for s in self.sessions:
                if s.state is State.STOPPING:
                    self.out.send(s.worker, m.Stop(deadline_us=0, hard=True, reason="second signal"))
        self._check_silence(now)
        self._heartbeat(now, (State.STOPPING,))

    def _heartbeat(self, now: float, states: tuple[State, ...]) -> None:
        """Every second, so workers know the coordinator lives."""
        if now - self._last_heartbeat < HEARTBEAT_EVERY_S:
            return
        self._last_heartbeat = now
        for s in self.sessions:
            if s.state in states:     # a remote worker's may carry a clock probe and its t0 anew
                self.out.send(s.worker, self.remote.clocks.heartbeat(s.worker, now, self.t0_us)
                              if self.remote is not None else m.Heartbeat())

    # --- workers lost and rejoining --------------------------------------------------------
    def _check_silence(self, now: float) -> None:
        for worker, quiet in self.health.silent(now):
            self._lose(worker, f"silent for {quiet:.1f}s", True, now)

    def _lose(self, worker: int, why: str, silent: bool, now: float) -> None:
        """A worker is lost: what it reported stays, its share moves to the others from the next
        tick, and the run stops with 112 when none is left. One lost by silence may rejoin."""
        running = self.t0 is not None
        if not running and self.remote is not None and self.remote.is_remote(worker):
            self._unreachable.discard(worker)       # its place is free for the next to join
            return self.remote.free(worker, why)
        if not self.health.mark_lost(worker, why, silent, self.t(now) if running else None):
            return
        t = self.t(now)
        if not silent and running:       # gone for good: it will not run its iterations
            self._gone_for_good(worker, t)
        elif running:                    # it may still run, and hear us: its VUs go to the others
            self.dealer.withdraw_vus(worker)
        self.lifecycle.worker_lost(self.live_workers(), t, for_good=not silent)
        if not self.live_workers() and running:
            self.request_stop("lost all workers", ExitCode.LOST_WORKERS)

    def _gone_for_good(self, worker: int, t: float) -> None:
        """Its remaining iterations move to an heir, its arrivals not yet due are dealt again."""
        for line in self.iterations.move(worker, self.lifecycle, self.live_workers(), bool(self.stop_requested)):
            self.out.log(line)
        if self.t0 is not None and not self.stop_requested:     # paused: held ones were never due
            due_us = self.control.hold.due_until_us(t) if self.control is not None else int(t * 1e6)
            self.dealer.take_back(worker, due_us)

    def _rejoin(self, worker: int, now: float) -> bool:
        """A worker lost by silence speaks again (it was stopped, not dead): it is live again,
        is sent what it missed (dealing.py `catch_up`), or the final Stop if the run is
        stopping. False if it may not rejoin."""
        if not self.health.may_rejoin(worker) or self.settled():
            return False
        self.health.mark_rejoined(worker, now, self.t(now))
        if self.sessions[worker].state is State.RUNNING:
            self.dealer.catch_up(worker)
            if self.control is not None:     # the Holds and Releases of pauses it missed
                self.control.hold.rejoined(self, worker)
            if self._final_stop is not None:
                self.out.send(worker, self._final_stop)
        return True

    def _bye(self, worker: int, msg: m.Bye, now: float) -> None:
        info = self.info[worker]
        info.cpu_user, info.cpu_system = msg.cpu_user, msg.cpu_system
        self.guard.permit_waits(worker, msg.permit_wait_s, msg.permit_waits)
        info.error = msg.error or info.error    # a rejoined worker keeps why it was lost
        for warning in self.aggregate.expect_reports(worker, msg.reports):
            self.out.warn(warning)
        if msg.error:
            t = self.t(now)
            info.lost_at, info.lost = round(t, 3), True
            self.out.log(f"worker {worker} failed at {info.lost_at:.1f}s: {msg.error}")
            self._gone_for_good(worker, t)
            self.lifecycle.worker_lost(self.live_workers(), t, for_good=True)
            if not self.live_workers() and not self.stop_requested:
                self.request_stop("lost all workers", ExitCode.LOST_WORKERS)

    # --- results -------------------------------------------------------------------------
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

    def record_windows(self) -> None:
        self.outcome.scenario_starts, self.outcome.scenario_windows = self.lifecycle.windows()
