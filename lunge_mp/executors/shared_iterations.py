"""shared-iterations: `vus` VUs share `iterations` iterations in total (k6's shared-iterations).

Each worker gets a share in proportion to its VUs (schedule/split.py `iteration_shares`),
which its VUs pull from until it is empty.
"""

from __future__ import annotations

from typing import ClassVar

from lunge_mp.executors.base import IterationScenario
from lunge_mp.schedule.split import iteration_shares


class SharedIterations(IterationScenario, frozen=True, kw_only=True, tag="shared-iterations"):

    shares_iterations: ClassVar[bool] = True

    def deal(self, vus: list[int]) -> list[int]:
        return iteration_shares(self.iterations, vus)

    def planned_iterations(self) -> int:
        return self.iterations

    def load_summary(self) -> list[str]:
        return [f"{self.vus} VU{'' if self.vus == 1 else 's'}",
                f"{self.iterations} iteration{'' if self.iterations == 1 else 's'}"]
