"""ramping-arrival-rate: the rate goes linearly from stage to stage (k6's ramping-arrival-rate)."""

from __future__ import annotations

from typing import ClassVar

from lunge_mp.executors.base import OpenScenario
from lunge_mp.plan_parts import Stage
from lunge_mp.schedule.rates import PiecewiseLinear, RateFn


class RampingArrivalRate(OpenScenario, frozen=True, kw_only=True, tag="ramping-arrival-rate"):
    stages: tuple[Stage, ...]   # target = iterations/s
    start_rate: float = 0.0

    load_key: ClassVar[str] = "stages"

    @property
    def duration(self) -> float:
        """The stages' total length."""
        return sum(st.duration for st in self.stages)

    @property
    def length(self) -> float:
        return self.duration

    def rate_fn(self) -> RateFn:
        return PiecewiseLinear(self.start_rate, [(s.duration, s.target) for s in self.stages])

    def load_summary(self) -> list[str]:
        return [f"up to {max([self.start_rate] + [st.target for st in self.stages]):g}/s"]
