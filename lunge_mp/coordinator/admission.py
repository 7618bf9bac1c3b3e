"""Remote workers joining a run, and their clocks (with `run --listen`). Pure: no sockets.

    unknown peer --Hello--> admitted (the next remote worker id) or Refused(why)
    admitted: TimeProbe ⇄ TimeEcho × 8 (protocol/clock.py) → offset ± uncertainty → Start
    at Go: t0 on each worker's own clock (handshake.py adds the offset)

Worker ids: local 0..L-1 (routing ids `w<i>.<digest>`: protocol/routing.py), remote L..L+R-1 in the order they join. A
remote worker picks a random routing id of its own (kept when its tcp connection is re-made,
so a worker cut off for a while can rejoin) and names itself in Hello. It may join only
before the start, only while a remote place is free, only under a name no other worker of
the run has, and only with this coordinator's protocol version; otherwise it is told why
(`Reply(identity, Refused)`) and the refusal is logged. A frame from a peer that is no
worker of the run and is not a Hello is refused and logged. Local workers share the
coordinator's clock: offset 0, no probes.

Each worker id is bound to the Curve key its connection was authenticated with when it
joined (the ZAP handler's User-Id on every frame, which the loop turns into the key's
fingerprint: remote/keys.py; none for a local worker on ipc://). Any
authorized key holder can claim a routing id (ROUTER_HANDOVER lets a re-made connection keep
its id), so a frame on a worker's routing id from a connection with another key is refused
and logged with that key's fingerprint: nobody speaks for a worker but itself. (With
--insecure there are no keys: loopback only.)

A remote worker lost before the start frees its place: its id, name and clock are forgotten,
and the next worker to join takes it (within --wait). Lost means its connection closed (a send
to it failed), or it was silent for LOST_AFTER_S (health.py) with its connection still open (a
partition, a frozen machine, SIGSTOP): a joined worker sends a heartbeat every second from the
coordinator's first message on (worker/main.py), so silence before Go means the same as
during the run. Time the coordinator itself did not run (a gap between its handshake ticks,
which come every few ms) is no worker's silence: their frames wait unread meanwhile. The clock
exchanges cannot hang on it either: a worker silent in them is freed the same way, and one
that answered none of its probes too. A freed worker that speaks
again is refused (`Refused`: it exits 1 saying why), even if a place is still open, as a
worker that comes after the start is: it may hold a Start whose worker id is another's now,
and a worker says Hello only once, so it cannot join afresh; a new `lunge-mp worker` can.
A local one lost before the start still stops the run (the core's decision).

`RemoteJoin` is a part of `RunCore` (core.py), kept here so each file holds one concept.
"""

from __future__ import annotations

import re

import msgspec

from lunge_mp import capacity
from lunge_mp.coordinator.clock_watch import ClockWatch
from lunge_mp.coordinator.handshake import Handshake, Joining
from lunge_mp.coordinator.health import LOST_AFTER_S, Health
from lunge_mp.coordinator.outbox import Outbox
from lunge_mp.outcome import WorkerInfo
from lunge_mp.protocol import clock
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State, WorkerSession

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}")   # a worker's name and host: printable, short
WAITING = (State.GREETED, State.STARTED, State.READY)       # joined, not yet running: watched for silence
MAX_FREED = 4096      # freed routing ids remembered (to tell them why they are refused)
STALL_S = 1.0         # handshake ticks come every few ms: a longer gap is this process's own stall


