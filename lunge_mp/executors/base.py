"""What every executor's scenario has, and what the run asks of any of them. Pure.

A scenario is one variant of a msgspec tagged union (tag field `executor`, the name written
in configs), so each carries only its own executor's fields. The run never compares executor
names: it asks the scenario (`is_open`, `length`, `target_vus(t)`, `rate_fn()`, ...), and each
executor's module (lunge_mp/executors/<name>.py) answers for its own kind.

Two families:
- closed model (`ClosedScenario`): VUs loop over the requests; time-based ones (constant-vus,
  ramping-vus) get a VU target at each tick, iteration-based ones (`IterationScenario`) get
  their VUs and iterations once, at the start, and end early when every worker is done;
- open model (`OpenScenario`): iterations arrive on a schedule, `rate_fn()` (schedule/rates.py),
  served by a pool of preAllocatedVUs..maxVUs VUs.
"""

from __future__ import annotations

import math
from typing import ClassVar

import msgspec

from lunge_mp.plan_parts import DataSource, Pacing, RequestSpec
from lunge_mp.schedule.capped_rate import capped
from lunge_mp.schedule.rates import RateFn


class Scenario(msgspec.Struct, frozen=True, kw_only=True, tag_field="executor", forbid_unknown_fields=True):
    """The fields every scenario has. Subclasses add their executor's own; a field of another
    executor is refused when a plan is decoded (`forbid_unknown_fields`)."""

    name: str
    requests: tuple[RequestSpec, ...]
    start_time: float = 0.0
    graceful_stop: float = 30.0
    graceful_ramp_down: float = 30.0
    pacing: Pacing = Pacing()
    tags: dict[str, str] = {}
    data: tuple[DataSource, ...] = ()   # this scenario's own data files (Plan.data: every scenario's)
    warmup_of: str = ""         # a warmup copy (warmup.py): the name of the scenario it warms up

    is_open: ClassVar[bool] = False
    iteration_based: ClassVar[bool] = False
    #: the config key that sets its load (an error about the load names it)
    load_key: ClassVar[str] = ""

    @property
    def executor(self) -> str:
        """The executor's name as written in configs and results.json (`constant-vus`)."""
        return self.__struct_config__.tag  # type: ignore[return-value]

    @property
    def length(self) -> float:
        """Seconds from the scenario's start to its schedule's end (before gracefulStop)."""
        raise NotImplementedError

    @property
    def peak_vus(self) -> int:
        """The most VUs it may run: a closed scenario's planned peak, an open one's maxVUs."""
        raise NotImplementedError

    def load_summary(self) -> list[str]:
        """Its load in a few words for the start banner and `validate` (`200/s`, `10 VUs`)."""
        raise NotImplementedError

    def planned_iterations(self) -> int:
        """Iterations it will run if it keeps up (0 when that depends on response times)."""
        return 0


class ClosedScenario(Scenario, frozen=True, kw_only=True):
    """Closed model: a number of VUs, each running iterations back to back."""

    def target_vus(self, local: float) -> int:
        """VUs it runs `local` seconds after its start (0 before it and after its duration)."""
        raise NotImplementedError

    def scaled(self, factor: float | None, vus: int | None, local: float) -> tuple[Scenario, dict] | None:
        """Scaled at `local` s by `factor` (or to `vus`): the new plan and what changed for the
        control API; None when it needs a factor. Iteration-based scenarios are never scaled."""
        raise NotImplementedError


class IterationScenario(ClosedScenario, frozen=True, kw_only=True):
    """Iteration-based: `vus` VUs run a number of iterations, for at most `max_duration`.

    The coordinator deals them once, at the start (`deal`); the scenario ends early when every
    worker has run its share, and cannot be scaled or paused.
    """

    vus: int
    iterations: int
    max_duration: float = 600.0

    iteration_based: ClassVar[bool] = True
    load_key: ClassVar[str] = "iterations"
    #: its VUs pull from one pool per worker (shared-iterations), not N each (per-vu-iterations)
    shares_iterations: ClassVar[bool] = False

    @property
    def length(self) -> float:
        return self.max_duration

    @property
    def peak_vus(self) -> int:
        return self.vus

    @property
    def iterations_per_vu(self) -> int:
        """What SetVUs.iterations_per_vu says: each VU's iterations (0: they share a pool)."""
        return 0 if self.shares_iterations else self.iterations

    def deal(self, vus: list[int]) -> list[int]:
        """Each worker's share of the iterations (SetVUs.iterations_total), given its VUs."""
        raise NotImplementedError

    def target_vus(self, local: float) -> int:
        return 0 if local < 0 else self.vus


class OpenScenario(Scenario, frozen=True, kw_only=True):
    """Open model: iterations arrive at `rate_fn()`'s instants, whatever the responses do."""

    pre_allocated_vus: int = 0
    max_vus: int = 0
    arrivals: str = "constant"  # constant | poisson | uniform (schedule/random_arrivals.py)
    arrival_seed: int | None = None   # `seed`: None = chosen per run (reported)
    rate_cap: float = 0.0       # iterations/s ceiling set at run time by guardrails.maxRate (0 = none)

    is_open: ClassVar[bool] = True

    @property
    def peak_vus(self) -> int:
        return max(self.max_vus, self.pre_allocated_vus)

    def rate_fn(self) -> RateFn:
        """Its rate function (time from its own start), before any guardrail cap."""
        raise NotImplementedError

    def target_fn(self) -> RateFn:
        """Its rate function with its guardrail cap (`rate_cap`) applied."""
        fn = self.rate_fn()
        return capped(fn, self.rate_cap) if self.rate_cap else fn

    def planned_iterations(self) -> int:
        fn = self.target_fn()
        return math.ceil(fn.hits(fn.duration))
