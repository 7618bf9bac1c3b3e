"""When each scenario starts and ends, decided at run time. Pure: `t` is seconds from t0.

A scenario goes  waiting → running → ending → ended:
- it starts at its `startTime` (after the warmup), or, with `options.sequential`, at
  its `startTime` after the previous scenario has ended;
- its schedule ends at start + duration (time-based executors) or start + maxDuration
  (iteration-based ones, which also end early when every worker reports them done);
- ending: the coordinator has told workers to stop starting its iterations; running
  ones get the scenario's gracefulStop;
- ended: every live worker has reported it done (`ScenarioDone`), or the grace is over.

The coordinator asks `due(t)` each tick and acts on what comes back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from lunge_mp.plan import Plan, ScenarioPlan

END_SLACK_S = 2.0     # after gracefulStop, how long to wait for workers' ScenarioDone


class Phase(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    ENDING = "ending"
    ENDED = "ended"


@dataclass
class ScenarioState:
    plan: ScenarioPlan
    phase: Phase = Phase.WAITING
    started_at: float | None = None
    end_sent_at: float | None = None
    ended_at: float | None = None
    done_workers: set[int] = field(default_factory=set)

    @property
    def schedule_length(self) -> float:
        return self.plan.length


@dataclass(frozen=True)
class StartScenario:
    name: str
    at: float


@dataclass(frozen=True)
class EndScenario:
    name: str
    at: float
    graceful_stop: float


class Lifecycle:
    def __init__(self, plan: Plan, warmup: tuple[ScenarioPlan, ...] = (), offset: float = 0.0) -> None:
        """`warmup` scenarios run from t0 in parallel; the test's own begin at `offset`."""
        self.sequential = plan.options.sequential
        self.offset = offset
        self.states = {s.name: ScenarioState(s) for s in (*warmup, *plan.scenarios)}
        self.order = [s.name for s in plan.scenarios]
        self.warmup = [s.name for s in warmup]

    def state(self, name: str) -> ScenarioState:
        return self.states[name]

    def start_of(self, name: str) -> float | None:
        return self.states[name].started_at

    @property
    def all_ended(self) -> bool:
        return all(st.phase is Phase.ENDED for st in self.states.values())

    def planned_length(self) -> float:
        """The run's length if every scenario uses its whole schedule (for progress display)."""
        lengths = [self.states[n].schedule_length + self.states[n].plan.start_time for n in self.order]
        return self.offset + (sum(lengths) if self.sequential else max(lengths))

    def _start_time(self, name: str) -> float | None:
        st = self.states[name]
        if name in self.warmup:
            return st.plan.start_time
        index = self.order.index(name)
        if not self.sequential or index == 0:
            return self.offset + st.plan.start_time
        prev = self.states[self.order[index - 1]]
        return None if prev.ended_at is None else prev.ended_at + st.plan.start_time

    def due(self, t: float) -> list[StartScenario | EndScenario]:
        """Transitions that are due at `t`, applied to the state as they are returned."""
        actions: list[StartScenario | EndScenario] = []
        for name in (*self.warmup, *self.order):
            st = self.states[name]
            if st.phase is Phase.WAITING:
                start = self._start_time(name)
                if start is not None and t >= start:
                    st.phase, st.started_at = Phase.RUNNING, start
                    actions.append(StartScenario(name, start))
            if st.phase is Phase.RUNNING and st.started_at is not None:
                end = st.started_at + st.schedule_length
                if t >= end:
                    st.phase, st.end_sent_at = Phase.ENDING, end
                    actions.append(EndScenario(name, end, st.plan.graceful_stop))
            if st.phase is Phase.ENDING and st.end_sent_at is not None:
                if t >= st.end_sent_at + st.plan.graceful_stop + END_SLACK_S:
                    st.phase, st.ended_at = Phase.ENDED, t
        return actions

    def worker_done(self, name: str, worker: int, live_workers: list[int], t: float) -> list[EndScenario]:
        """A worker has no more work for `name`. When all live workers are done, it has ended.

        An iteration-based scenario can finish before its maxDuration: then its end is
        returned so the coordinator can tell workers (they already stopped by themselves).
        """
        st = self.states.get(name)
        if st is None or st.phase in (Phase.WAITING, Phase.ENDED):
            return []
        st.done_workers.add(worker)
        if not set(live_workers) <= st.done_workers:
            return []
        actions: list[EndScenario] = []
        if st.phase is Phase.RUNNING:
            st.end_sent_at = t
            actions.append(EndScenario(name, t, st.plan.graceful_stop))
        st.phase, st.ended_at = Phase.ENDED, t
        return actions

    def worker_lost(self, live_workers: list[int], t: float, for_good: bool = False) -> None:
        """A lost worker can no longer report done: re-check scenarios waiting on it. One gone
        `for_good` (not lost by silence, which may rejoin and finish its share) no longer holds
        up an iteration-based scenario still running: it ends when every live worker is done."""
        for st in self.states.values():
            if not set(live_workers) <= st.done_workers:
                continue
            if st.phase is Phase.ENDING:
                st.phase, st.ended_at = Phase.ENDED, t
            elif (for_good and st.phase is Phase.RUNNING and st.plan.iteration_based
                  and st.done_workers):
                st.phase, st.end_sent_at, st.ended_at = Phase.ENDED, t, t

    def running(self) -> list[ScenarioPlan]:
        return [st.plan for st in self.states.values() if st.phase is Phase.RUNNING]

    def windows(self) -> tuple[dict[str, float | None], dict[str, dict]]:
        """Each scenario's start, and its window (start, scheduleEnd, end; s after t0, for results)."""
        starts = {name: st.started_at for name, st in self.states.items()}
        return starts, {name: {"start": _r(st.started_at), "scheduleEnd": _r(st.end_sent_at), "end": _r(st.ended_at)}
                        for name, st in self.states.items()}


def _r(t: float | None) -> float | None:
    return None if t is None else round(t, 3)
