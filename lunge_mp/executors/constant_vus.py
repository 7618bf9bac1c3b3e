"""constant-vus: `vus` VUs loop over the requests for `duration` (k6's constant-vus)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from lunge_mp.executors.base import ClosedScenario


class ConstantVUs(ClosedScenario, frozen=True, kw_only=True, tag="constant-vus"):
    vus: int
    duration: float

    load_key: ClassVar[str] = "vus"

    @property
    def length(self) -> float:
        return self.duration

    @property
    def peak_vus(self) -> int:
        return self.vus

    def target_vus(self, local: float) -> int:
        return 0 if local < 0 or local >= self.duration else self.vus

    def load_summary(self) -> list[str]:
        return [f"{self.vus} VU{'' if self.vus == 1 else 's'}"]

    def scaled(self, factor: float | None, vus: int | None, local: float) -> tuple[ConstantVUs, dict]:
        """Scaled at `local` s: `vus` VUs from now on, or its VUs times `factor`; and what changed."""
        new = int(vus if vus is not None else round(self.vus * (factor or 0.0)))
        return msgspec.structs.replace(self, vus=new), {"vus": new, "was": self.vus}
