"""Worker health on the coordinator: who is live, who is lost, and what bad peers sent.

- A worker is *lost* when its process exits, it is silent for LOST_AFTER_S (it sends a
  heartbeat every second), a message cannot be handed to it (disconnected, or its queue is
  full because it stopped reading), or it says goodbye with an error. What it reported stays
  in the results; its share of the load moves to the others from the next tick (open model:
  arrivals are dealt over the live workers; closed model: VU targets are re-split over them
  each tick). Iteration-based scenarios (shared-iterations, per-vu-iterations) fix each
  worker's share at their start; a worker gone for good (its process exited, it said Bye with
  an error, a send to it failed — not one lost by silence, which may rejoin and go on with
  its own share) has the rest of its share moved (`_move_iterations`): its share minus the
  iterations its accepted reports account for (completed + interrupted) goes to one live
  worker still running the scenario (`AddIterations`; one that had finished it starts again
  and says ScenarioDone again; a ScenarioDone that does not cover every added iteration is
  stale and ignored). Iterations it ran after its last report or had in flight are unknown
  and run again: the results count exactly N (per-vu: VUs × N), the target may have seen up
  to those more (at most about one report interval of its iterations plus its VU count).
  Nothing is moved once the scenario is ending or the run is stopping, or when no live worker
  has VUs of it: a warning says how many could not be re-run. No worker left: exit 112.
- A worker silent for SUSPECT_AFTER_S gets no new arrivals until it speaks again, so a stall
  costs less before it is declared lost.
- A worker lost *by silence* that speaks again (stopped with SIGSTOP, then SIGCONT) rejoins:
  it is live again (`rejoinedAt`, and a warning "worker N was lost at Xs (silent) and rejoined
  at Ys"), from the next tick it gets open-model arrivals and its closed-model VU share again
  (both are dealt over the live workers each tick), and its reports are merged again. Nothing
  is counted twice: nothing it sent was refused in between (it sent nothing while stopped),
  and a report seq already seen is refused (protocol/session.py), a skipped one is a gap.
  The arrivals it had queued before the stop are no burst: it gets no new arrivals once it is
  silent for SUSPECT_AFTER_S, so when it is lost (LOST_AFTER_S) every arrival it holds is
  over 1 s late, and its dispatcher drops such arrivals as `behind` (worker/open_model.py
  BEHIND_S) instead of starting them; those drops count as scheduled, so its later reports
  account for them and `arrivalsUnaccounted` stays 0 for what they cover. (Only if every
  worker stalled at once could it hold arrivals under 1 s late: at most BEHIND_S of them.)
  Its closed-model VUs run at their old share until the next tick's SetVUs re-splits them.
  Iteration-based scenarios keep their fixed shares: it goes on with its own remaining
  iterations, nothing was moved (only a worker gone for good has its iterations moved). What it missed while lost is sent when it rejoins
  (`_catch_up`): the end of each scenario ended meanwhile (same deadline, usually past: it
  interrupts that scenario at once and says ScenarioDone), a 0 share of an iteration-based
  scenario started meanwhile, and closed VU targets are re-split over all on the next tick.
  It is live again for every check (`WorkerInfo.lost` is False; `lost_at` is kept for the
  results). If the run is already stopping, it is sent the same Stop.
- A worker lost any other way (its process exited, it said Bye with an error, a send to it
  failed) that speaks again is refused: it is told to stop and nothing it sends is counted.
- A worker gone for good: its arrivals not yet due are taken back and dealt again over the
  live workers (dealing.py `_take_back_arrivals`, arrival_ledger.py). The arrivals handed to a
  lost worker that its accepted reports do not end are reported per worker and per scenario
  (`arrivalsUnaccounted`): some may have reached the target, never guessed.
- A message from an unknown peer, an undecodable frame, or one its session does not allow is
  refused and logged (the first MAX_REFUSAL_WARNINGS distinct ones; the rest are counted).
  ZeroMQ itself drops frames over the socket's MAXMSGSIZE and disconnects their sender.

`WorkerHealth` is a part of `Coordinator` (run.py), kept here so each file holds one concern.
"""

