"""Steering a running test from outside its run loop: stop, pause, resume, scale.

Commands come from any thread (the API server, a signal handler) and wait in a deque; the
coordinator core (coordinator/core.py) applies them at the start of every running tick
(`apply`), so all run state is only ever changed by the loop that owns it; the watchers
get the run loop's Coordinator after each tick (`watch`). Each command carries a
`concurrent.futures.Future` that says what happened ("ok", or why not) to the caller.

Pause:
- open model: no arrivals are dealt while paused, and the workers start none of those
  already dealt (up to the dealer's lookahead and one batch ahead, dealing.py) whose
  instants are at or after the pause (a `Hold`, coordinator/holding.py; iterations already
  started run to their end); on resume every running scenario's start moves later by the
  paused time, so its schedule goes on where it stopped, and the workers' held arrivals
  move by as much (`Release`): none is due or dropped for the pause, order and spacing kept;
- time-based closed model: its VUs are set to 0 (each finishes its current iteration, as
  in a ramp-down) and set back on resume, the schedule shifted as above;
- scenarios not started yet, guardrails.maxDuration and the planned length move by the
  paused time too. Iteration-based scenarios have no schedule to hold: a pause while one
  runs is refused, and so is one during the warmup (its metrics are kept apart by time).
Scale: a closed scenario's VUs (constant-vus: the new count; ramping-vus: the stage targets
times a factor) or an open scenario's rate times a factor from now on (coordinator/scaling.py).
Every change is an event (`events`) for results.json, the report and the stream.
"""

from __future__ import annotations

import collections
import concurrent.futures
import signal
from dataclasses import dataclass, field

from lunge_mp.coordinator.holding import ArrivalHold
from lunge_mp.coordinator.lifecycle import Phase
from lunge_mp.exit_codes import ExitCode
from lunge_mp.protocol import messages as m


@dataclass
class Command:
    action: str                  # stop | pause | resume | scale
    args: dict = field(default_factory=dict)
    done: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


class Steering:
    """The verbs that steer a run, each a command handed to `submit` (a coordinator in this
    process: RunControl; one in a child process: api/relay.RemoteControl)."""

    def submit(self, action: str, **args) -> concurrent.futures.Future:
        raise NotImplementedError

    def stop(self, reason: str = "stopped on request") -> concurrent.futures.Future:
        return self.submit("stop", reason=reason)

    def pause(self) -> concurrent.futures.Future:
        return self.submit("pause")

    def resume(self) -> concurrent.futures.Future:
        return self.submit("resume")

    def scale(self, scenario: str, *, vus: int | None = None, factor: float | None = None,
              rate: float | None = None) -> concurrent.futures.Future:
        return self.submit("scale", scenario=scenario, vus=vus, factor=factor, rate=rate)


