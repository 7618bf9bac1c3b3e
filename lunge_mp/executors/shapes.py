"""The shapes of `executor: pattern`, one tagged type each (tag field `type`). Pure.

config/patterns.py validates a pattern with its field paths and builds one of these; each
knows its length and builds its rate function (schedule/patterns.py, which checks the same
rules again, as a constructor should). Field names are camelCase on the wire, as in configs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import msgspec

from lunge_mp.schedule import patterns as p
from lunge_mp.schedule.rates import RateFn


class ShapeBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", rename="camel",
                forbid_unknown_fields=True):

    @property
    def kind(self) -> str:
        return self.__struct_config__.tag  # type: ignore[return-value]

    @property
    def length(self) -> float:
        """Seconds the pattern runs: its `duration` (custom: its phases' sum)."""
        return self.duration  # type: ignore[attr-defined]

    def rate_fn(self) -> RateFn:
        raise NotImplementedError


class Sine(ShapeBase, frozen=True, kw_only=True, tag="sine"):
    duration: float
    base_rate: float
    amplitude: float
    period: float
    phase: float = 0.0          # radians

    def rate_fn(self) -> RateFn:
        return p.Sine(self.duration, self.base_rate, self.amplitude, self.period, self.phase)


class Burst(ShapeBase, frozen=True, kw_only=True, tag="burst"):
    duration: float
    base_rate: float
    burst_rate: float
    burst_duration: float
    burst_interval: float

    def rate_fn(self) -> RateFn:
        return p.Burst(self.duration, self.base_rate, self.burst_rate, self.burst_duration,
                       self.burst_interval)


RAMPS: dict[str, Callable[[float, float, float], RateFn]] = {
    "linear": p.LinearRamp, "exponential": p.ExponentialRamp, "logarithmic": p.LogarithmicRamp}


class Ramp(ShapeBase, frozen=True, kw_only=True, tag="ramp"):
    duration: float
    start_rate: float
    end_rate: float
    ramp_type: Literal["linear", "exponential", "logarithmic"] = "linear"

    def rate_fn(self) -> RateFn:
        return RAMPS[self.ramp_type](self.duration, self.start_rate, self.end_rate)


class Staircase(ShapeBase, frozen=True, kw_only=True, tag="staircase"):
    duration: float
    start_rate: float
    step_rate: float
    step_duration: float
    max_rate: float | None = None

    def rate_fn(self) -> RateFn:
        return p.Staircase(self.duration, self.start_rate, self.step_rate, self.step_duration,
                           self.max_rate)


class Phase(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """One phase of a custom pattern: linear from start_rate to end_rate (equal: constant)."""
    duration: float
    start_rate: float
    end_rate: float
    name: str = ""


class Custom(ShapeBase, frozen=True, kw_only=True, tag="custom"):
    phases: tuple[Phase, ...]

    @property
    def length(self) -> float:
        return sum(ph.duration for ph in self.phases)

    def rate_fn(self) -> RateFn:
        return p.Custom([{"duration": ph.duration, "startRate": ph.start_rate, "endRate": ph.end_rate}
                         for ph in self.phases])


class Chaos(ShapeBase, frozen=True, kw_only=True, tag="chaos"):
    duration: float
    base_rate: float
    max_rate: float
    seed: int = 0

    def rate_fn(self) -> RateFn:
        return p.Chaos(self.duration, self.base_rate, self.max_rate, self.seed)


Shape = Sine | Burst | Ramp | Staircase | Custom | Chaos
SHAPES: tuple[type[ShapeBase], ...] = (Sine, Burst, Ramp, Staircase, Custom, Chaos)
TYPES = tuple(cls.__struct_config__.tag for cls in SHAPES)


def shape_from(spec: object) -> Shape:
    """A shape from its config form (camelCase keys, durations in seconds; custom phases may give
    `rate` for a constant phase). msgspec.ValidationError names a missing or wrong field."""
    if isinstance(spec, dict) and spec.get("type") == "custom" and isinstance(spec.get("phases"), list):
        spec = {**spec, "phases": [_phase(ph) for ph in spec["phases"]]}
    return msgspec.convert(spec, Shape)  # type: ignore[arg-type]


def _phase(ph: object) -> object:
    if isinstance(ph, dict) and "rate" in ph and "startRate" not in ph and "endRate" not in ph:
        rest = {k: v for k, v in ph.items() if k != "rate"}
        return {**rest, "startRate": ph["rate"], "endRate": ph["rate"]}
    return ph
