"""Worker health on the coordinator: who is live, who is lost, and what bad peers sent. Pure:
times are the loop's monotonic seconds, passed in.

- A worker is *lost* when its process exits, it is silent for LOST_AFTER_S (it sends a
  heartbeat every second), a message cannot be handed to it (disconnected, or its queue is
  full because it stopped reading), or it says goodbye with an error. What it reported stays
  in the results; its share of the load moves to the others from the next tick (open model:
  arrivals are dealt over the live workers; closed model: VU targets are re-split over them
  each tick; iteration-based scenarios: coordinator/iterations.py). No worker left: exit 112.
  Before the start, a remote worker silent that long (joined, then frozen or cut off with
  its connection still open) is not lost but freed: its place opens again (admission.py).
- A worker silent for SUSPECT_AFTER_S gets no new arrivals until it speaks again, so a stall
  costs less before it is declared lost.
- A worker lost *by silence* that speaks again (stopped with SIGSTOP, then SIGCONT) rejoins:
  it is live again (`rejoinedAt`, and a warning "worker N was lost at Xs (silent) and rejoined
  at Ys"), from the next tick it gets open-model arrivals and its closed-model VU share again,
  and its reports are merged again. Nothing is counted twice: nothing it sent was refused in
  between (it sent nothing while stopped), and a report seq already seen is refused
  (protocol/session.py), a skipped one is a gap. The arrivals it had queued before the stop
  are no burst: it gets no new arrivals once it is silent for SUSPECT_AFTER_S, so when it is
  lost every arrival it holds is over 1 s late, and its dispatcher drops such arrivals as
  `behind` (worker/open_model.py BEHIND_S); those drops count as scheduled, so its later
  reports account for them. Iteration-based scenarios keep their fixed shares: it goes on
  with its own. What it missed while lost is sent when it rejoins (dealing.py `catch_up`); if
  the run is already stopping, it is sent the same Stop. `WorkerInfo.lost` is False again,
  `lost_at` is kept for the results.
- A worker lost any other way that speaks again is refused: it is told to stop and nothing
  it sends is counted.
- A worker gone for good: its arrivals not yet due are dealt again over the live workers
  (dealing.py `take_back`). The arrivals handed to a lost worker that its accepted reports do
  not end are reported per worker and per scenario (`arrivalsUnaccounted`): some may have
  reached the target, never guessed.
- A message from an unknown peer, an undecodable frame, or one its session does not allow is
  refused and logged (the first MAX_REFUSAL_WARNINGS distinct ones; the rest are counted).
  ZeroMQ itself drops frames over the socket's MAXMSGSIZE and disconnects their sender.
"""

from __future__ import annotations

import signal

from lunge_mp.coordinator.arrival_ledger import ArrivalLedger
from lunge_mp.coordinator.outbox import Outbox
from lunge_mp.outcome import RunOutcome, WorkerInfo
from lunge_mp.protocol.liveness import LOST_AFTER_S     # no heartbeat for this long: lost
from lunge_mp.protocol.session import State, WorkerSession

SUSPECT_AFTER_S = 1.5        # no message for this long: no new arrivals for it until it speaks
MAX_REFUSAL_WARNINGS = 20    # distinct refusals listed in the warnings; the rest are counted

WATCHED = (State.RUNNING, State.READY, State.STOPPING)   # may be lost by an exit or by silence


