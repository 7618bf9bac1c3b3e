"""Driving the coordinator core (coordinator/core.py) by hand: no socket, no processes, a
clock the test moves. Workers are played by the test: they greet, heartbeat and report when
told; every action the core returns is kept, in order."""

from __future__ import annotations

from lunge_mp.coordinator.core import RunCore, RunPhase
from lunge_mp.coordinator.outbox import Log, Send
from lunge_mp.plan import Options, Plan, RequestSpec, ScenarioPlan
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State
from tests.plans import scenario_of

REQ = (RequestSpec(name="r", method="GET", url="http://127.0.0.1/"),)
RUN_ID = "0123456789ab"


def scenario(name: str, executor: str = "constant-vus", **kw) -> ScenarioPlan:
    kw.setdefault("duration", 3.0)
    kw.setdefault("graceful_stop", 0.5)
    kw.setdefault("vus", 2)
    return scenario_of(executor, name=name, requests=REQ, **kw)


class Run:
    def __init__(self, *scenarios: ScenarioPlan, workers: int = 2, sequential: bool = False,
                 control=None, **plan) -> None:
        self.core = RunCore(Plan(name="p", scenarios=scenarios, options=Options(sequential=sequential), **plan),
                            workers, run_id=RUN_ID, control=control)
        self.now = 1000.0                  # the loop's monotonic clock
        self.sent: list[tuple[int, m.Message]] = []
        self.logs: list[str] = []
        self.quiet: set[int] = set()       # workers that send nothing (stopped, hung)
        self.seq = [0] * workers
        self.keep(self.core.take())

    # --- what the core decided --------------------------------------------------------------
    def keep(self, actions) -> list:
        for a in actions:
            if isinstance(a, Send):
                if self.core.deliverable(a):
                    self.sent.append((a.worker, a.msg))
            elif isinstance(a, Log):
                self.logs.append(a.text)
        return actions

    def to(self, worker: int, kind: type | None = None) -> list[m.Message]:
        return [msg for w, msg in self.sent if w == worker and (kind is None or isinstance(msg, kind))]

    def clear(self) -> None:
        self.sent.clear()
        self.logs.clear()

    # --- time --------------------------------------------------------------------------------
    def at(self, t: float) -> None:
        """Move the clock to `t` seconds after t0."""
        self.now = self.core.t0 + t

    def tick(self, t: float | None = None, heard: bool = True) -> None:
        """The loop's timer at `t`; before it every worker not quiet sends a heartbeat."""
        if t is not None:
            self.at(t)
        if heard:
            for s in self.core.sessions:
                if s.worker not in self.quiet and s.state in (State.RUNNING, State.STOPPING, State.READY):
                    self.say(s.worker, m.Heartbeat(worker=s.worker))
        self.keep(self.core.tick(self.now))

    # --- the workers' side -----------------------------------------------------------------
    def say(self, worker: int, msg: m.Message) -> None:
        self.keep(self.core.received(worker, msg, self.now))

    def start(self) -> None:
        """The handshake: Hello and Ready from every worker, Go; the clock at t0."""
        for w in range(self.core.workers):
            self.say(w, m.Hello(worker=w, pid=4000 + w))
        self.now += 0.01
        for w in range(self.core.workers):
            self.say(w, m.Ready(worker=w))
        self.keep(self.core.tick(self.now))
        assert self.core.phase is RunPhase.RUNNING
        self.at(0.0)

    def report(self, worker: int, *deltas: m.ScenarioDelta) -> None:
        self.say(worker, m.Report(worker=worker, run_id=RUN_ID, seq=self.seq[worker], bucket=0,
                                  scenarios=list(deltas)))
        self.seq[worker] += 1

    def bye(self, worker: int, error: str = "") -> None:
        self.say(worker, m.Bye(worker=worker, reports=self.seq[worker], error=error))

    def exits(self, worker: int, code: int = -9) -> None:
        self.keep(self.core.exited(worker, code, self.now))

    def arrivals(self, worker: int, scenario: str) -> list[tuple[int, int]]:
        """(global index, instant µs) of every arrival sent to `worker`."""
        return [(a.first_index + i * a.stride, o) for a in self.to(worker, m.Assign) if a.scenario == scenario
                for i, o in enumerate(a.offsets_us)]
