"""pattern: the rate follows a traffic pattern (seed 004): sine, burst, ramp, staircase,
custom phases or chaos, each a tagged type of its own (executors/shapes.py)."""

from __future__ import annotations

from typing import ClassVar

from lunge_mp.executors.base import OpenScenario
from lunge_mp.executors.shapes import Shape
from lunge_mp.schedule.rates import RateFn


class PatternRate(OpenScenario, frozen=True, kw_only=True, tag="pattern"):
    pattern: Shape

    load_key: ClassVar[str] = "pattern"

    @property
    def duration(self) -> float:
        """The pattern's length."""
        return self.pattern.length

    @property
    def length(self) -> float:
        return self.pattern.length

    def rate_fn(self) -> RateFn:
        try:
            return self.pattern.rate_fn()
        except ValueError as e:     # e.g. `pattern.amplitude: ...`, with the scenario's path
            raise ValueError(f"scenarios.{self.name}.{e}") from None

    def load_summary(self) -> list[str]:
        return []                   # the pattern speaks through its rate, shown elsewhere
