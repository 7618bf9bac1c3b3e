"""Thresholds against a finished run: find the observed value, compare, explain.

Pure: works on the results document (report/results.py) plus a percentile lookup for
percentiles the summaries do not carry (e.g. p(97.5)).
"""

from __future__ import annotations

from collections.abc import Callable

from lunge_mp.analysis.thresholds import evaluate, split_metric
from lunge_mp.plan import Threshold

# percentile(metric, p, scenario, request) -> milliseconds or None
PercentileFn = Callable[[str, float, str | None, str | None], float | None]

_SUMMARY_PERCENTILES = {50.0: "p50", 90.0: "p90", 95.0: "p95", 99.0: "p99", 99.9: "p99.9"}


def _block(results: dict, metric: str) -> tuple[dict | None, str, str | None, str | None]:
    """The metrics block a threshold reads, its base metric, and the scenario/request filter."""
    base, tag = split_metric(metric)
    scenario = request = None
    for suffix, builtin in (("_duration", "http_req_duration"), ("_failed", "http_req_failed"),
                            ("_reqs", "http_reqs")):
        name = base[: -len(suffix)]
        if base.endswith(suffix) and name in results["scenarios"]:
            scenario, base = name, builtin
            break
    if tag is not None:
        key, value = tag
        if key == "scenario":
            scenario = value
        else:
            request = value
    if request is not None:
        for entry in results["requests"].values():
            if entry["request"] == request and (scenario is None or entry["scenario"] == scenario):
                return entry, base, entry["scenario"], request
        return None, base, scenario, request
    if scenario is not None:
        return results["scenarios"].get(scenario), base, scenario, None
    return results["metrics"], base, None, None


def observe(t: Threshold, results: dict, percentile: PercentileFn) -> float | None:
    """The value the threshold compares, in its units (ms for trends), or None without data."""
    block, base, scenario, request = _block(results, t.metric)
    if block is None:
        return None
    seconds = results["durationSeconds"]
    agg = t.aggregation
    if base == "checks":
        failed = block.get("http_req_failed", {}).get("byClass", {}).get("check", 0)
        total = block["http_reqs"]["count"]
        return None if not total else 1 - failed / total
    if base in ("vus", "vus_max"):
        return float(block.get("vus_max", 0))
    entry = block.get(base)
    if entry is None:
        return None
    if agg == "count":
        return float(entry["count"])
    if agg == "rate":
        if base == "http_req_failed":
            return entry["rate"] if block["http_reqs"]["count"] else None
        return entry["count"] / seconds if seconds > 0 else None
    if entry.get("count", 0) == 0:
        return None
    if agg in ("avg", "min", "max", "med"):
        return entry[agg]
    if agg.startswith("p"):
        key = _SUMMARY_PERCENTILES.get(t.percentile)
        if key is not None:
            return entry[key]
        return percentile(base, t.percentile, scenario, request)
    return None


def verdicts(thresholds: tuple[Threshold, ...], results: dict, percentile: PercentileFn) -> list[dict]:
    """One entry per threshold: metric, expression, observed, ok (no data is not ok)."""
    out = []
    for t in thresholds:
        observed = observe(t, results, percentile)
        ok = observed is not None and evaluate(t, observed)
        out.append({"metric": t.metric, "expression": t.expression, "observed": observed, "ok": ok,
                    "abortOnFail": t.abort_on_fail})
    return out

