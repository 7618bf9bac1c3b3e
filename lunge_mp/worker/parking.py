"""When a worker parks its closed-model VUs, and when they run again. Pure: the worker passes
in how long it has heard nothing and what it heard; it parks and unparks (worker/main.py,
`ClosedScenario.park`).

Why: the coordinator takes a worker silent for LOST_AFTER_S for lost and splits its
closed-model VUs among the others (coordinator/health.py). A worker cut off from its
coordinator but not from the target would go on running its own: its share ran twice until
it rejoined or left. So a worker that has heard nothing for the same LOST_AFTER_S parks its
closed-model VUs: none starts a new iteration (those in flight finish and are reported as
usual, so every request sent is counted).

When it hears the coordinator again:
- an iteration-based scenario runs again at once: its shares are fixed at its start and a
  loss by silence does not move them (coordinator/iterations.py; a worker gone for good is
  refused and told to stop instead);
- a time-based one waits for the coordinator's word (`SetVUs`, or its end), because either
  the coordinator took the worker for lost and re-split the VUs (it sends the worker its new
  share on the tick after it rejoins, dealing.py `catch_up`), or it never did (the silence was
  shorter on its side: a race, or a one-way cut) and it would send nothing. So until told,
  the worker's heartbeats say `parked`, and the coordinator answers that with the worker's
  share of the split in force: in both orders the VUs run again, as many as the coordinator
  now gives it, and none is lost for good.
"""

from __future__ import annotations

from collections.abc import Mapping

from lunge_mp.protocol.liveness import LOST_AFTER_S


class Parking:
    def __init__(self, limit_s: float = LOST_AFTER_S) -> None:
        self.limit_s = limit_s
        self.cut_off = False                 # parked, and nothing heard since
        self.parked: dict[str, bool] = {}    # scenario parked → time-based (waits to be told)

    def silence(self, silent_s: float, closed: Mapping[str, bool]) -> list[str]:
        """The scenarios to park now (`closed`: name → time-based, those still running): all
        of them, once the silence passes the limit; nothing while already cut off."""
        if self.cut_off or silent_s <= self.limit_s:
            return []
        self.cut_off = True
        new = [name for name in closed if name not in self.parked]
        self.parked.update((name, closed[name]) for name in new)
        return new

    def heard(self) -> list[str]:
        """The coordinator spoke after a silence: the scenarios to run again now (the
        iteration-based ones); the time-based ones wait to be told (`told`)."""
        if not self.cut_off:
            return []
        self.cut_off = False
        now = [name for name, time_based in self.parked.items() if not time_based]
        for name in now:
            del self.parked[name]
        return now

    def told(self, name: str) -> bool:
        """The coordinator set the scenario's VUs (or ended it): True if it was parked and now
        runs again as told."""
        return self.parked.pop(name, None) is not None

    def release_all(self) -> list[str]:
        """The run stops: every parked scenario is unparked (its VUs then stop as told)."""
        names, self.parked, self.cut_off = list(self.parked), {}, False
        return names

    @property
    def asking(self) -> bool:
        """Heard again, but a time-based scenario still waits for its VU share: the worker's
        heartbeats ask for it (`Heartbeat.parked`)."""
        return not self.cut_off and any(self.parked.values())
