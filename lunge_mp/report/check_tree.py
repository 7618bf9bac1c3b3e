"""Every check by name, as k6 lists them: per scenario and request, passes, fails and the
first failure message of each check. Pure: the aggregate's per-check counts + the plan's
check names → the `checkResults` list of results.json (docs/RESULTS.md)."""

from __future__ import annotations

from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.plan import Plan


def check_results(agg: Aggregate, plan: Plan) -> list[dict]:
    labels = {(s.name, r.name): [a.label or a.type for a in r.assertions]
              for s in plan.scenarios for r in s.requests}
    order = {key: i for i, key in enumerate(labels)}
    out = []
    for scenario, request, runs, fails, first in sorted(
            agg.check_results(), key=lambda row: (order.get((row[0], row[1]), len(order)), row[0], row[1])):
        names = labels.get((scenario, request), [])
        for i in range(max(len(names), max(fails, default=-1) + 1)):
            failed = fails.get(i, 0)
            out.append({"scenario": scenario, "request": request,
                        "check": names[i] if i < len(names) else f"check {i + 1}",
                        "passes": runs - failed, "fails": failed,
                        "rate": round((runs - failed) / runs, 6) if runs else None,
                        "firstFailure": first.get(i)})
    return out
