"""Dealing the load to the live workers: open-model arrivals, VU targets, iteration shares,
scenario ends.

- Open model: every tick, each running scenario's arrivals for the next LOOKAHEAD_S are
  dealt round robin over the responsive workers (`Assign`, with the index of the batch's
  first arrival and the stride), within guardrails.maxTotalRequests.
- Time-based closed model: each tick the scenario's target VUs are split evenly over the live
  workers; a `SetVUs` goes out only when the split changes (a lost or rejoined worker changes it).
- Iteration executors: VUs and iterations are split once, at the scenario's start.
- A scenario's end goes to every live worker with its gracefulStop deadline.
- A worker gone for good: its arrivals not yet due are taken back (`_take_back_arrivals`,
  bookkeeping in arrival_ledger.py) and dealt again over the live workers on the next tick.

`LoadDealer` is a part of `Coordinator` (run.py), kept here so each file holds one concern.
"""

from __future__ import annotations

from lunge_mp.schedule import timeline
from lunge_mp.coordinator.arrival_ledger import Held, redeal
from lunge_mp.coordinator.lifecycle import ITERATION_EXECUTORS, EndScenario, StartScenario
from lunge_mp.protocol import messages as m
from lunge_mp.schedule.split import split_evenly, split_round_robin

LOOKAHEAD_S = 0.25


class LoadDealer:
    """Mixed into Coordinator: uses its lifecycle, clocks, pool, info, guard, outcome and send."""

    async def _apply(self, action: StartScenario | EndScenario) -> None:
        s = self.lifecycle.state(action.name).plan
        live = self.live_workers()
        match action:
            case StartScenario() if s.executor in ITERATION_EXECUTORS:
                vus = self._spread(s.vus, live)
                totals = timeline.iteration_shares(s.iterations, vus) \
                    if s.executor == "shared-iterations" else [0] * len(vus)
                per_vu = s.iterations if s.executor == "per-vu-iterations" else 0
                self._started_on[s.name] = set(live)
                self._iter_vus[s.name] = vus
                self._iter_share[s.name] = {w: totals[w] if not per_vu else vus[w] * per_vu for w in live}
                for w in live:
                    await self.send(w, m.SetVUs(scenario=s.name, vus=vus[w], iterations_per_vu=per_vu,
                                                iterations_total=totals[w]))
            case EndScenario(at=at, graceful_stop=grace):
                for w in live:
                    await self._send_end(w, s.name, at, grace)

    async def _send_end(self, worker: int, name: str, at: float, grace: float) -> None:
        """A scenario's end to one worker: iterations still running at `at + grace` are
        interrupted (at once if that is past: a worker that rejoins after the end)."""
        self._ends_sent.setdefault(name, set()).add(worker)
        await self.send(worker, m.EndScenario(scenario=name, deadline_us=int((at + grace) * 1e6)))

    def _spread(self, total: int, live: list[int]) -> list[int]:
        """`total` split evenly over the live workers, as a list indexed by worker id."""
        shares = [0] * self.pool.count
        for w, share in zip(live, split_evenly(total, len(live))):
            shares[w] = share
        return shares

    def _take_back_arrivals(self, worker: int) -> None:
        """A worker gone for good: its arrivals whose instants have not come are dealt again
        (next tick), unless the run is stopping (then they stay unaccounted)."""
        if not self.t0_ns or self.stop_requested:
            return
        parts = self.ledger.take_back(worker, int(self.now() * 1e6))
        if parts:
            self._redeal.append((worker, parts))

    async def _send_redealt(self, live: list[int]) -> None:
        pending, self._redeal = self._redeal, []
        for lost, parts in pending:
            running = {s.name for s in self.lifecycle.running()}
            if self.stop_requested or not live:
                self.ledger.restore(lost, parts)
                continue
            kept: list[Held] = [p for p in parts if p.scenario not in running]
            self.ledger.restore(lost, kept)         # its scenario is ending: the workers start nothing new
            moved = 0
            for part in (p for p in parts if p.scenario in running):
                for pos, piece in redeal(part, len(live)):
                    await self._assign(live[pos], piece)
                    moved += len(piece.offsets)
            if moved:
                self.log(f"worker {lost}'s {moved:,} arrivals not yet due when it was lost were dealt again "
                         f"to worker(s) {', '.join(map(str, live))}")

    async def _assign(self, worker: int, part: Held) -> None:
        self.ledger.assigned(worker, part.scenario, part.first_index, part.offsets, part.stride)
        await self.send(worker, m.Assign(scenario=part.scenario, first_index=part.first_index,
                                         offsets_us=part.offsets, stride=part.stride))

    async def _schedule_open(self, t: float) -> None:
        live = self.responsive_workers()
        if not live:
            return
        self.ledger.forget_due(int(t * 1e6))
        if self._redeal:
            await self._send_redealt(live)
        for s in self.lifecycle.running():
            clock = self.clocks.get(s.name)
            if clock is None or clock.done:
                continue
            started = self.lifecycle.start_of(s.name) or 0.0
            first = clock.next_index
            offsets = clock.take_until(t + LOOKAHEAD_S - started)
            if not offsets:
                continue
            shift = int(started * 1e6)
            if self.plan.guardrails.max_total_requests:
                committed = self.guard.committed(self.outcome.arrivals_sent, self._aggregates())
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
                    await self._assign(live[pos], Held(s.name, first + first_j, part, len(live)))

    async def _schedule_closed(self, t: float) -> None:
        """VU targets of running time-based closed scenarios, sent when a worker's share changes."""
        live = self.live_workers()
        if not live:
            return
        for s in self.lifecycle.running():
            if s.is_open or s.executor in ITERATION_EXECUTORS:
                continue
            local = t - (self.lifecycle.start_of(s.name) or 0.0)
            shares = self._spread(timeline.target_vus(s, local), live)
            if self.vus_sent.get(s.name) == shares:
                continue
            self.vus_sent[s.name] = shares
            ramp_down = int((t + s.graceful_ramp_down) * 1e6)
            for w in live:
                await self.send(w, m.SetVUs(scenario=s.name, vus=shares[w], deadline_us=ramp_down))
