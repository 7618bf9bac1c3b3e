"""Iteration-based scenarios (shared-iterations, per-vu-iterations) across workers. Pure.

Each worker's share of a scenario's iterations is fixed at the scenario's start. A worker
gone for good (its process exited, it said Bye with an error, a send to it failed — not
one lost by silence, which may rejoin and go on with its own share) has the rest of its
share moved (`move`): its share minus the iterations its accepted reports account for
(completed + interrupted) goes to one live worker still running the scenario
(`AddIterations`; one that had finished it starts again and says ScenarioDone again; a
ScenarioDone that does not cover every added iteration is stale and ignored). Iterations it
ran after its last report or had in flight are unknown and run again: the results count
exactly N (per-vu: VUs × N), the target may have seen up to those more. Nothing is moved
once the scenario is ending or the run is stopping, or when no live worker has VUs of it:
a warning says how many could not be re-run.
"""

from __future__ import annotations

from collections.abc import Iterable

from lunge_mp.coordinator.lifecycle import Lifecycle, Phase


class IterationShares:
    def __init__(self) -> None:
        self.share: dict[str, dict[int, int]] = {}          # scenario → worker → its iterations
        self.counted: dict[tuple[str, int], int] = {}       # what its accepted reports account for
        self.vus: dict[str, list[int]] = {}                 # scenario → VUs per worker id
        self.added: dict[tuple[str, int], int] = {}         # iterations AddIterations gave it
        self.started_on: dict[str, set[int]] = {}           # workers given a share (0 included)
        self.pending: list[tuple[int, str, int]] = []       # (heir, scenario, n): AddIterations to send

    def started(self, name: str, live: list[int], vus: list[int], share: dict[int, int]) -> None:
        self.started_on[name] = set(live)
        self.vus[name] = vus
        self.share[name] = share

    def missed_start(self, name: str, worker: int) -> bool:
        """A worker that was lost when `name` started: True once (it is then given a 0 share)."""
        on = self.started_on.setdefault(name, set())
        if worker in on:
            return False
        on.add(worker)
        return True

    def reported(self, worker: int, deltas: Iterable) -> None:
        """A worker's accepted report: its ScenarioDeltas of iteration-based scenarios."""
        for sc in deltas:
            if sc.scenario in self.share:
                key = (sc.scenario, worker)
                self.counted[key] = self.counted.get(key, 0) + sc.iterations + sc.interrupted

    def stale_done(self, name: str, worker: int, added: int) -> bool:
        """A ScenarioDone that does not cover every iteration added to the worker: more are coming."""
        return added < self.added.get((name, worker), 0)

    def move(self, worker: int, lifecycle: Lifecycle, live: list[int], stopping: bool) -> list[str]:
        """A worker gone for good: what is left of its shares goes to heirs (bookkeeping now, the
        AddIterations in `pending`; a stale ScenarioDone of the heir is then ignored). The lines
        to log."""
        lines = []
        for name, shares in self.share.items():
            share = shares.get(worker, 0)
            left = share - self.counted.get((name, worker), 0)
            if left <= 0:
                continue
            st = lifecycle.state(name)
            what = (f"worker {worker} was lost with {left:,} of its {share:,} iterations of scenario "
                    f"{name!r} not accounted for by its reports")
            going = st.phase is Phase.RUNNING and not stopping
            heir = self.heir(name, worker, live, st.done_workers) if going else None
            if heir is None:
                why = "no live worker runs it" if going else "the scenario or the run was already ending"
                lines.append(f"{what}: they could not be re-run ({why})")
                continue
            shares[worker] = share - left
            shares[heir] = shares.get(heir, 0) + left
            self.added[(name, heir)] = self.added.get((name, heir), 0) + left
            st.done_workers.discard(heir)
            self.pending.append((heir, name, left))
            lines.append(f"{what}: its remaining {left:,} iterations moved to worker {heir} (those it had run "
                         f"since its last report or had in flight are run again: the target may see them twice)")
        return lines

    def heir(self, name: str, lost: int, live: list[int], done: set[int]) -> int | None:
        """The live worker that takes a lost worker's iterations: one given VUs of the scenario,
        preferably still running it, then the most VUs, then the lowest id."""
        vus = self.vus.get(name, [])
        candidates = [w for w in live
                      if w != lost and w in self.started_on.get(name, ()) and w < len(vus) and vus[w] > 0]
        if not candidates:
            return None
        return min(candidates, key=lambda w: (w in done, -vus[w], w))

    def take_pending(self) -> list[tuple[int, str, int]]:
        pending, self.pending = self.pending, []
        return pending
