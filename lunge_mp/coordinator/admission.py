"""Remote workers joining a run, and their clocks (with `--listen`: coordinator/remote_pool.py).

    unknown peer --Hello--> admitted (a worker id) or Refused(why)
    admitted: TimeProbe ⇄ TimeEcho × 8 (protocol/clock.py) → offset ± uncertainty → Start
    at Go: t0 on each worker's own clock (t0 + its offset)

A message from a peer that is no worker of the run and is not a Hello is refused and logged
(never fatal). Local workers share the coordinator's clock: offset 0, no probes.

`Admission` is a part of `Coordinator` (run.py), kept here so each file holds one concern.
"""

from __future__ import annotations

import asyncio
import time

import msgspec
import zmq

from lunge_mp.limits import DATA_FILE_BYTES
from lunge_mp.protocol import clock
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State


class Admission:
    """Mixed into Coordinator: uses its pool, sessions, info, sock, t0_ns, log and _refuse."""

    async def _from_unknown(self, identity: bytes, data: bytes) -> None:
        """A frame from a peer that is no worker of the run: a remote worker's Hello, or refused."""
        if not self.pool.remote:
            self._refuse(f"a message from an unknown peer {identity[:40]!r} ({len(data):,} bytes)")
            return
        try:
            msg = m.decode(data)
        except Exception as exc:  # garbage from a bad peer: log and go on
            self._refuse(f"an undecodable frame from an unknown peer ({type(exc).__name__})")
            return
        if not isinstance(msg, m.Hello):
            self._refuse(f"a {type(msg).__name__} from a peer that never said Hello")
            return
        who = f"worker {msg.name[:100] or '(unnamed)'!r} on host {msg.host[:100] or '?'!r} (pid {msg.pid})"
        why = self.pool.refusal(msg, started=bool(self.t0_ns) or self.stop_requested is not None)
        if why is not None:
            self._refuse(f"{who}: {why}")
            try:
                await self.sock.send_multipart([identity, m.encode(m.Refused(reason=why))], flags=zmq.NOBLOCK)
            except zmq.ZMQError:
                pass          # gone already, or not reading: it learns nothing more
            return
        worker = self.pool.admit(identity, msg.name)
        self.sessions[worker].received(msgspec.structs.replace(msg, worker=worker))
        info = self.info[worker]
        info.pid, info.host, info.name, info.remote = msg.pid, msg.host, msg.name, True
        info.last_heard = time.monotonic()
        self._clock_probes[worker] = clock.ClockProbe()
        self._announce(f"worker {worker} joined: {msg.name} on {msg.host} (pid {msg.pid}); "
                       f"{self.pool.joined()} of {self.pool.remote} remote")

    def _announce(self, text: str) -> None:
        if getattr(self.pool, "announce", None) is not None:
            self.pool.announce(text)

    async def _clock_ready(self, worker: int) -> bool:
        """Whether a greeted worker's clock is known (a local one's always is); sends the next
        probe when one is due."""
        probe = self._clock_probes.get(worker)
        if probe is None:
            return True
        if not probe.done:
            seq = probe.next_probe(time.monotonic_ns())
            if seq is not None:
                await self.send(worker, m.TimeProbe(seq=seq))
            if not probe.done:
                return False
        del self._clock_probes[worker]
        est = probe.result()
        info = self.info[worker]
        if est is None:
            self._lose(worker, "it answered none of the clock probes")
            return False
        self.clock_offsets[worker] = est
        info.clock_offset_ms = round(est.offset_ns / 1e6, 3)
        info.clock_uncertainty_ms = round(est.uncertainty_ns / 1e6, 3)
        info.clock_rtt_ms = round(est.rtt_ns / 1e6, 3)
        self._announce(f"worker {worker} clock: offset {info.clock_offset_ms:+.3f} ms "
                       f"± {info.clock_uncertainty_ms:.3f} ms (round trip {info.clock_rtt_ms:.3f} ms, "
                       f"best of {est.samples})")
        if est.uncertainty_ns > clock.WARN_UNCERTAINTY_NS:
            self.warn(f"worker {worker} ({info.name} on {info.host}): its clock offset is known only to "
                      f"± {info.clock_uncertainty_ms:.1f} ms (round trip {info.clock_rtt_ms:.1f} ms): its "
                      f"arrivals may start up to that early or late, and its per-second buckets may not "
                      f"line up with the others' at the edges")
        return True

    def _on_echo(self, worker: int, echo: m.TimeEcho) -> None:
        probe = self._clock_probes.get(worker)
        if probe is None or not probe.answered(echo.seq, echo.received_ns, echo.sent_ns, time.monotonic_ns()):
            self._refuse(f"a clock answer from worker {worker} to no probe in flight (seq {echo.seq})")

    def _remote_start_fields(self, worker: int) -> dict:
        """What a remote worker's Start carries beyond a local one's: the data files."""
        if not self.pool.is_remote(worker):
            return {}
        if self._data_files is None:        # read once, for every remote worker
            self._data_files = {}
            sources = list(self.worker_plan.data) + [d for s in self.worker_plan.scenarios for d in s.data]
            for source in sources:
                path = source.path or source.file
                if path not in self._data_files:
                    with open(path, "rb") as f:
                        self._data_files[path] = f.read(DATA_FILE_BYTES + 1)
        return {"data_files": self._data_files}

    def _t0_us_for(self, worker: int) -> int:
        """t0 on the worker's own monotonic clock."""
        est = self.clock_offsets.get(worker, clock.SAME_CLOCK)
        return est.to_worker(self.t0_ns) // 1000

    async def _dismiss_remote(self) -> None:
        """The run did not start: remote workers that joined are told why (they exit 1 at once
        rather than after the coordinator's silence)."""
        reason = f"the run did not start: {self.outcome.abort or 'stopped'}"
        told = 0
        for s in self.sessions:
            if self.pool.is_remote(s.worker) and s.state in (State.GREETED, State.STARTED, State.READY):
                try:
                    await self.sock.send_multipart([self.pool.identity(s.worker), m.encode(m.Refused(reason=reason))],
                                                   flags=zmq.NOBLOCK)
                    told += 1
                except zmq.ZMQError:
                    pass
        if told:
            await asyncio.sleep(0.2)     # the socket closes without linger: let the messages go first

    def _waiting_for(self) -> str:
        """Who had not joined or become ready when the handshake ran out of time."""
        missing = self.pool.remote - self.pool.joined() if self.pool.remote else 0
        unready = [s.worker for s in self.sessions if s.state not in (State.NEW, State.READY)]
        parts = []
        if missing:
            parts.append(f"{missing} of {self.pool.remote} remote worker(s) never joined "
                         f"(are they running lunge-mp worker --connect with keys this coordinator accepts?)")
        if unready:
            parts.append(f"worker(s) {', '.join(map(str, unready))} joined but did not become ready")
        return "; ".join(parts)
