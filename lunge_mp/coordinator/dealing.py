"""Dealing the load to the live workers: open-model arrivals, VU targets, iteration shares,
scenario ends. Pure: what to send goes to the core's `Outbox`.

- Open model: every arrival is dealt by the tick at which it is due within LOOKAHEAD_S,
  round robin over the responsive workers (`Assign`, with the index of the batch's first
  arrival and the stride), within guardrails.maxTotalRequests. A deal reaches further ahead
  by up to BATCH_S, so that each worker gets about BATCH_ARRIVALS an Assign: at a high rate
  that is every tick, as before; at a low rate per worker (many workers, each running a few
  arrivals a second) a deal covers up to BATCH_S more and the next ticks deal nothing until
  it runs out. Each message costs the coordinator its encoding and, over tcp, its Curve
  encryption: 64 workers at 2,000/s get ~130 Assigns a second instead of 1,280.
- Time-based closed model: each tick the scenario's target VUs are split evenly over the live
  workers; a `SetVUs` goes out only when the split changes (a lost or rejoined worker changes it).
- Iteration executors: VUs and iterations are split once, at the scenario's start
  (coordinator/iterations.py keeps the shares).
- A scenario's end goes to every live worker with its gracefulStop deadline.
- A worker gone for good: its arrivals not yet due are taken back (`take_back`, bookkeeping
  in arrival_ledger.py) and dealt again over the live workers on the next tick.
- A worker lost by silence is told to run no VUs of the time-based closed scenarios
  (`withdraw_vus`: the others run them). A worker that rejoins is sent what it missed
  (`catch_up`); one whose VUs are parked after a silence it was not lost for is sent its VU
  shares again (`resend_vus`).
"""

from __future__ import annotations

from collections.abc import Callable

from lunge_mp.coordinator.arrival_ledger import ArrivalLedger, Held, redeal, shift_part
from lunge_mp.coordinator.guarding import RunGuard
from lunge_mp.coordinator.iterations import IterationShares
from lunge_mp.coordinator.lifecycle import EndScenario, Lifecycle, Phase, StartScenario
from lunge_mp.coordinator.outbox import Outbox
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.outcome import RunOutcome
from lunge_mp.protocol import messages as m
from lunge_mp.schedule.arrivals import ArrivalClock
from lunge_mp.schedule.split import split_evenly, split_round_robin

LOOKAHEAD_S = 0.25       # an arrival is dealt at the latest by the tick it is due within this
BATCH_S = 0.5            # a deal reaches at most this much further ahead ...
BATCH_ARRIVALS = 16      # ... to give each worker about this many arrivals an Assign


