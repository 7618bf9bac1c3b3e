"""Thresholds against a finished run: find the observed value, compare, explain.

Pure: works on the results document (report/results.py) plus a percentile lookup for
percentiles the summaries do not carry (e.g. p(97.5)).
"""

from __future__ import annotations

from collections.abc import Callable

from lunge_mp.analysis import selection
from lunge_mp.analysis.thresholds import evaluate, split_filters
from lunge_mp.analysis.window_groups import WindowGroups, narrows
from lunge_mp.analysis.windows import WindowVerdict, judge
from lunge_mp.metrics.hdr import value_at_index
from lunge_mp.plan import Threshold

# percentile(metric, p, scenario, request[, keys]) -> milliseconds or None; `keys`, a list of
# (scenario, request), asks for the percentile of those series merged (a tag filter)
PercentileFn = Callable[..., float | None]
# bucket_counts(metric, scenario) -> [(second, {hdr counts index: n})], for windowed trends
BucketCountsFn = Callable[[str, str | None], list[tuple[int, dict[int, int]]]]

_BUCKET_COUNTERS = {"http_reqs": "requests", "iterations": "iterations", "dropped_iterations": "dropped"}
_BUCKET_TRENDS = {(False, "http_req_duration"), (False, "http_req_response_time"), (False, "schedule_lag"),
                  (True, "http_req_duration")}   # (per scenario?, metric) kept per second

DEFAULT_NOTE = ("default threshold (the config sets none on http_req_failed): set your own, or "
                "options.defaultThresholds: false")

_SUMMARY_PERCENTILES = {50.0: "p50", 90.0: "p90", 95.0: "p95", 99.0: "p99", 99.9: "p99.9"}


def _block(results: dict, metric: str) -> tuple[dict | None, str, str | None, str | None, list | None]:
    """The metrics block a threshold reads, its base metric, the scenario/request it is for,
    and the (scenario, request) series of a block merged from several requests (else None)."""
    base, scenario, wanted = selection.target(*split_filters(metric), results["scenarios"])
    if wanted:      # a request or tag filter: the request series it selects
        entries = selection.select(results["requests"], wanted)
        if not entries:
            return None, base, scenario, wanted.get("request"), None
        if len(entries) == 1:
            return entries[0], base, entries[0]["scenario"], entries[0]["request"], None
        keys = [(e["scenario"], e["request"]) for e in entries]
        return selection.merge(entries), base, None, None, keys
    if scenario is not None:
        return results["scenarios"].get(scenario), base, scenario, None, None
    return results["metrics"], base, None, None, None


def observe(t: Threshold, results: dict, percentile: PercentileFn) -> float | None:
    """The value the threshold compares, in its units (ms for trends), or None without data."""
    block, base, scenario, request, keys = _block(results, t.metric)
    if block is None:
        return None
    seconds = results["durationSeconds"]
    agg = t.aggregation
    if base == "checks":
        # passes / (passes + fails) of every assertion; None without any (or in a results
        # document from before the `checks` block existed)
        checks = block.get("checks") or {}
        passes, fails = checks.get("passes", 0), checks.get("fails", 0)
        return passes / (passes + fails) if passes + fails else None
    if base in ("vus", "vus_max"):
        return float(block.get("vus_max", 0))
    entry = block.get(base)
    if entry is None:
        return None
    if agg == "count":
        return float(entry["count"])
    if agg == "rate":
        if base in ("http_req_failed", "redis_cmd_failed", "http_req_queued"):
            counted = block["redis_cmds" if base == "redis_cmd_failed" else "http_reqs"]
            return entry["rate"] if counted["count"] else None
        return entry["count"] / seconds if seconds > 0 else None
    if entry.get("count", 0) == 0:
        return None
    if agg in ("avg", "min", "max", "med") and agg in entry:
        return entry[agg]
    if agg != "med" and not agg.startswith("p"):
        return None
    p = 50.0 if agg == "med" else t.percentile
    key = _SUMMARY_PERCENTILES.get(p)
    if key is not None and key in entry:
        return entry[key]
    if keys is not None:    # a merged block carries no percentiles: merge the histograms
        return percentile(base, p, None, None, keys)
    return percentile(base, p, scenario, request)