class Health:
    def __init__(self, sessions: list[WorkerSession], info: list[WorkerInfo], outcome: RunOutcome,
                 out: Outbox) -> None:
        self.sessions, self.info, self.outcome, self.out = sessions, info, outcome, out
        self.pids = [0] * len(sessions)          # process ids the loop spawned (for the log line)
        self.refusals: dict[str, int] = {}       # refusal text → how many times
        self.after_loss: dict[int, int] = {}     # lost worker → messages it sent since

    def heard(self, worker: int, now: float) -> None:
        self.info[worker].last_heard = now

    def responsive(self, live: list[int], now: float) -> list[int]:
        """Live workers heard from lately: arrivals go to these, so a worker that stalls stops
        getting work before it is declared lost."""
        heard = [w for w in live if now - self.info[w].last_heard <= SUSPECT_AFTER_S]
        return heard or live

    def silent(self, now: float, states: tuple[State, ...] = WATCHED) -> list[tuple[int, float]]:
        """(worker, seconds silent) of workers in `states` silent for over LOST_AFTER_S."""
        out = []
        for s in self.sessions:
            if s.state in states:
                quiet = now - self.info[s.worker].last_heard
                if quiet > LOST_AFTER_S:
                    out.append((s.worker, quiet))
        return out

    def refuse(self, text: str) -> None:
        """A message from a bad peer, or one its session does not allow: logged, never fatal."""
        self.outcome.refused += 1
        seen = self.refusals.get(text, 0)
        self.refusals[text] = seen + 1
        if not seen and len(self.refusals) <= MAX_REFUSAL_WARNINGS:
            self.out.log(f"refused: {text}")

    def mark_lost(self, worker: int, why: str, silent: bool, t: float | None) -> bool:
        """Its session and info say lost (`t`: seconds after t0, None before Go). False if it
        was not live (already lost, done, or never greeted)."""
        session, info = self.sessions[worker], self.info[worker]
        if session.state in (State.LOST, State.DONE, State.NEW):
            return False
        info.rejoin_to = session.state if silent and session.state in (State.RUNNING, State.STOPPING) else None
        session.lost()
        info.lost = True
        info.lost_at = round(t, 3) if t is not None else None
        info.error = why
        at = f" at {info.lost_at:.1f}s" if info.lost_at is not None else ""
        self.out.log(f"worker {worker} (pid {info.pid or self.pids[worker]}) lost{at}: {why}; "
                     f"its share of the load moves to the other workers")
        return True

    def may_rejoin(self, worker: int) -> bool:
        return self.info[worker].rejoin_to is not None

    def mark_rejoined(self, worker: int, now: float, t: float) -> None:
        session, info = self.sessions[worker], self.info[worker]
        session.rejoined(info.rejoin_to)
        info.rejoin_to = None
        info.lost = False
        info.last_heard = now
        info.rejoined_at = round(t, 3)
        self.out.log(f"worker {worker} was lost at {info.lost_at:.1f}s (silent) and rejoined at "
                     f"{info.rejoined_at:.1f}s: its reports count again and it gets its share of the load "
                     f"from the next tick")

    def spoke_after_loss(self, worker: int) -> bool:
        """A worker lost other than by silence speaks again: nothing it sends is counted. True
        the first time (it is then told to stop)."""
        first = worker not in self.after_loss
        self.after_loss[worker] = self.after_loss.get(worker, 0) + 1
        self.outcome.refused += 1
        if first:
            self.out.log(f"worker {worker} spoke again after it was lost at {self.info[worker].lost_at}s: "
                         f"it is told to stop, and nothing it sends from now on is counted")
        return first

    def summarise_lost(self, ledger: ArrivalLedger) -> None:
        """A lost worker's arrivals that no report accounts for (arrival_ledger.py): those it
        had started may have reached the target, the rest never will. Said, never guessed."""
        out = self.outcome
        for info in self.info:
            info.assigned = ledger.assigned_to(info.worker)
            info.redealt = ledger.taken_from(info.worker)
            for name in ledger.open:
                redealt = ledger.taken_from(info.worker, name)
                if redealt:
                    out.arrivals_redealt[name] = out.arrivals_redealt.get(name, 0) + redealt
            if not info.lost:      # never lost, or lost by silence and rejoined
                continue
            info.unaccounted = ledger.unaccounted(info.worker)
            for name in ledger.open:
                n = ledger.unaccounted(info.worker, name)
                if n:
                    out.arrivals_unaccounted[name] = out.arrivals_unaccounted.get(name, 0) + n
                    out.arrivals_started_unknown[name] = (out.arrivals_started_unknown.get(name, 0)
                                                          + ledger.started_unknown(info.worker, name))
            if info.unaccounted:
                started = ledger.started_unknown(info.worker)
                self.out.warn(f"worker {info.worker} was lost with {info.unaccounted:,} of the {info.assigned:,} "
                              f"arrivals handed to it not accounted for by its reports ({started:,} in flight at "
                              f"its last report, the others due after it and before its loss was known): some may "
                              f"have reached the target, none is counted as a request")

    def summarise_refusals(self) -> None:
        for worker, n in sorted(self.after_loss.items()):
            self.out.warn(f"worker {worker}: {n:,} message(s) after it was declared lost were ignored "
                          f"(its reports are not counted)")
        hidden = sum(self.refusals.values()) - min(len(self.refusals), MAX_REFUSAL_WARNINGS)
        if hidden > 0:
            self.out.warn(f"{hidden:,} more refused message(s) not listed (bad peers or out-of-order messages)")


def exit_text(code: int) -> str:
    """`exited with code 3`, or `killed by SIGKILL` for a negative Popen return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def saturation_warnings(saturation: dict[tuple[str, str], list[int]]) -> list[str]:
    """Once per worker and kind, with how long it lasted."""
    out = []
    for (wid, kind), seconds in sorted(saturation.items()):
        what = "was near a full core" if kind == "cpu" else "ran its event loop over 50 ms late"
        out.append(f"worker {wid} {what} in {len(seconds)} second(s), first at {seconds[0]}s: its "
                   f"latencies include its own queueing; add workers or lower the load")
    return out
