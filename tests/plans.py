"""Building a scenario plan by executor name in tests: the executor's Struct, given the
fields it has. Test helpers pass shared defaults (duration, vus) to every executor; a field
the executor does not have is dropped here, as the config parser never sets it."""

from __future__ import annotations

from lunge_mp.executors import BY_NAME
from lunge_mp.plan import ScenarioPlan


def scenario_of(executor: str, **fields: object) -> ScenarioPlan:
    kind = BY_NAME[executor]
    return kind(**{k: v for k, v in fields.items() if k in kind.__struct_fields__})  # type: ignore[return-value]
