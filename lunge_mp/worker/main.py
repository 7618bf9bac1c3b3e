"""A worker process: one DEALER socket, one uvloop event loop, the VUs of its share.

    Hello → (Start) → Ready → (Go) → runs Assign/SetVUs, Report every second → (Stop) → final Report, Bye
    and a Heartbeat every second from the coordinator's first message on (before Go too)

A worker never outlives its coordinator: it exits when its parent process is no longer the
coordinator (`--parent`) or when nothing arrives from it for `COORDINATOR_TIMEOUT_S` after Hello.
A remote worker (over tcp: worker/remote.py) waits longer for the first message and for a
silent coordinator (`REMOTE_COORDINATOR_TIMEOUT_S`: a partition heals), answers clock probes,
and is told its id in Start. Either parks its closed-model VUs after LOST_AFTER_S of silence,
when the coordinator gives them to the others, until it hears again (worker/silence.py).
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable

import msgspec
import psutil
import uvloop
import zmq
import zmq.asyncio

from lunge_mp.exit_codes import ExitCode
from lunge_mp.oslimits import raise_nofile
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.protocol import messages as m, routing
from lunge_mp.redact import Redactor, RedactingStream
from lunge_mp.worker.closed_model import ClosedScenario
from lunge_mp.worker.iteration import ScenarioRunner
from lunge_mp.worker.open_model import OpenScenario
from lunge_mp.worker.parking import Parking
from lunge_mp.worker.permits import PermitGate, PermittedTransport
from lunge_mp.worker import remote as remote_join, silence, transports
from lunge_mp.worker.guard import guarded
from lunge_mp.worker.transport import Transport

HEARTBEAT_S = 1.0
# counters (not histograms) also go out every 100 ms, so if this worker dies, what the
# coordinator does not know (due since its last report, in flight then, due before its loss is
# noticed) stays within ~0.25 s of its arrivals (arrival_ledger.py). A counters-only Report
# costs ~20 µs to build and merge: 10 a second is nothing beside the requests they count.
# With more than 8 workers each sends them less often (`counters_per_second`): each worker's
# share of the load shrinks as fast, so what a lost worker leaves unknown stays as many arrivals
# as with 8, and the coordinator gets ~80 counter reports a second, not 10 per worker (each
# costs it a decode, a merge and, over tcp, its Curve decryption).
COUNTERS_PER_SECOND = 10
COUNTER_REPORTS_PER_RUN_S = 80


def counters_per_second(workers: int) -> int:
    """Counter reports a second per worker: 10 up to 8 workers, then 5, 2 or 1 (1: only the
    whole second's report), a divisor of 10 so the 100 ms boundaries stay on the seconds."""
    most = COUNTER_REPORTS_PER_RUN_S // max(1, workers)
    return max(n for n in (1, 2, 5, COUNTERS_PER_SECOND) if n <= max(1, most))


class Worker:
    def __init__(self, endpoint: str, worker_id: int, remote: remote_join.RemoteJoin | None = None,
                 parent: int | None = None) -> None:
        self.id = worker_id
        self.endpoint = endpoint
        self.remote = remote
        self.exit_code = 0
        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 2000)
        self.monitor = None
        if remote is not None:
            self.monitor = remote_join.prepare(self.sock, remote, endpoint)
        else:
            self.sock.setsockopt(zmq.IDENTITY, routing.local_identity(endpoint, worker_id))
            # started before the coordinator binds (coordinator/prestart.py): retry soon, not in 100 ms
            self.sock.setsockopt(zmq.RECONNECT_IVL, 10)
        self.sock.connect(endpoint)
        self.heard_any = False
        # the coordinator's pid, as it gave it: read here, getppid() is already 1 (or a subreaper)
        # if the coordinator died while this worker started
        self.parent = os.getppid() if parent is None else parent
        self.hello_sent = False     # until then a local worker's silence is not judged: the
        self.last_heard = time.monotonic()      # coordinator may still be reading its config (prestart)
        self.run_id = ""
        self.seq = 0
        self.workers = 1          # in the run (Start): how often counters go out
        self.t0_ns = 0
        self._echo: tuple[int, int] | None = None    # a clock probe to answer: (seq, when it came)
        self.recorder = Recorder()
        self.transport: Transport | None = None
        self.redis: Transport | None = None      # `redis:` requests (worker/redis_transport.py)
        self.open_runners: dict[str, ScenarioRunner] = {}   # until Go fixes t0
        self.open: dict[str, OpenScenario] = {}
        self.closed: dict[str, ClosedScenario] = {}
        self.pre_allocated: dict[str, int] = {}
        self.max_vus: dict[str, int] = {}
        self.tasks: list[asyncio.Task] = []
        self.done = asyncio.Event()
        self.stopping = False
        self.proc = psutil.Process()
        self.proc.cpu_percent()
        self.redactor = Redactor()
        self.permits: PermitGate | None = None     # guardrail permits of closed-model requests
        self._asking: set[asyncio.Task] = set()
        self.parking = Parking()

    async def send(self, msg: m.Message) -> None:
        await self.sock.send(m.encode(msg))

    async def run(self) -> None:
        remote = self.remote
        # the watchdog first: Hello waits for the coordinator to bind, which it may never do
        watchdog = asyncio.get_running_loop().create_task(silence.watchdog(self))
        if self.monitor is not None:    # watched before Hello: a refused handshake leaves no peer to send to
            self.tasks.append(asyncio.get_running_loop().create_task(self._watch_handshake()))
        hello = asyncio.ensure_future(self.send(m.Hello(
            worker=self.id, pid=os.getpid(), name=remote.name if remote else "",
            host=remote_join.host_name() if remote else "", open_rate=remote_join.open_rate() if remote else 0.0)))
        leaving = asyncio.ensure_future(self.done.wait())
        await asyncio.wait((hello, leaving), return_when=asyncio.FIRST_COMPLETED)   # refused: Hello never goes
        leaving.cancel()
        if hello.done():
            hello.result()              # a send that failed fails the run, as before
        else:
            hello.cancel()
        self.hello_sent, self.last_heard = True, time.monotonic()
        # before Go too: a remote worker silent before the start loses its place (coordinator/admission.py)
        self.tasks.append(asyncio.get_running_loop().create_task(self._heartbeat()))
        try:
            while not self.done.is_set():
                if not await self.sock.poll(200):
                    continue
                frame = await self.sock.recv()
                silent_s = time.monotonic() - self.last_heard
                self.last_heard = time.monotonic()
                self.heard_any = True
                heard_again = self.parking.cut_off
                if heard_again:
                    silence.heard_again(self, silent_s)
                try:
                    msg = m.decode(frame)
                except Exception as exc:  # a garbage frame is logged, never fatal
                    print(f"worker {self.id}: ignored undecodable frame ({exc})", file=sys.stderr)
                    continue
                try:
                    await self.handle(msg)
                    if heard_again and self.parking.asking:     # ask for its VU share at once
                        await self._send_heartbeat(0.0)
                except Exception as exc:  # a bug here must reach the coordinator, not vanish
                    traceback.print_exc(file=sys.stderr)
                    await self.send(m.Bye(worker=self.id, reports=self.seq,
                                          error=self.redactor.text(f"{type(exc).__name__}: {exc}")))
                    break
        finally:
            sys.stderr.flush()
            watchdog.cancel()
            for task in self.tasks:
                task.cancel()
            if self.transport is not None:
                await self.transport.close()
            if self.redis is not None:
                await self.redis.close()
            if self.monitor is not None:
                self.sock.disable_monitor()
                self.monitor.close(linger=0)
            self.sock.close(linger=2000)
            self.ctx.term()

    async def handle(self, msg: m.Message) -> None:
        match msg:
            case m.TimeProbe(seq=seq):
                received = time.monotonic_ns()
                await self.send(m.TimeEcho(seq=seq, received_ns=received, sent_ns=time.monotonic_ns()))
            case m.Start():
                if self.remote is not None:
                    self.id = msg.worker          # a remote worker learns its id here
                    problem = await remote_join.preflight(msg.plan)
                    if problem is not None:
                        self._leave(f"refused the plan: {problem}")
                        await self.send(m.Bye(worker=self.id, reports=0, error=problem))
                        return
                    msg = msgspec.structs.replace(msg, plan=remote_join.local_data(msg.plan, msg.data_files))
                    print(f"worker {self.remote.name}: joined run {msg.run_id} as worker {msg.worker} "
                          f"of {msg.workers}", file=sys.stderr, flush=True)
                self.start(msg)
                await self.send(m.Ready(worker=self.id))
            case m.Refused(reason=reason):
                self._leave(f"refused by the coordinator: {reason}")
            case m.Go(t0_us=t0_us):
                self.go(t0_us * 1000)
            case m.Assign(scenario=name, first_index=first, offsets_us=offsets, stride=stride):
                scenario = self.open.get(name)
                if scenario is not None and not self.stopping:
                    scenario.assign(first, offsets, stride)
            case m.Hold(at_us=at_us):     # a pause: open-model arrivals from `at` wait (open_model.py)
                for scenario in self.open.values():
                    scenario.hold(self.t0_ns + at_us * 1000)
            case m.Release(shift_us=shift_us):
                for scenario in self.open.values():
                    scenario.release(shift_us * 1000)
            case m.SetVUs(scenario=name, vus=n, deadline_us=deadline, iterations_per_vu=per_vu,
                          iterations_total=total):
                scenario = self.closed.get(name)
                if scenario is not None and not self.stopping:
                    stop_within = self._seconds_until(deadline) if deadline else None
                    scenario.set_vus(n, per_vu, stop_within, total)
                    silence.told(self, name, f"{n} VU(s) as the coordinator now splits them")
            case m.AddIterations(scenario=name, iterations=n):
                scenario = self.closed.get(name)
                if scenario is not None and not self.stopping:
                    scenario.add_iterations(n)
            case m.EndScenario(scenario=name, deadline_us=deadline):
                if name in self.closed:
                    self.closed[name].end(self._seconds_until(deadline))
                    silence.told(self, name, "to end")
                elif name in self.open:
                    self.tasks.append(asyncio.get_running_loop().create_task(self._end_open(name, deadline)))
            case m.Stop():
                if not self.stopping or msg.hard:
                    self.tasks.append(asyncio.get_running_loop().create_task(self.stop(msg)))
            case m.PermitGrant(permits=n, final=final):
                if self.permits is not None:
                    self.permits.granted(n, final)
            case m.Heartbeat(probe=probe, t0_us=t0_us):    # a remote worker's clock (clock_watch.py)
                if probe:
                    self._echo = (probe, time.monotonic_ns())   # answered by the next heartbeat
                if t0_us and self.t0_ns:
                    self.retime(t0_us * 1000)
            case _:
                print(f"worker {self.id}: ignored unexpected {type(msg).__name__}", file=sys.stderr)

    def _leave(self, why: str) -> None:
        """Say why on stderr and end the process's run (exit 1)."""
        name = self.remote.name if self.remote is not None else self.id
        print(f"worker {name}: {why}", file=sys.stderr, flush=True)
        self.exit_code = ExitCode.INTERNAL     # 1: refused, or it refused the plan (said above)
        self.done.set()

    async def _watch_handshake(self) -> None:
        why = await remote_join.watch_handshake(self.monitor, self.endpoint, self.remote.keys is not None)
        self._leave(why)

    def _seconds_until(self, offset_us: int) -> float:
        return max(0.0, (self.t0_ns + offset_us * 1000 - time.monotonic_ns()) / 1e9)

    async def _end_open(self, name: str, deadline_us: int) -> None:
        await self.open[name].end(self.t0_ns + deadline_us * 1000)
        await self.send(m.ScenarioDone(worker=self.id, scenario=name))

    def _closed_done(self, name: str) -> Callable[[], None]:
        def done() -> None:
            if not self.stopping:
                added = self.closed[name].added
                self.tasks.append(asyncio.get_running_loop().create_task(
                    self.send(m.ScenarioDone(worker=self.id, scenario=name, added=added))))
        return done

    def start(self, msg: m.Start) -> None:
        plan = msg.plan
        self.run_id = msg.run_id
        self.workers = msg.workers
        # nothing this process prints may show a secret of the plan (tracebacks include URLs)
        self.redactor = Redactor.for_plan(plan)
        sys.stderr = RedactingStream(sys.__stderr__ or sys.stderr, self.redactor)
        s = plan.settings
        # maxConnectionsPerHost is for the whole run: each worker holds its share of it (0: no limit)
        total = s.max_connections_per_host
        per_worker = 0 if total == 0 else max(1, -(-total // msg.workers))
        inner = transports.make(plan, per_worker)
        if msg.permit_rates or msg.permit_lease:
            self.permits = PermitGate(msg.permit_lease, self._ask_permits)
            if hasattr(inner, "hop_permits"):
                inner.hop_permits = True        # aiohttp: redirect hops wait for a permit too
        self.transport = guarded(plan, inner)
        self.redis = transports.make_redis(plan, msg.workers)
        # the fast transport always measures blocked/connecting; with settings.timings: detailed
        # also TLS and each response's sending/waiting/receiving, and aiohttp all but TLS
        # (its trace signals, worker/aiohttp_timings.py: only then, they cost every request)
        fast, detailed = transports.chosen(plan) == "fast", s.timings == "detailed"
        self.recorder.breakdown = fast or detailed
        self.recorder.detailed = detailed
        self.recorder.tls = fast
        for i, scenario in enumerate(plan.scenarios):
            permits = None          # closed model under guardrails: a permit before each request
            if not scenario.is_open and self.permits is not None:
                permits = self.permits.scenario(msg.permit_rates.get(scenario.name, 0.0))
            http, redis = self.transport, self.redis
            if permits is not None:
                http = PermittedTransport(http, permits)
                redis = None if redis is None else PermittedTransport(redis, permits)
            # VU ids are unique across workers and scenarios: worker-major blocks of 1M
            runner = ScenarioRunner(plan, scenario, http, self.recorder,
                                    vu_id_base=1 + self.id * 1_000_000 + i * 100_000, worker=msg.worker, workers=msg.workers,
                                    redis=redis)
            if scenario.is_open:
                self.pre_allocated[scenario.name] = msg.pre_allocated_vus.get(scenario.name, 0)
                self.max_vus[scenario.name] = msg.max_vus.get(scenario.name, 0)
                self.open_runners[scenario.name] = runner
            else:
                self.closed[scenario.name] = ClosedScenario(runner, self._closed_done(scenario.name),
                                                            permits)

    def _ask_permits(self, used: int, want: int) -> None:
        task = asyncio.get_running_loop().create_task(
            self.send(m.PermitRequest(worker=self.id, used=used, want=want)))
        self._asking.add(task)
        task.add_done_callback(self._asking.discard)

    def _permit_stats(self) -> dict:
        if self.permits is None:
            return {}
        wait_s, waits = self.permits.stats()
        return {"permit_wait_s": wait_s, "permit_waits": waits}

    def retime(self, t0_ns: int) -> None:
        """The coordinator moved the run's t0 on this clock (by well under a ms a second):
        arrivals assigned from now on, second boundaries and deadlines follow it."""
        self.t0_ns = t0_ns
        for scenario in self.open.values():
            scenario.t0_ns = t0_ns

    def go(self, t0_ns: int) -> None:
        self.t0_ns = t0_ns
        for name, runner in self.open_runners.items():
            scenario = OpenScenario(runner, t0_ns, self.pre_allocated[name], self.max_vus[name])
            self.open[name] = scenario
            scenario.start()
        loop = asyncio.get_running_loop()
        self.tasks.append(loop.create_task(self._report_every_second()))
        self.tasks.append(loop.create_task(silence.park_when_silent(self)))

    def _gauges(self) -> None:
        for name, scenario in self.open.items():
            self.recorder.set_gauges(name, scenario.busy, scenario.vus)
        for name, closed in self.closed.items():
            self.recorder.set_gauges(name, closed.busy, closed.allocated)

    async def _flush(self, bucket: int, final: bool = False) -> None:
        self._gauges()
        series, counters, scenarios = self.recorder.drain()
        report = m.Report(worker=self.id, run_id=self.run_id, seq=self.seq, bucket=bucket,
                          series=series, counters=counters, scenarios=scenarios, final=final)
        self.seq += 1
        await self.send(report)

    async def _flush_counters(self, bucket: int) -> None:
        """Counters only, mid-second (a partial Report): the histograms wait for the second's end."""
        self._gauges()
        counters, scenarios = self.recorder.drain_counters()
        if counters or scenarios:
            report = m.Report(worker=self.id, run_id=self.run_id, seq=self.seq, bucket=bucket,
                              counters=counters, scenarios=scenarios, partial=True)
            self.seq += 1
            await self.send(report)

    async def _report_every_second(self) -> None:
        """Flush at each whole second after t0, so every worker's buckets line up; counters
        alone at each tenth of a second between them."""
        tick = 0
        per_second = counters_per_second(self.workers)
        step = 1_000_000_000 // per_second
        while True:
            tick += 1
            boundary = self.t0_ns + tick * step
            await asyncio.sleep(max(0.0, (boundary - time.monotonic_ns()) / 1e9))
            bucket, part = divmod(tick, per_second)
            if part == 0:
                await self._flush(bucket - 1)
            else:
                await self._flush_counters(bucket)

    async def _heartbeat(self) -> None:
        while True:
            wait = HEARTBEAT_S
            if self.t0_ns:      # after Go: on the whole seconds after t0, with the reports, so the
                period = int(HEARTBEAT_S * 1e9)     # coordinator takes every worker's in one wake
                wait = (period - (time.monotonic_ns() - self.t0_ns) % period) / 1e9
            due = time.monotonic() + wait
            await asyncio.sleep(wait)
            if not self.heard_any:      # from the coordinator's first message on (not queued before it binds)
                continue
            await self._send_heartbeat(max(0.0, (time.monotonic() - due) * 1000))   # how late the loop ran this timer

    async def _send_heartbeat(self, lag_ms: float) -> None:
        rss = self.proc.memory_info().rss / 2**20
        echo, self._echo = self._echo, None
        clock = {"echo": echo[0], "echo_received_ns": echo[1], "echo_sent_ns": time.monotonic_ns()} if echo else {}
        await self.send(m.Heartbeat(worker=self.id, cpu_percent=self.proc.cpu_percent(), loop_lag_ms=lag_ms,
                                    rss_mb=rss, parked=self.parking.asking, **self._permit_stats(), **clock))

    async def stop(self, msg: m.Stop) -> None:
        """Start nothing more; let running iterations finish until the deadline; report; leave."""
        self.stopping = True
        for name in self.parking.release_all():    # their VUs leave as told below
            self.closed[name].unpark()
        now = time.monotonic_ns()
        for scenario in self.open.values():
            scenario.stop_starting(now)
        for closed in self.closed.values():
            closed.set_vus(0)
        if self.permits is not None:
            self.permits.close()        # VUs waiting for a permit end their iteration now
        if msg.hard:
            self._interrupt_all()
        else:
            deadline = self.t0_ns + msg.deadline_us * 1000 if self.t0_ns else now
            while self._running() and time.monotonic_ns() < deadline:
                await asyncio.sleep(0.01)
            self._interrupt_all()
        await asyncio.sleep(0)   # let cancelled iterations record their interruption
        await asyncio.sleep(0)
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        bucket = max(0, (time.monotonic_ns() - self.t0_ns) // 1_000_000_000) if self.t0_ns else 0
        await self._flush(int(bucket), final=True)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        await self.send(m.Bye(worker=self.id, reports=self.seq,
                              cpu_user=usage.ru_utime, cpu_system=usage.ru_stime, **self._permit_stats()))
        self.done.set()

    def _running(self) -> int:
        total = 0
        for scenario in self.open.values():
            total += len(scenario.running)
        for closed in self.closed.values():
            total += len(closed.running)
        return total

    def _interrupt_all(self) -> None:
        for scenario in self.open.values():
            scenario.interrupt()
        for closed in self.closed.values():
            closed.interrupt()


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lunge_mp.worker")
    parser.add_argument("--connect", required=True)
    parser.add_argument("--parent", type=int, default=None,
                        help="the coordinator's pid: leave when it is gone (default: the parent process)")
    parser.add_argument("--id", type=int, default=-1)
    # a remote worker (lunge-mp worker --connect tcp://...: remote/launcher.py)
    parser.add_argument("--name", default=None)
    parser.add_argument("--keys", default=None)
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--wait", type=float, default=60.0)
    args = parser.parse_args(argv)
    join = None
    if args.name is not None:
        from lunge_mp.remote import security

        try:
            keys = security.client_keys(args.connect, args.keys, args.insecure)
        except security.SetupError as exc:
            print(f"worker {args.name}: {exc}", file=sys.stderr)
            sys.exit(ExitCode.INVALID_INPUT)
        join = remote_join.RemoteJoin(name=args.name, keys=keys, wait_s=args.wait)
    sys.exit(run(args.connect, args.id, join, args.parent))


def run(endpoint: str, worker_id: int, remote: remote_join.RemoteJoin | None = None,
        parent: int | None = None) -> int:
    """The worker's life and its exit code; `python -m lunge_mp.worker` and a fork
    (coordinator/forking.py) alike."""
    # Ctrl-C reaches the whole process group; only the coordinator decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_nofile()
    worker = Worker(endpoint, worker_id, remote, parent)
    uvloop.run(worker.run())
    return worker.exit_code