def window_source(t: Threshold, results, groups: WindowGroups | None = None
                  ) -> tuple[str, str, str | int | None] | None:
    """(kind, base metric, scenario or None) of what a windowed threshold reads per second, or
    (kind, base metric, group number) for one with a request or tag filter (`groups`:
    analysis/window_groups.py); None when the metric is not kept per second. `results` needs
    only its scenario names."""
    if narrows(t.metric):       # never judged on more than it names
        return groups.source(t) if groups is not None else None
    _, base, scenario, _, _ = _block(results, t.metric)
    if base in ("http_req_failed", "checks"):
        return "rate", base, scenario
    if base in _BUCKET_COUNTERS:
        return "counter", base, scenario
    if (scenario is not None, base) in _BUCKET_TRENDS:
        return "trend", base, scenario
    return None


def second_datum(base: str, scenario: str | None, bucket: dict) -> object:
    """One second's data for a rate or counter window, from a 1-second bucket (buckets.as_dict,
    or a window group's `Bucket.group_row` with `scenario` None): (failures, requests),
    (passes, passes + fails) or a count."""
    part = bucket.get("byScenario", {}).get(scenario, {}) if scenario else bucket
    if base == "http_req_failed":
        return part.get("failures", 0), part.get("requests", 0)
    if base == "checks":
        passed = part.get("checksPassed", 0)
        return passed, passed + part.get("checksFailed", 0)
    return part.get(_BUCKET_COUNTERS[base], 0)


def window_inputs(t: Threshold, results: dict, bucket_counts: BucketCountsFn) -> tuple[str, list] | None:
    """(kind, per-second data) for a windowed threshold, from the measured seconds; None when
    the metric is not kept per second."""
    source = window_source(t, results)     # no groups here: those are judged as the run goes
    if source is None:
        return None
    kind, base, scenario = source
    if kind == "trend":
        first = results.get("measuredFrom", 0)
        return "trend", [(sec, counts) for sec, counts in bucket_counts(base, scenario) if sec >= first]
    measured = [b for b in results["buckets"] if b.get("phase") != "warmup"]
    return kind, [(b["t"], second_datum(base, scenario, b)) for b in measured]


def verdicts(thresholds: tuple[Threshold, ...], results: dict, percentile: PercentileFn,
             bucket_counts: BucketCountsFn | None = None,
             judged: dict[int, WindowVerdict] | None = None) -> list[dict]:
    """One entry per threshold: metric, expression, observed, ok (no data is not ok, except for
    a default threshold: config/default_thresholds.py), and `default` and `note` for a default.

    A windowed threshold (`over 30s`) reports its worst window's value as `observed`,
    with `windowStart` (first second of that window) and `firstFailure`. `judged` (threshold
    position → verdict) are windows judged as the run went (analysis/window_judge.py: a long
    run's old seconds are folded); otherwise they are slid over `bucket_counts` and the buckets.
    """
    out = []
    for i, t in enumerate(thresholds):
        entry = {"metric": t.metric, "expression": t.expression, "abortOnFail": t.abort_on_fail}
        if t.default:
            entry.update(default=True, note=DEFAULT_NOTE)
        inputs = None
        if t.window and judged is not None and i in judged:
            v = judged[i]
            entry.update(observed=v.worst, ok=v.ok, window=t.window, windowStart=v.worst_start,
                         firstFailure=v.first_failure, windows=v.windows)
            out.append(entry)
            continue
        if t.window and bucket_counts:
            inputs = window_inputs(t, results, bucket_counts)
        if t.window and inputs is not None:
            v = judge(t, inputs[1], inputs[0], value_at_index)
            entry.update(observed=v.worst, ok=v.ok, window=t.window, windowStart=v.worst_start,
                         firstFailure=v.first_failure, windows=v.windows)
        else:
            observed = observe(t, results, percentile)
            # no request at all: no failure rate; the default threshold does not fail that run
            entry.update(observed=observed, ok=evaluate(t, observed) if observed is not None else t.default)
            if t.window:
                entry["note"] = "this metric is not kept per second; judged on the whole run"
        out.append(entry)
    return out

