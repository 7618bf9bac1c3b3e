"""Where every open-model arrival went: which worker it was handed to, whether that worker's
reports account for it, and — for a worker gone for good — which of its arrivals were taken
back and dealt again. Pure (no sockets, no clocks): the coordinator calls it, times are
integer µs after t0, as in `Assign`.

An arrival handed to a worker ends in its reports exactly once: completed (an iteration),
interrupted, or dropped (behind, no_vu, data_exhausted). For each open scenario, at the end:

    completed + interrupted + dropped            (every worker's accepted reports)
      + unaccounted                              (lost workers: handed to them, not ended in a report)
      = arrivals sent

`unaccounted` is a lost worker's arrivals that no report of it ended: those it had started
(in flight at its last report, or started since) may have reached the target; the rest never
ran. To keep that small, the coordinator

- hands a lost worker's arrivals not yet due when its loss is known to the live workers again
  (`take_back`, `redeal`): they run, on time or nearly;
- gets counters from every worker every 100 ms (worker/main.py; less often past 8 workers, as
  each one's share shrinks), so what is unknown is at most the arrivals due since its last
  report plus those in flight then.

Only a worker gone for good (its process exited, it said Bye with an error, a send to it
failed) has arrivals taken back: one lost by silence may rejoin and then runs (or drops as
`behind`) what it holds, and its reports account for them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from lunge_mp.schedule.split import split_round_robin


@dataclass(slots=True)
class Held:
    """Arrivals of one Assign: arrival i has instant offsets[i] and global index first + i·stride."""
    scenario: str
    first_index: int
    offsets: list[int]
    stride: int


class ArrivalLedger:
    """Per (worker, open scenario): arrivals handed over, arrivals its reports ended, and
    the Assigns whose last instant has not come yet (those may be taken back)."""

    def __init__(self, open_scenarios: Iterable[str]) -> None:
        self.open = frozenset(open_scenarios)
        self._assigned: dict[tuple[int, str], int] = {}
        self._scheduled: dict[tuple[int, str], int] = {}   # reported as due (started or dropped)
        self._ended: dict[tuple[int, str], int] = {}       # reported completed, interrupted or dropped
        self._taken: dict[tuple[int, str], int] = {}       # taken back from it, dealt again
        self._held: dict[int, deque[Held]] = {}

    # ---- events ------------------------------------------------------------------------------

    def assigned(self, worker: int, scenario: str, first_index: int, offsets: list[int],
                 stride: int) -> None:
        key = (worker, scenario)
        self._assigned[key] = self._assigned.get(key, 0) + len(offsets)
        self._held.setdefault(worker, deque()).append(Held(scenario, first_index, offsets, stride))

    def reported(self, worker: int, deltas: Iterable) -> None:
        """A worker's accepted report: its ScenarioDeltas (closed scenarios are ignored)."""
        for d in deltas:
            if d.scenario not in self.open:
                continue
            key = (worker, d.scenario)
            ended = d.iterations + d.interrupted + sum(d.dropped.values())
            if ended:
                self._ended[key] = self._ended.get(key, 0) + ended
            if d.scheduled:
                self._scheduled[key] = self._scheduled.get(key, 0) + d.scheduled

    def forget_due(self, now_us: int) -> None:
        """Assigns whose every instant has come can no longer be taken back: drop them."""
        for held in self._held.values():
            while held and held[0].offsets[-1] <= now_us:
                held.popleft()

    def take_back(self, worker: int, now_us: int) -> list[Held]:
        """A worker gone for good at `now_us`: its arrivals with instants after it, as Assign
        parts (no longer counted as handed to it). Those due by then stay unaccounted."""
        out = []
        for h in self._held.pop(worker, ()):
            k = bisect_right(h.offsets, now_us)       # the first instant after now
            if k == len(h.offsets):
                continue
            part = Held(h.scenario, h.first_index + k * h.stride, h.offsets[k:], h.stride)
            key = (worker, h.scenario)
            self._assigned[key] -= len(part.offsets)
            self._taken[key] = self._taken.get(key, 0) + len(part.offsets)
            out.append(part)
        return out

    def shift(self, at_us: int, by_us: int) -> None:
        """A pause held every arrival from `at_us` on the workers, and they go `by_us` later
        (coordinator/holding.py): so do the instants kept here."""
        for held in self._held.values():
            for h in held:
                shift_part(h, at_us, by_us)

    def restore(self, worker: int, parts: list[Held]) -> None:
        """Parts taken back that could not be dealt again (the run or scenario was ending):
        counted as the lost worker's again, so unaccounted."""
        for p in parts:
            key = (worker, p.scenario)
            self._assigned[key] = self._assigned.get(key, 0) + len(p.offsets)
            self._taken[key] -= len(p.offsets)

    # ---- queries ------------------------------------------------------------------------------

    def assigned_to(self, worker: int) -> int:
        return sum(n for (w, _), n in self._assigned.items() if w == worker)

    def taken_from(self, worker: int, scenario: str | None = None) -> int:
        return sum(n for (w, s), n in self._taken.items() if w == worker and scenario in (None, s))

    def unaccounted(self, worker: int, scenario: str | None = None) -> int:
        """Handed to `worker` and not ended in its reports (meaningful for a lost worker)."""
        return sum(max(0, n - self._ended.get((w, s), 0)) for (w, s), n in self._assigned.items()
                   if w == worker and scenario in (None, s))

    def started_unknown(self, worker: int, scenario: str | None = None) -> int:
        """Of `unaccounted`: those its reports said were due but not how they ended (in flight
        at its last report: they had started, or were about to)."""
        return sum(max(0, min(n, self._scheduled.get((w, s), 0)) - self._ended.get((w, s), 0))
                   for (w, s), n in self._assigned.items() if w == worker and scenario in (None, s))


def shift_part(part: Held, at_us: int, by_us: int) -> None:
    """The part's instants from `at_us` on, `by_us` later (they are sorted: a suffix moves)."""
    offsets = part.offsets
    if offsets and offsets[-1] >= at_us:
        k = bisect_left(offsets, at_us)
        part.offsets = offsets[:k] + [o + by_us for o in offsets[k:]]


def redeal(part: Held, workers: int) -> list[tuple[int, Held]]:
    """Deal a taken-back part over `workers` live workers in turn: (position, its Assign part).
    Item j goes to position j mod workers, so position p gets every workers-th arrival from
    item p, whose global indexes step by stride·workers."""
    pieces, _ = split_round_robin(part.offsets, workers, 0)
    return [(p, Held(part.scenario, part.first_index + p * part.stride, piece, part.stride * workers))
            for p, piece in enumerate(pieces) if piece]
