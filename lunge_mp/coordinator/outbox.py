"""What the coordinator core decided, for the run loop to carry out (pure: no sockets).

The core (coordinator/core.py) never sends or prints: every event it takes leaves actions
here, and the loop (coordinator/run.py) takes them in order:

- `Send(worker, msg)`: one message to one worker. The worker's `WorkerSession` has already
  seen it (`sent`), so the protocol state moves when the decision is made. A send the loop
  cannot hand over comes back as the event `RunCore.send_failed`; later sends of the same
  batch to a worker lost meanwhile are dropped (`RunCore.deliverable`).
- `Log(text)`: a line for the person watching now; it is also one of the run's warnings.
- `Merged(report)`: a worker's report was accepted and merged (for the Redis queue monitor).
- `Reply(identity, msg)`: one message to a peer that is no worker of the run, by its socket
  identity (a remote worker refused: admission.py).
- `Note(text)`: a line for the person watching that is no warning (a remote worker joined).
"""

from __future__ import annotations

from dataclasses import dataclass

from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import WorkerSession


@dataclass(frozen=True, slots=True)
class Send:
    worker: int
    msg: m.Message
    raw: bool = False     # to a worker declared lost (the Stop that tells it so): no session says yes


@dataclass(frozen=True, slots=True)
class Log:
    text: str


@dataclass(frozen=True, slots=True)
class Merged:
    report: m.Report


@dataclass(frozen=True, slots=True)
class Reply:
    identity: bytes
    msg: m.Message


@dataclass(frozen=True, slots=True)
class Note:
    text: str


Action = Send | Log | Merged | Reply | Note


class Outbox:
    """Actions in the order they were decided; warnings go straight into the run's list."""

    def __init__(self, sessions: list[WorkerSession], warnings: list[str]) -> None:
        self.sessions = sessions
        self.warnings = warnings
        self.actions: list[Action] = []

    def send(self, worker: int, msg: m.Message) -> None:
        self.sessions[worker].sent(msg)
        self.actions.append(Send(worker, msg))

    def send_raw(self, worker: int, msg: m.Message) -> None:
        self.actions.append(Send(worker, msg, raw=True))

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def log(self, text: str) -> None:
        """A warning that the person watching should also see now."""
        self.warn(text)
        self.actions.append(Log(text))

    def merged(self, report: m.Report) -> None:
        self.actions.append(Merged(report))

    def reply(self, identity: bytes, msg: m.Message) -> None:
        self.actions.append(Reply(identity, msg))

    def note(self, text: str) -> None:
        self.actions.append(Note(text))

    def take(self) -> list[Action]:
        actions, self.actions = self.actions, []
        return actions
