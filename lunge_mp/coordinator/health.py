"""Worker health on the coordinator: who is live, who is lost, and what bad peers sent.

- A worker is *lost* when its process exits, it is silent for LOST_AFTER_S (it sends a
  heartbeat every second), a message cannot be handed to it (disconnected, or its queue is
  full because it stopped reading), or it says goodbye with an error. What it reported stays
  in the results; its share of the load moves to the others from the next tick (open model:
  arrivals are dealt over the live workers; closed model: VU targets are re-split over them
  each tick). Iteration-based scenarios keep the shares fixed at their start: a lost worker's
  remaining iterations are not run elsewhere. No worker left: exit 112.
- A worker silent for SUSPECT_AFTER_S gets no new arrivals until it speaks again, so a stall
  costs less before it is declared lost.
- A lost worker that speaks again (stopped with SIGSTOP, then SIGCONT) is refused: it is told
  to stop and nothing it sends is counted, so nothing is counted twice.
- The arrivals handed to a lost worker that its accepted reports do not account for are
  reported per worker (`arrivalsUnaccounted`): some may have reached the target, never guessed.
- A message from an unknown peer, an undecodable frame, or one its session does not allow is
  refused and logged (the first MAX_REFUSAL_WARNINGS distinct ones; the rest are counted).
  ZeroMQ itself drops frames over the socket's MAXMSGSIZE and disconnects their sender.

`WorkerHealth` is a part of `Coordinator` (run.py), kept here so each file holds one concern.
"""

from __future__ import annotations

import signal
import time

import zmq

from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State

LOST_AFTER_S = 3.0           # no heartbeat for this long: the worker is lost
SUSPECT_AFTER_S = 1.5        # no message for this long: no new arrivals for it until it speaks
MAX_REFUSAL_WARNINGS = 20    # distinct refusals listed in the warnings; the rest are counted
EXIT_LOST_WORKERS = 112


class WorkerHealth:
    """Mixed into Coordinator: uses its sessions, info, pool, lifecycle, outcome and log."""

    def _refuse(self, text: str) -> None:
        """A message from a bad peer, or one its session does not allow: logged, never fatal."""
        self.outcome.refused += 1
        seen = self._refusals.get(text, 0)
        self._refusals[text] = seen + 1
        if not seen and len(self._refusals) <= MAX_REFUSAL_WARNINGS:
            self.log(f"refused: {text}")

    def responsive_workers(self) -> list[int]:
        """Live workers heard from lately: arrivals go to these, so a worker that stalls (it
        sends a heartbeat every second) stops getting work before it is declared lost."""
        now = time.monotonic()
        live = self.live_workers()
        heard = [w for w in live if now - self.info[w].last_heard <= SUSPECT_AFTER_S]
        return heard or live

    def _check_workers(self) -> None:
        """A worker whose process ended or that went silent is lost; its share moves on."""
        now = time.monotonic()
        for s in self.sessions:
            if s.state not in (State.RUNNING, State.READY, State.STOPPING):
                continue
            code = self.pool.exited(s.worker)
            silent = now - self.info[s.worker].last_heard
            if code is not None:
                self._lose(s.worker, exit_text(code))
            elif silent > LOST_AFTER_S:
                self._lose(s.worker, f"silent for {silent:.1f}s")

    def _lose(self, worker: int, why: str) -> None:
        """Mark a worker lost: what it already reported stays, its share moves to the others
        from the next tick, and the run stops with 112 when none is left."""
        session, info = self.sessions[worker], self.info[worker]
        if session.state in (State.LOST, State.DONE, State.NEW):
            return
        session.lost()
        info.lost_at = round(self.now(), 3) if self.t0_ns else None
        info.error = why
        at = f" at {info.lost_at:.1f}s" if info.lost_at is not None else ""
        self.log(f"worker {worker} (pid {info.pid or self.pool.pid(worker)}) lost{at}: {why}; "
                 f"its share of the load moves to the other workers")
        self.lifecycle.worker_lost(self.live_workers(), self.now())
        if not self.live_workers() and self.t0_ns:
            self.request_stop("lost all workers", EXIT_LOST_WORKERS)
        if all(s.state in (State.DONE, State.LOST, State.NEW) for s in self.sessions):
            self._byes.set()

    async def _after_lost(self, worker: int, msg: m.Message) -> None:
        """A worker declared lost speaks again (it was stopped, not dead). Its share has moved
        on, so nothing it sends is counted (no double counting) and it is told to stop."""
        first = worker not in self._after_loss
        self._after_loss[worker] = self._after_loss.get(worker, 0) + 1
        self.outcome.refused += 1
        if first:
            self.log(f"worker {worker} spoke again after it was lost at {self.info[worker].lost_at}s: "
                     f"it is told to stop, and nothing it sends from now on is counted")
            try:
                await self._send_raw(worker, m.Stop(deadline_us=0, hard=True, reason="declared lost"))
            except zmq.ZMQError:
                pass

    def _summarise_lost(self) -> None:
        """A lost worker's arrivals that no report accounts for: some may have reached the target
        (it had started them), the rest never will. Said, never guessed."""
        for info in self.info:
            if info.lost_at is None:
                continue
            info.unaccounted = max(0, info.assigned - info.scheduled)
            if info.unaccounted:
                self.warn(f"worker {info.worker} was lost with {info.unaccounted:,} of the {info.assigned:,} "
                          f"arrivals handed to it not accounted for by its reports (those it had started "
                          f"may have reached the target; the others never ran)")

    def _summarise_refusals(self) -> None:
        for worker, n in sorted(self._after_loss.items()):
            self.warn(f"worker {worker}: {n:,} message(s) after it was declared lost were ignored "
                      f"(its reports are not counted)")
        hidden = sum(n for n in self._refusals.values()) - min(len(self._refusals), MAX_REFUSAL_WARNINGS)
        if hidden > 0:
            self.warn(f"{hidden:,} more refused message(s) not listed (bad peers or out-of-order messages)")


def exit_text(code: int) -> str:
    """`exited with code 3`, or `killed by SIGKILL` for a negative Popen return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"
