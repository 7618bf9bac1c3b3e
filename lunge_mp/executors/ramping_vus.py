"""ramping-vus: VUs follow `stages` from `start_vus`, stepped as k6 steps them (schedule/split.py)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from lunge_mp.executors.base import ClosedScenario
from lunge_mp.plan_parts import Stage
from lunge_mp.schedule.split import vus_at


class RampingVUs(ClosedScenario, frozen=True, kw_only=True, tag="ramping-vus"):
    stages: tuple[Stage, ...]   # target = VUs
    start_vus: int = 0

    load_key: ClassVar[str] = "stages"

    @property
    def duration(self) -> float:
        """The stages' total length."""
        return sum(st.duration for st in self.stages)

    @property
    def length(self) -> float:
        return self.duration

    @property
    def peak_vus(self) -> int:
        return max([self.start_vus, *(int(st.target) for st in self.stages)])

    def target_vus(self, local: float) -> int:
        duration = self.duration
        if local < 0 or (duration and local >= duration):
            return 0
        return vus_at(self.start_vus, [(st.duration, st.target) for st in self.stages], local)

    def load_summary(self) -> list[str]:
        return [f"up to {self.peak_vus} VUs"]

    def scaled(self, factor: float | None, vus: int | None, local: float) -> tuple[RampingVUs, dict] | None:
        """Scaled at `local` s: its start and stage targets times `factor`, so the ramp keeps its
        shape; and what changed. None without a factor (`vus` alone says nothing of the ramp)."""
        if factor is None:
            return None
        stages = tuple(msgspec.structs.replace(g, target=round(g.target * factor)) for g in self.stages)
        new = msgspec.structs.replace(self, start_vus=round(self.start_vus * factor), stages=stages)
        return new, {"factor": round(factor, 6), "vus": new.target_vus(local)}