class RemoteJoin:
    def __init__(self, local: int, remote: int, sessions: list[WorkerSession], info: list[WorkerInfo],
                 handshake: Handshake, health: Health, out: Outbox,
                 data_files: dict[str, bytes] | None = None) -> None:
        self.local = local
        self.remote = remote
        self.sessions = sessions
        self.info = info
        self.handshake = handshake
        self.health = health
        self.out = out
        self.data_files = data_files or {}     # coordinator path → contents: sent in a remote Start
        self.peaks: dict[str, float] = {}      # open scenarios' peak rates, for their capacity (capacity.py)
        self._capacity_told: set[str] = set()  # hosts warned about
        self._ids: dict[bytes, int] = {}       # routing id → worker id
        self._routing: dict[int, bytes] = {}
        self._freed: dict[bytes, str] = {}    # routing id of a worker freed before the start → why
        self._ticked: float | None = None     # the last handshake tick
        self.names: dict[int, str] = {}
        self.keys: dict[int, str] = {}         # remote worker id → the fingerprint of the Curve key it joined with
        self.probes: dict[int, clock.ClockProbe] = {}
        self.estimates: dict[int, clock.Estimate] = {}
        self.clocks = ClockWatch(self.estimates, info, out)     # during the run (clock_watch.py)

    # --- who is who ------------------------------------------------------------------------
    def is_remote(self, worker: int) -> bool:
        return worker >= self.local

    def identity(self, worker: int) -> bytes:
        return self._routing.get(worker, b"")

    def worker_of(self, identity: bytes) -> int | None:
        return self._ids.get(identity)

    def joined(self) -> int:
        return len(self._ids)

    def speaks_for(self, worker: int, key: str | None, what: str = "a message") -> bool:
        """Whether a frame on `worker`'s routing id came over a connection authenticated with
        the key that worker joined with (a local worker: none). If not, refused and logged."""
        joined = self.keys.get(worker)
        if key == joined:
            return True
        whose = f"{self.names[worker]}, key {_print(joined)}" if worker in self.names else "a local worker"
        self.health.refuse(f"{what} on the routing id of worker {worker} ({whose}) from a connection "
                           f"authenticated with key {_print(key)}: a worker speaks only for itself")
        return False

    def refusal(self, hello: m.Hello, started: bool) -> str | None:
        """Why this Hello from a new peer may not join, or None."""
        if hello.protocol != m.PROTOCOL_VERSION:
            return (f"it speaks protocol {hello.protocol}, this coordinator {m.PROTOCOL_VERSION}: "
                    f"run the same lunge-mp version on every machine")
        if started:
            return "the run has already started: workers join only before the start"
        if len(self._ids) >= self.remote:
            return f"all {self.remote} remote worker places are taken (--remote-workers {self.remote})"
        if not hello.name:
            return "it gave no name (lunge-mp worker sets one from --id)"
        if not NAME.fullmatch(hello.name) or (hello.host and not NAME.fullmatch(hello.host)):
            return "its name or host name is not 1-100 letters, digits and . _ - / : @ (give it another --id)"
        if hello.name in self.names.values():
            return f"another worker named {hello.name!r} has already joined: give each machine its own --id"
        return None

    # --- events ----------------------------------------------------------------------------
    def join(self, identity: bytes, data: bytes, started: bool, key: str | None = None) -> tuple[int, m.Hello] | None:
        """A frame from an unknown peer: (its new worker id, its Hello) if it may join. `key`:
        the fingerprint of the Curve key its connection was authenticated with (None: plaintext)."""
        if identity in self._freed:
            self._refuse_freed(identity)
            return None
        try:
            msg = m.decode(data)
        except Exception as exc:  # garbage from a bad peer: log and go on
            self.health.refuse(f"an undecodable frame from an unknown peer ({type(exc).__name__})")
            return None
        if not isinstance(msg, m.Hello):
            self.health.refuse(f"a {type(msg).__name__} from a peer that never said Hello")
            return None
        why = self.refusal(msg, started)
        if why is not None:
            self.health.refuse(f"worker {msg.name[:100] or '(unnamed)'!r} on host {msg.host[:100] or '?'!r} "
                               f"(pid {msg.pid}): {why}")
            self.out.reply(identity, m.Refused(reason=why))
            return None
        worker = min(set(range(self.local, self.local + self.remote)) - set(self._routing))  # a freed place first
        self._ids[identity] = worker
        self._routing[worker] = identity
        self.names[worker] = msg.name
        if key is not None:
            self.keys[worker] = key
        info = self.info[worker]
        info.pid, info.host, info.name, info.remote = msg.pid, msg.host, msg.name, True
        self.probes[worker] = clock.ClockProbe()
        if msg.host not in self._capacity_told:       # once a machine: its own selftest figure
            self._capacity_told.add(msg.host)
            for line in capacity.remote_warnings(self.peaks, len(self.sessions), msg.open_rate, msg.host):
                self.out.log(line)
        signed = f", key {_print(key)}" if key is not None else ""
        self.out.note(f"worker {worker} joined: {msg.name} on {msg.host} (pid {msg.pid}{signed}); "
                      f"{self.joined()} of {self.remote} remote")
        return worker, msgspec.structs.replace(msg, worker=worker)

    def clock_known(self, worker: int, now: float) -> bool:
        """Whether a greeted worker's clock is known (a local one's always is); sends the next
        probe when one is due. The loop's clock is `now` (monotonic seconds)."""
        probe = self.probes.get(worker)
        if probe is None:
            return True
        if not probe.done:
            seq = probe.next_probe(int(now * 1e9))
            if seq is not None:
                self.out.send(worker, m.TimeProbe(seq=seq))
            if not probe.done:
                return False
        del self.probes[worker]
        est = probe.result()
        if est is None:        # it never gets Start: its place goes to another
            self.free(worker, f"it answered none of its {probe.max_probes} clock probes")
            return False
        self._measured(worker, est)
        return True

    def tick(self, now: float) -> list[int]:
        """Every handshake tick: joined workers silent too long are freed; probes due; returns
        the greeted workers whose clock is known now."""
        stalled = now - self._ticked if self._ticked is not None else 0.0
        self._ticked = now
        if stalled > STALL_S:      # this process did not run (stopped, a paused VM): no worker's silence
            for worker in self._routing:
                self.info[worker].last_heard += stalled
        for worker, quiet in self.health.silent(now, WAITING):
            if worker in self._routing:
                self.free(worker, f"silent for {quiet:.1f}s (no heartbeat for over {LOST_AFTER_S:g}s: "
                                  f"stopped, frozen or cut off)")
        return [w for w in list(self.probes)
                if self.sessions[w].state is State.GREETED and self.clock_known(w, now)]

    def echo(self, worker: int, echo: m.TimeEcho, now: float) -> None:
        probe = self.probes.get(worker)
        if probe is None or not probe.answered(echo.seq, echo.received_ns, echo.sent_ns, int(now * 1e9)):
            self.health.refuse(f"a clock answer from worker {worker} to no probe in flight (seq {echo.seq})")

    def _measured(self, worker: int, est: clock.Estimate) -> None:
        self.estimates[worker] = est
        self.handshake.joining[worker].clock_offset_us = est.offset_ns // 1000
        info = self.info[worker]
        info.clock_offset_ms = round(est.offset_ns / 1e6, 3)
        info.clock_uncertainty_ms = round(est.uncertainty_ns / 1e6, 3)
        info.clock_rtt_ms = round(est.rtt_ns / 1e6, 3)
        self.out.note(f"worker {worker} clock: offset {info.clock_offset_ms:+.3f} ms "
                      f"± {info.clock_uncertainty_ms:.3f} ms (round trip {info.clock_rtt_ms:.3f} ms, "
                      f"best of {est.samples})")
        if est.uncertainty_ns > clock.WARN_UNCERTAINTY_NS:
            self.out.log(f"worker {worker} ({info.name} on {info.host}): its clock offset is known only to "
                         f"± {info.clock_uncertainty_ms:.1f} ms (round trip {info.clock_rtt_ms:.1f} ms): its "
                         f"arrivals may start up to that early or late, and its per-second buckets may not "
                         f"line up with the others' at the edges")

    def start_fields(self, worker: int) -> dict:
        """What a remote worker's Start carries beyond a local one's: the data files."""
        return {"data_files": self.data_files} if self.is_remote(worker) and self.data_files else {}

    def waiting_for(self) -> str:
        """Who had not joined or become ready when the handshake ran out of time."""
        missing = self.remote - self.joined()
        unready = [s.worker for s in self.sessions if s.state not in (State.NEW, State.READY)]
        parts = []
        if missing:
            parts.append(f"{missing} of {self.remote} remote worker(s) never joined "
                         f"(are they running lunge-mp worker --connect with keys this coordinator accepts?)")
        if unready:
            parts.append(f"worker(s) {', '.join(map(str, unready))} joined but did not become ready")
        return "; ".join(parts)

    def free(self, worker: int, why: str) -> None:
        """A remote worker lost before the start: its place is free again for the next to join."""
        identity = self._routing.pop(worker, None)
        if identity is None:
            return
        del self._ids[identity]
        name, host, key = self.names.pop(worker), self.info[worker].host, self.keys.get(worker)
        for held in (self.keys, self.probes, self.estimates):
            held.pop(worker, None)
        self.sessions[worker] = WorkerSession(worker, self.sessions[worker].run_id)
        self.info[worker] = WorkerInfo(worker)
        self.handshake.joining[worker] = Joining()
        who = f"{name} on {host}" + (f", key {key}" if key is not None else "")
        if len(self._freed) < MAX_FREED:
            self._freed[identity] = f"worker {worker} ({who}) lost its place before the start: {why}"
        self.out.log(f"worker {worker} ({who}) left before the start: {why}; its place is free "
                     f"for another worker ({self.joined()} of {self.remote} remote joined)")

    def _refuse_freed(self, identity: bytes) -> None:
        """A worker freed before the start speaks again (resumed, or its partition healed)."""
        why = self._freed[identity]
        self.health.refuse(f"{why}, and spoke again: told it is not in the run")
        self.out.reply(identity, m.Refused(reason=(
            f"{why}; a worker freed before the start does not come back (as one that comes after the "
            f"start does not): run lunge-mp worker again to join while a place is free")))

    def dismiss(self, reason: str) -> int:
        """The run did not start: remote workers that joined are told why (they exit 1 at once)."""
        told = 0
        for w, identity in self._routing.items():
            if self.sessions[w].state in (State.GREETED, State.STARTED, State.READY):
                self.out.reply(identity, m.Refused(reason=f"the run did not start: {reason}"))
                told += 1
        return told



def _print(key: str | None) -> str:
    return "none (plaintext)" if key is None else key
