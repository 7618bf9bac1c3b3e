"""per-vu-iterations: each of `vus` VUs runs `iterations` iterations (k6's per-vu-iterations)."""

from __future__ import annotations

from lunge_mp.executors.base import IterationScenario


class PerVUIterations(IterationScenario, frozen=True, kw_only=True, tag="per-vu-iterations"):

    def deal(self, vus: list[int]) -> list[int]:
        return [0] * len(vus)       # each VU knows its N (iterations_per_vu): no pool to share

    def planned_iterations(self) -> int:
        return self.iterations * self.vus

    def load_summary(self) -> list[str]:
        return [f"{self.vus} VU{'' if self.vus == 1 else 's'}", f"{self.iterations} iterations each"]