from __future__ import annotations

import signal
import time

import zmq

from lunge_mp.coordinator.lifecycle import ITERATION_EXECUTORS, Phase
from lunge_mp.exit_codes import ExitCode
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State

LOST_AFTER_S = 3.0           # no heartbeat for this long: the worker is lost
SUSPECT_AFTER_S = 1.5        # no message for this long: no new arrivals for it until it speaks
MAX_REFUSAL_WARNINGS = 20    # distinct refusals listed in the warnings; the rest are counted


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
                self._lose(s.worker, f"silent for {silent:.1f}s", silent=True)

    def _lose(self, worker: int, why: str, silent: bool = False) -> None:
        """Mark a worker lost: what it already reported stays, its share moves to the others
        from the next tick, and the run stops with 112 when none is left. One lost by
        silence in a running run may rejoin (`_rejoin`)."""
        session, info = self.sessions[worker], self.info[worker]
        if session.state in (State.LOST, State.DONE, State.NEW):
            return
        info.rejoin_to = session.state if silent and session.state in (State.RUNNING, State.STOPPING) else None
        session.lost()
        info.lost = True
        info.lost_at = round(self.now(), 3) if self.t0_ns else None
        info.error = why
        at = f" at {info.lost_at:.1f}s" if info.lost_at is not None else ""
        self.log(f"worker {worker} (pid {info.pid or self.pool.pid(worker)}) lost{at}: {why}; "
                 f"its share of the load moves to the other workers")
        if not silent and self.t0_ns:       # gone for good: it will not run its iterations
            self._move_iterations(worker)
            self._take_back_arrivals(worker)   # nor its arrivals not yet due (dealing.py)
        self.lifecycle.worker_lost(self.live_workers(), self.now(), for_good=not silent)
        if not self.live_workers() and self.t0_ns:
            self.request_stop("lost all workers", ExitCode.LOST_WORKERS)
        if all(s.state in (State.DONE, State.LOST, State.NEW) for s in self.sessions):
            self._byes.set()

    def _move_iterations(self, worker: int) -> None:
        """A worker gone for good: the iterations of its share of each running iteration-based
        scenario that its accepted reports do not account for (completed + interrupted) go to
        one live worker running that scenario (the one with the most VUs; one that already
        finished it starts again). Those it ran after its last report, or had in flight, are
        run again: the results count each scenario's iterations exactly, the target may have
        seen them twice. Bookkeeping is done here, at once (a stale ScenarioDone of the heir
        is then ignored); the AddIterations message is sent on the next tick."""
        for name, shares in self._iter_share.items():
            share = shares.get(worker, 0)
            left = share - self._iter_counted.get((name, worker), 0)
            if left <= 0:
                continue
            st = self.lifecycle.state(name)
            what = (f"worker {worker} was lost with {left:,} of its {share:,} iterations of scenario "
                    f"{name!r} not accounted for by its reports")
            heir = self._iteration_heir(name, worker) \
                if st.phase is Phase.RUNNING and not self.stop_requested else None
            if heir is None:
                why = "no live worker runs it" if st.phase is Phase.RUNNING and not self.stop_requested \
                    else "the scenario or the run was already ending"
                self.log(f"{what}: they could not be re-run ({why})")
                continue
            shares[worker] = share - left
            shares[heir] = shares.get(heir, 0) + left
            self._added[(name, heir)] = self._added.get((name, heir), 0) + left
            st.done_workers.discard(heir)
            self._pending_adds.append((heir, name, left))
            self.log(f"{what}: its remaining {left:,} iterations moved to worker {heir} (those it had run "
                     f"since its last report or had in flight are run again: the target may see them twice)")

    def _iteration_heir(self, name: str, lost: int) -> int | None:
        """The live worker that takes a lost worker's iterations: one given VUs of the scenario,
        preferably still running it, then the most VUs, then the lowest id."""
        vus = self._iter_vus.get(name, [])
        done = self.lifecycle.state(name).done_workers
        candidates = [w for w in self.live_workers()
                      if w != lost and w in self._started_on.get(name, ()) and w < len(vus) and vus[w] > 0]
        if not candidates:
            return None
        return min(candidates, key=lambda w: (w in done, -vus[w], w))

    async def _send_moved_iterations(self) -> None:
        """The AddIterations decided by `_move_iterations`; an heir lost meanwhile has already
        passed them on (its share included them)."""
        pending, self._pending_adds = self._pending_adds, []
        for heir, name, n in pending:
            if self.sessions[heir].state is State.RUNNING:
                await self.send(heir, m.AddIterations(scenario=name, iterations=n))

    async def _rejoin(self, worker: int) -> bool:
        """A worker lost by silence speaks again (it was stopped, not dead): it is live again
        and its message is handled as any other. False if it may not rejoin.

        It is sent what it missed while lost: the end of every scenario that ended meanwhile
        (same deadline as the others': already past, so it interrupts that scenario's
        iterations at once and says ScenarioDone), and a share of 0 VUs of an iteration-based
        scenario that started meanwhile (shares are fixed at the start: it reports it done at
        once). Closed-model VU targets are re-sent to every live worker on the next tick."""
        session, info = self.sessions[worker], self.info[worker]
        if info.rejoin_to is None or self._byes.is_set():
            return False
        session.rejoined(info.rejoin_to)
        info.rejoin_to = None
        info.lost = False
        info.last_heard = time.monotonic()
        info.rejoined_at = round(self.now(), 3)
        self.log(f"worker {worker} was lost at {info.lost_at:.1f}s (silent) and rejoined at "
                 f"{info.rejoined_at:.1f}s: its reports count again and it gets its share of the load "
                 f"from the next tick")
        if session.state is State.RUNNING:
            await self._catch_up(worker)
        if self._final_stop is not None and session.state is State.RUNNING:
            await self.send(worker, self._final_stop)
        return True

    async def _catch_up(self, worker: int) -> None:
        """The scenario messages a rejoined worker missed while it was lost."""
        for name, st in self.lifecycle.states.items():
            s = st.plan
            if st.end_sent_at is not None and st.phase in (Phase.ENDING, Phase.ENDED):
                if worker not in self._ends_sent.get(name, ()):
                    await self._send_end(worker, name, st.end_sent_at, s.graceful_stop)
            elif st.phase is Phase.RUNNING and s.executor in ITERATION_EXECUTORS:
                if worker not in self._started_on.get(name, ()):
                    self._started_on.setdefault(name, set()).add(worker)
                    await self.send(worker, m.SetVUs(
                        scenario=name, vus=0,
                        iterations_per_vu=s.iterations if s.executor == "per-vu-iterations" else 0))
            elif st.phase is Phase.RUNNING:
                self.vus_sent.pop(name, None)   # its VUs are those of its last SetVUs: re-split all
            if self.sessions[worker].state is not State.RUNNING:   # a send failed: lost again
                return

    async def _after_lost(self, worker: int, msg: m.Message) -> None:
        """A worker lost other than by silence speaks again. Its share has moved on, so nothing
        it sends is counted (no double counting) and it is told to stop."""
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
        """A lost worker's arrivals that no report accounts for (arrival_ledger.py): those it
        had started may have reached the target, the rest never will. Said, never guessed."""
        ledger, out = self.ledger, self.outcome
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
                self.warn(f"worker {info.worker} was lost with {info.unaccounted:,} of the {info.assigned:,} "
                          f"arrivals handed to it not accounted for by its reports ({started:,} in flight at "
                          f"its last report, the others due after it and before its loss was known): some may "
                          f"have reached the target, none is counted as a request")

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