class Dealer:
    def __init__(self, workers: int, lifecycle: Lifecycle, clocks: dict[str, ArrivalClock],
                 ledger: ArrivalLedger, iterations: IterationShares, guard: RunGuard, outcome: RunOutcome,
                 aggregates: Callable[[], list[Aggregate]], out: Outbox) -> None:
        self.workers = workers
        self.lifecycle, self.clocks, self.ledger, self.iterations = lifecycle, clocks, ledger, iterations
        self.guard, self.outcome, self.aggregates, self.out = guard, outcome, aggregates, out
        self.rr_next = {name: 0 for name in clocks}        # open scenario → next round-robin position
        self.dealt_to: dict[str, float] = {}               # open scenario → its clock taken up to (local s)
        self.dealt_over: dict[str, list[int]] = {}         # open scenario → the workers of its last deal
        self.vus_sent: dict[str, list[int]] = {}           # closed scenario → the last split sent
        self.ends_sent: dict[str, set[int]] = {}           # scenario → workers sent its EndScenario
        self.redeal: list[tuple[int, list[Held]]] = []     # (lost worker, parts) to deal again next tick

    def apply(self, action: StartScenario | EndScenario, live: list[int]) -> None:
        """A lifecycle transition (lifecycle.py `due`), to every live worker."""
        s = self.lifecycle.state(action.name).plan
        match action:
            case StartScenario() if s.iteration_based:
                vus = self.spread(s.vus, live)
                totals = s.deal(vus)
                per_vu = s.iterations_per_vu
                self.iterations.started(s.name, live, vus,
                                        {w: totals[w] if not per_vu else vus[w] * per_vu for w in live})
                for w in live:
                    self.out.send(w, m.SetVUs(scenario=s.name, vus=vus[w], iterations_per_vu=per_vu,
                                              iterations_total=totals[w]))
            case EndScenario(at=at, graceful_stop=grace):
                for w in live:
                    self.send_end(w, s.name, at, grace)

    def send_end(self, worker: int, name: str, at: float, grace: float) -> None:
        """A scenario's end to one worker: iterations still running at `at + grace` are
        interrupted (at once if that is past: a worker that rejoins after the end)."""
        self.ends_sent.setdefault(name, set()).add(worker)
        self.out.send(worker, m.EndScenario(scenario=name, deadline_us=int((at + grace) * 1e6)))

    def spread(self, total: int, live: list[int]) -> list[int]:
        """`total` split evenly over the live workers, as a list indexed by worker id."""
        shares = [0] * self.workers
        for w, share in zip(live, split_evenly(total, len(live))):
            shares[w] = share
        return shares

    def catch_up(self, worker: int) -> None:
        """The scenario messages a rejoined worker missed while it was lost: the end of every
        scenario that ended meanwhile (same deadline as the others': usually past, so it
        interrupts at once and says ScenarioDone), a 0 share of an iteration-based scenario
        that started meanwhile (shares are fixed at the start), and closed-model VU targets
        re-split over every live worker on the next tick."""
        for name, st in self.lifecycle.states.items():
            s = st.plan
            if st.end_sent_at is not None and st.phase in (Phase.ENDING, Phase.ENDED):
                if worker not in self.ends_sent.get(name, ()):
                    self.send_end(worker, name, st.end_sent_at, s.graceful_stop)
            elif st.phase is Phase.RUNNING and s.iteration_based:
                if self.iterations.missed_start(name, worker):
                    self.out.send(worker, m.SetVUs(
                        scenario=name, vus=0,
                        iterations_per_vu=s.iterations_per_vu))
            elif st.phase is Phase.RUNNING:
                self.vus_sent.pop(name, None)

    def take_back(self, worker: int, now_us: int) -> None:
        """A worker gone for good: its arrivals whose instants have not come are dealt again
        on the next tick."""
        parts = self.ledger.take_back(worker, now_us)
        if parts:
            self.redeal.append((worker, parts))

    def shift_held(self, at_us: int, by_us: int) -> None:
        """A pause's end (holding.py): the arrivals the workers hold (from `at_us` on) go `by_us`
        later, and so does all of a lost worker's waiting to be dealt again (it waited as
        the schedule did: none of it is late for the pause)."""
        self.ledger.shift(at_us, by_us)
        for _, parts in self.redeal:
            for part in parts:
                shift_part(part, 0, by_us)

    def settled_ledger(self) -> ArrivalLedger:
        """The ledger at the run's end: parts taken back that no tick dealt again (the run began
        stopping first) are the lost worker's again, so unaccounted, not lost from the count."""
        pending, self.redeal = self.redeal, []
        for lost, parts in pending:
            self.ledger.restore(lost, parts)
        return self.ledger

    def _send_redealt(self, live: list[int], stopping: bool) -> None:
        pending, self.redeal = self.redeal, []
        for lost, parts in pending:
            running = {s.name for s in self.lifecycle.running()}
            if stopping or not live:
                self.ledger.restore(lost, parts)
                continue
            kept: list[Held] = [p for p in parts if p.scenario not in running]
            self.ledger.restore(lost, kept)         # its scenario is ending: the workers start nothing new
            moved = 0
            for part in (p for p in parts if p.scenario in running):
                for pos, piece in redeal(part, len(live)):
                    self._assign(live[pos], piece)
                    moved += len(piece.offsets)
            if moved:
                self.out.log(f"worker {lost}'s {moved:,} arrivals not yet due when it was lost were dealt again "
                             f"to worker(s) {', '.join(map(str, live))}")

    def _assign(self, worker: int, part: Held) -> None:
        self.ledger.assigned(worker, part.scenario, part.first_index, part.offsets, part.stride)
        self.out.send(worker, m.Assign(scenario=part.scenario, first_index=part.first_index,
                                       offsets_us=part.offsets, stride=part.stride))

    def deal_open(self, t: float, live: list[int], stopping: bool) -> None:
        """Arrivals due before t + LOOKAHEAD_S of every running open scenario, round robin over `live`."""
        if not live:
            return
        self.ledger.forget_due(int(t * 1e6))
        if self.redeal:
            self._send_redealt(live, stopping)
        for s in self.lifecycle.running():
            clock = self.clocks.get(s.name)
            if clock is None or clock.done:
                continue
            started = self.lifecycle.start_of(s.name) or 0.0
            due = t + LOOKAHEAD_S - started            # arrivals before this must go now
            if due <= self.dealt_to.get(s.name, -1.0) and live == self.dealt_over.get(s.name):
                continue                                # dealt already (a worker joining or lost: deal now)
            first = clock.next_index
            end = due + batch_s(clock.fn, due, len(live))
            offsets = clock.take_until(end)
            self.dealt_to[s.name], self.dealt_over[s.name] = end, live
            if not offsets:
                continue
            shift = int(started * 1e6)
            if self.guard.g.max_total_requests:
                committed = self.guard.committed(self.outcome.arrivals_sent, self.aggregates())
                offsets = self.guard.allowed(s.name, offsets, committed, shift)
                if not offsets:
                    continue
            self.outcome.arrivals_sent[s.name] = self.outcome.arrivals_sent.get(s.name, 0) + len(offsets)
            if shift:
                offsets = [o + shift for o in offsets]
            start = self.rr_next[s.name] % len(live)
            parts, self.rr_next[s.name] = split_round_robin(offsets, len(live), start)
            for pos, part in enumerate(parts):
                if part:
                    # arrival j of the batch went to position (start + j) % len(live)
                    first_j = (pos - start) % len(live)
                    self._assign(live[pos], Held(s.name, first + first_j, part, len(live)))

    def dealt_until(self, name: str) -> float:
        """How far (s after the scenario's start) its arrivals have been dealt: a change of its
        rate (scaling.py) applies from there on, so no arrival dealt goes out twice or late."""
        return self.dealt_to.get(name, 0.0)

    def deal_closed(self, t: float, live: list[int]) -> None:
        """VU targets of running time-based closed scenarios, sent when a worker's share changes."""
        if not live:
            return
        for s in self.lifecycle.running():
            if s.is_open or s.iteration_based:
                continue
            local = t - (self.lifecycle.start_of(s.name) or 0.0)
            shares = self.spread(s.target_vus(local), live)
            if self.vus_sent.get(s.name) == shares:
                continue
            self.vus_sent[s.name] = shares
            ramp_down = int((t + s.graceful_ramp_down) * 1e6)
            for w in live:
                self.out.send(w, m.SetVUs(scenario=s.name, vus=shares[w], deadline_us=ramp_down))

    def withdraw_vus(self, worker: int) -> None:
        """A worker lost by silence: its time-based closed-model VUs go to the others from the
        next tick, so it is told to run none (their iterations finish), in case it still hears
        us (cut one way: it would not park until 3 s after we stop speaking to it). Raw: it is
        lost, and a failed send changes nothing. It gets its share again when it rejoins."""
        for s in self.lifecycle.running():
            if not s.is_open and not s.iteration_based:
                self.out.send_raw(worker, m.SetVUs(scenario=s.name, vus=0))

    def resend_vus(self, worker: int, t: float) -> None:
        """A worker whose VUs are parked (worker/parking.py) asks for its share: its part of
        the split last sent, of each running time-based closed scenario. One not yet split
        (a rejoin or a scaling cleared it) goes to every live worker on the next tick anyway."""
        for s in self.lifecycle.running():
            shares = self.vus_sent.get(s.name)
            if s.is_open or s.iteration_based or shares is None:
                continue
            ramp_down = int((t + s.graceful_ramp_down) * 1e6)
            self.out.send(worker, m.SetVUs(scenario=s.name, vus=shares[worker], deadline_us=ramp_down))

    def send_moved_iterations(self, running: Callable[[int], bool]) -> None:
        """The AddIterations decided by `IterationShares.move`; an heir lost meanwhile has already
        passed them on (its share included them)."""
        for heir, name, n in self.iterations.take_pending():
            if running(heir):
                self.out.send(heir, m.AddIterations(scenario=name, iterations=n))


def batch_s(fn, due: float, workers: int) -> float:
    """How far past `due` a deal reaches: BATCH_S, shortened to what gives the workers about
    BATCH_ARRIVALS each at the rate of that window (at a high rate, about nothing)."""
    want = BATCH_ARRIVALS * workers
    end = min(due + BATCH_S, fn.duration)
    expected = fn.hits(end) - fn.hits(min(due, end)) if end > due else 0.0
    return BATCH_S if expected <= want else BATCH_S * want / expected
