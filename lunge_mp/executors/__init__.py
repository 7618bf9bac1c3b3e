"""Executors as types: one msgspec Struct per executor, a variant of the tagged union
`ScenarioPlan` (tag field `executor`), each in its own module with what it means at run time.

To add an executor: a module here with its Struct (subclass of ClosedScenario,
IterationScenario or OpenScenario from `base`, `tag=` its config name), its name in the
`ScenarioPlan` union below, and its entry in config/executors.py (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import typing

from lunge_mp.executors.base import ClosedScenario, IterationScenario, OpenScenario, Scenario
from lunge_mp.executors.constant_arrival_rate import ConstantArrivalRate
from lunge_mp.executors.constant_vus import ConstantVUs
from lunge_mp.executors.pattern import PatternRate
from lunge_mp.executors.per_vu_iterations import PerVUIterations
from lunge_mp.executors.ramping_arrival_rate import RampingArrivalRate
from lunge_mp.executors.ramping_vus import RampingVUs
from lunge_mp.executors.shared_iterations import SharedIterations

#: every executor, closed model first (the order of `--help` and error messages)
ScenarioPlan = (ConstantVUs | RampingVUs | PerVUIterations | SharedIterations
                | ConstantArrivalRate | RampingArrivalRate | PatternRate)
KINDS: tuple[type[Scenario], ...] = typing.get_args(ScenarioPlan)

BY_NAME: dict[str, type[Scenario]] = {k.__struct_config__.tag: k for k in KINDS}  # type: ignore[misc]
EXECUTORS = tuple(BY_NAME)
OPEN_EXECUTORS = tuple(name for name, k in BY_NAME.items() if k.is_open)
CLOSED_EXECUTORS = tuple(name for name, k in BY_NAME.items() if not k.is_open)

__all__ = ["BY_NAME", "CLOSED_EXECUTORS", "EXECUTORS", "KINDS", "OPEN_EXECUTORS", "ClosedScenario",
           "ConstantArrivalRate", "ConstantVUs", "IterationScenario", "OpenScenario", "PatternRate",
           "PerVUIterations", "RampingArrivalRate", "RampingVUs", "Scenario", "ScenarioPlan",
           "SharedIterations"]
