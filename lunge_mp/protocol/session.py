"""Protocol state without sockets: which message is allowed when (h11's sans-IO idea).

The coordinator keeps one `WorkerSession` per worker and feeds it every message it
receives from, and sends to, that worker. An out-of-order or foreign message raises
`ProtocolError`; the socket code logs it and goes on, so a bad peer cannot derail a run.

    NEW --Hello--> GREETED (--TimeProbe/TimeEcho-- a remote worker's clock) --Start--> STARTED --Ready--> READY --Go--> RUNNING
    RUNNING --Stop--> STOPPING --Bye--> DONE;   any state --lost()--> LOST
    LOST --rejoined(RUNNING | STOPPING)--> the state it was lost in (lost by silence only)
"""

from __future__ import annotations

import enum

from lunge_mp.protocol.messages import (
    PROTOCOL_VERSION,
    AddIterations,
    Assign,
    Bye,
    EndScenario,
    ScenarioDone,
    Go,
    Heartbeat,
    Hello,
    Hold,
    PermitGrant,
    PermitRequest,
    Ready,
    Release,
    Report,
    SetVUs,
    Start,
    Stop,
    TimeEcho,
    TimeProbe,
)


class ProtocolError(Exception):
    """A message that is not allowed now, or belongs to another run or version."""


class State(enum.Enum):
    NEW = "new"
    GREETED = "greeted"
    STARTED = "started"
    READY = "ready"
    RUNNING = "running"
    STOPPING = "stopping"
    DONE = "done"
    LOST = "lost"


_LIVE = (State.GREETED, State.STARTED, State.READY, State.RUNNING, State.STOPPING)


class WorkerSession:
    """The coordinator's view of one worker's conversation."""

    def __init__(self, worker: int, run_id: str) -> None:
        self.worker = worker
        self.run_id = run_id
        self.state = State.NEW
        self.pid = 0
        self.next_seq = 0          # the Report seq expected next
        self.missing: list[tuple[int, int]] = []   # [first, last] seq ranges never received
        self.reports_announced: int | None = None  # from Bye

    @property
    def alive(self) -> bool:
        return self.state in _LIVE

    # --- messages received from the worker -------------------------------------------
    def received(self, msg: object) -> None:
        match msg:
            case Hello(worker=w, pid=pid, protocol=version):
                self._expect(State.NEW, msg)
                if version != PROTOCOL_VERSION:
                    raise ProtocolError(
                        f"worker {w} speaks protocol {version}, this coordinator {PROTOCOL_VERSION}")
                if w != self.worker:
                    raise ProtocolError(f"worker {w} greeted on the identity of worker {self.worker}")
                self.pid = pid
                self.state = State.GREETED
            case Ready():
                self._expect(State.STARTED, msg)
                self.state = State.READY
            case Report(run_id=run_id, seq=seq):
                self._expect_in((State.RUNNING, State.STOPPING), msg)
                if run_id != self.run_id:
                    raise ProtocolError(f"report from run {run_id!r}, this run is {self.run_id!r}")
                if seq < self.next_seq:
                    raise ProtocolError(f"duplicate report seq {seq} from worker {self.worker}")
                if seq > self.next_seq:
                    self.missing.append((self.next_seq, seq - 1))
                self.next_seq = seq + 1
            case TimeEcho():
                self._expect(State.GREETED, msg)
            case ScenarioDone() | PermitRequest():
                self._expect_in((State.RUNNING, State.STOPPING), msg)
            case Heartbeat():
                if not self.alive:
                    raise ProtocolError(f"heartbeat from worker {self.worker} in state {self.state.value}")
            case Bye(reports=n):    # from STARTED: it refused the plan (worker/preflight.py)
                self._expect_in((State.STARTED, State.READY, State.RUNNING, State.STOPPING), msg)
                self.reports_announced = n
                if n > self.next_seq:
                    self.missing.append((self.next_seq, n - 1))
                    self.next_seq = n
                self.state = State.DONE
            case _:
                raise ProtocolError(f"unexpected {type(msg).__name__} from worker {self.worker}")

    # --- messages sent to the worker ---------------------------------------------------
    def sent(self, msg: object) -> None:
        match msg:
            case TimeProbe():
                self._expect(State.GREETED, msg)
            case Start():
                self._expect(State.GREETED, msg)
                self.state = State.STARTED
            case Go():
                self._expect(State.READY, msg)
                self.state = State.RUNNING
            case Assign() | SetVUs() | EndScenario() | AddIterations() | Hold() | Release():
                self._expect(State.RUNNING, msg)
            case PermitGrant():
                self._expect_in((State.RUNNING, State.STOPPING), msg)
            case Stop():
                if self.state in (State.READY, State.RUNNING):
                    self.state = State.STOPPING
            case Heartbeat():
                pass
            case _:
                raise ProtocolError(f"the coordinator does not send {type(msg).__name__}")

    def lost(self) -> None:
        self.state = State.LOST

    def rejoined(self, state: State) -> None:
        """A worker lost by silence speaks again: back to the state it was lost in. Report
        seqs go on from where they were, so a repeated one is still refused."""
        if self.state is not State.LOST or state not in (State.RUNNING, State.STOPPING):
            raise ProtocolError(f"worker {self.worker} cannot rejoin from {self.state.value} to {state.value}")
        self.state = state

    def _expect(self, state: State, msg: object) -> None:
        self._expect_in((state,), msg)

    def _expect_in(self, states: tuple[State, ...], msg: object) -> None:
        if self.state not in states:
            raise ProtocolError(
                f"{type(msg).__name__} not allowed for worker {self.worker} in state {self.state.value}")