class RunControl(Steering):
    """The handle others hold on a running coordinator. Thread-safe to call; state read by
    other threads (`paused`, `pauses`, `events`) is only replaced whole, never mutated in place."""

    def __init__(self) -> None:
        self._queue: collections.deque[Command] = collections.deque()
        self.paused = False
        self.paused_total = 0.0          # seconds paused so far (closed spans)
        self.paused_since: float | None = None
        self.pauses: list[dict] = []     # [{"start": s, "end": s}] seconds after t0
        self.events: list[dict] = []     # pause, resume and scale events, in order
        self.scale_factors: dict[str, float] = {}   # open scenario → rate factor (scaling.py)
        self.base_fns: dict[str, object] = {}        # open scenario → its scaled, uncapped rate fn
        self.watchers: list = []         # fn(coordinator, t) called every tick (the API's live feed)
        self.notify = None               # fn(text): a pause, resume or scale, for the person watching
        # with pauses or scales the plan alone no longer says what was asked: each second's
        # targets as the run asked them (near its middle), and scenarios' starts before shifts
        self.targets: dict[int, tuple[float, int]] = {}
        self.first_starts: dict[str, float] = {}
        self._last_target_second = -1
        self.hold = ArrivalHold()        # the open-model arrivals the workers hold while paused

    # --- from any thread -------------------------------------------------------------------
    def submit(self, action: str, **args) -> concurrent.futures.Future:
        cmd = Command(action, args)
        self._queue.append(cmd)
        return cmd.done


    def signal_handlers(self) -> dict[int, object]:
        """SIGUSR1 pauses, SIGUSR2 resumes (a CLI run; installed by the coordinator)."""
        return {signal.SIGUSR1: self.pause, signal.SIGUSR2: self.resume}

    def paused_at(self, t: float) -> float:
        """Seconds paused up to `t` (the running pause included)."""
        return self.paused_total + (t - self.paused_since if self.paused_since is not None else 0.0)

    # --- from the run loop -----------------------------------------------------------------
    def apply(self, core, t: float) -> bool:
        """Apply waiting commands to the run's core (coordinator/core.py); True while paused
        (the core then deals nothing). Called by the core at the start of each running tick."""
        while self._queue:
            cmd = self._queue.popleft()
            try:
                answer = getattr(self, f"_{cmd.action}")(core, t, **cmd.args)
            except Exception as exc:  # a command must never end the run
                answer = f"internal error: {type(exc).__name__}: {exc}"
            if not cmd.done.done():
                cmd.done.set_result(answer)
        second = int(t - 0.5)
        if second > self._last_target_second and t >= 0.5:
            self._last_target_second = second
            self.targets[second] = self._asked(core, t)
        return self.paused

    def watch(self, coord, t: float) -> None:
        """The watchers (the API's live feed), every tick, with the run loop's Coordinator."""
        for watch in self.watchers:
            watch(coord, t)

    def reported(self, coord) -> None:
        """A worker's report was merged: watchers see a second it completed at once, not a
        tick (TICK_S) later."""
        if self.watchers:
            t = coord.now()
            for watch in self.watchers:
                watch(coord, t)

    def _asked(self, core, t: float) -> tuple[float, int]:
        """Open-model iterations/s and closed-model VUs the running scenarios ask for at `t`."""
        if self.paused:
            return 0.0, 0
        rate, vus = 0.0, 0
        for s in core.lifecycle.running():
            local = t - (core.lifecycle.start_of(s.name) or 0.0)
            clock = core.clocks.get(s.name)
            if s.is_open:
                rate += clock.fn.rate(local) if clock is not None else 0.0
            else:
                vus += s.target_vus(local)
        return round(rate, 3), vus

    def _stop(self, core, t: float, reason: str) -> str:
        core.request_stop(reason, ExitCode.STOPPED)
        return "ok"

    def _pause(self, core, t: float) -> str:
        if self.paused:
            return "already paused"
        if core.outcome.measured_from > 0 and t < core.outcome.measured_from:
            return "the run is warming up; pause after the warmup"
        busy = [s.name for s in core.lifecycle.running() if s.iteration_based]
        if busy:
            return f"scenario {busy[0]} is iteration-based ({core.lifecycle.state(busy[0]).plan.executor}): it cannot be paused"
        self.paused, self.paused_since = True, t
        for s in core.lifecycle.running():
            if not s.is_open:       # park the VUs: each finishes its current iteration
                deadline = int((t + s.graceful_ramp_down) * 1e6)
                for w in core.live_workers():
                    core.send(w, m.SetVUs(scenario=s.name, vus=0, deadline_us=deadline))
                core.vus_sent.pop(s.name, None)
        self.hold.hold(core, t)
        self._event(core, t, "pause")
        return "ok"

    def _resume(self, core, t: float) -> str:
        if not self.paused or self.paused_since is None:
            return "not paused"
        d = t - self.paused_since
        for name, st in core.lifecycle.states.items():
            if st.phase is Phase.RUNNING and st.started_at is not None:
                self.first_starts.setdefault(name, st.started_at)
                st.started_at += d           # the schedule goes on where it stopped
        core.lifecycle.offset += d          # scenarios not started yet start later too
        core.outcome.planned_s += d
        self.hold.release(core, d)
        self.paused_total += d
        self.pauses = [*self.pauses, {"start": round(self.paused_since, 3), "end": round(t, 3)}]
        self.paused, self.paused_since = False, None
        core.vus_sent.clear()               # closed scenarios get their targets again
        self._event(core, t, "resume", pausedSeconds=round(d, 3))
        return "ok"

    def _scale(self, core, t: float, scenario: str, vus: int | None, factor: float | None,
                     rate: float | None = None) -> str:
        from lunge_mp.coordinator.scaling import scale
        answer, detail = scale(core, t, scenario, vus, factor, rate)
        if answer == "ok":
            self._event(core, t, "scale", scenario=scenario, **detail)
        return answer

    def _event(self, core, t: float, kind: str, **fields) -> None:
        event = {"t": round(t, 3), "event": kind, **fields}
        self.events = [*self.events, event]
        if self.notify is not None:       # seen now, but not a warning of the run
            self.notify(f"{kind} at {t:.1f}s" + "".join(f", {k} {v}" for k, v in fields.items()))


def mark_results(results: dict, control: RunControl | None) -> None:
    """results.json: `pauses` and `controlEvents`, and `paused: true` on every bucket a pause
    overlaps (docs/RESULTS.md). After a pause or a scale, the buckets' targetRate and
    targetVUs are what the run asked for each second, and scenario windows start when the
    scenario really started (the plan alone would place them by the shifted schedule)."""
    if control is None:
        return
    if control.events:
        for b in results.get("buckets") or []:
            asked = control.targets.get(b.get("t"))
            if asked is not None and b.get("phase") != "warmup":
                b["targetRate"], b["targetVUs"] = asked
        for name, start in control.first_starts.items():
            window = (results.get("scenarioWindows") or {}).get(name)
            if window is not None:
                window["start"] = round(start, 3)
    pauses = list(control.pauses)
    if control.paused_since is not None:       # stopped while paused
        pauses.append({"start": round(control.paused_since, 3), "end": results.get("durationSeconds")})
    results["pauses"] = pauses
    results["controlEvents"] = list(control.events)
    for b in results.get("buckets") or []:
        t = b.get("t")
        if isinstance(t, int) and any(p["start"] < t + 1 and (p["end"] is None or p["end"] > t) for p in pauses):
            b["paused"] = True
