"""constant-arrival-rate: `rate` iterations per second for `duration` (k6's constant-arrival-rate)."""

from __future__ import annotations

from typing import ClassVar

from lunge_mp.executors.base import OpenScenario
from lunge_mp.schedule.rates import Constant, RateFn


class ConstantArrivalRate(OpenScenario, frozen=True, kw_only=True, tag="constant-arrival-rate"):
    rate: float                 # iterations/s (timeUnit already applied)
    duration: float

    load_key: ClassVar[str] = "rate"

    @property
    def length(self) -> float:
        return self.duration

    def rate_fn(self) -> RateFn:
        return Constant(self.rate, self.duration)

    def load_summary(self) -> list[str]:
        return [f"{self.rate:g}/s"]
