"""results.json: the run as data. The schema is documented in docs/RESULTS.md.

Latencies are milliseconds; counts are exact; rates are per second of measured run time
(t0 to the last worker's final report).
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Mapping

import msgspec

from lunge_mp import __version__
from lunge_mp.analysis import anomalies, connection_waits
from lunge_mp.analysis.generator_errors import separate_block
from lunge_mp.analysis.selection import request_tags
from lunge_mp.outcome import RunOutcome
from lunge_mp import timeline
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.names import DETAILED_METRICS, DROP_DATA_EXHAUSTED
from lunge_mp.report.check_tree import check_results
from lunge_mp.report.redis_metrics import add_redis_blocks
from lunge_mp.scenario.preflight import data_sources_used
from lunge_mp.worker import transports

SCHEMA_VERSION = 1
TREND_METRICS = ("http_req_duration", "http_req_response_time", "schedule_lag", "iteration_duration",
                 "http_req_blocked", "http_req_connecting", *DETAILED_METRICS)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds")


def _rate(count: float, seconds: float) -> float:
    return round(count / seconds, 3) if seconds > 0 else 0.0


def checks_block(passes: int, fails: int) -> dict:
    """`checks`: assertions that held and did not; rate = passes / (passes + fails), None
    when no assertion was evaluated (no assertions, or no response to judge)."""
    total = passes + fails
    return {"passes": passes, "fails": fails, "rate": round(passes / total, 6) if total else None}


def request_metrics(agg: Aggregate, seconds: float, scenario: str | None = None,
                    request: str | None = None) -> dict:
    """The request-level block: counts, failures (the target's; the load generator's own are in
    `generator_errors`), checks, latency summaries, bytes."""
    c = agg.counters(scenario=scenario, request=request)
    requests, failures = c["requests"], c["failures"]
    block = {
        "http_reqs": {"count": requests, "rate": _rate(requests, seconds)},
        "http_req_failed": {"count": failures, "rate": round(failures / requests, 6) if requests else 0.0,
                            "byClass": dict(sorted(c["errors"].items())),
                            "firstError": dict(sorted(c["first_error"].items()))},
        "checks": checks_block(c["checks_passed"], c["checks_failed"]),
        "http_req_duration": agg.summary("http_req_duration", scenario=scenario, request=request),
        "http_req_response_time": agg.summary("http_req_response_time", scenario=scenario, request=request),
        # before the request went out (fast transport): waiting for a connection + opening one
        "http_req_blocked": agg.summary("http_req_blocked", scenario=scenario, request=request),
        "http_req_connecting": agg.summary("http_req_connecting", scenario=scenario, request=request),
        "http_req_queued": {"count": c["queued"], "rate": round(c["queued"] / requests, 6) if requests else 0.0},
        "data_received": {"count": c["bytes_in"], "rate": _rate(c["bytes_in"], seconds)},
        "data_sent": {"count": c["bytes_out"], "rate": _rate(c["bytes_out"], seconds)},
    }
    for metric in DETAILED_METRICS:     # settings.timings: detailed (absent when not recorded)
        summary = agg.summary(metric, scenario=scenario, request=request)
        if summary.get("count"):
            block[metric] = summary
    separate_block(block)   # the load generator's own failures are not the target's
    add_redis_blocks(block, agg, seconds, scenario, request)   # redis_* over the Redis commands alone
    return block


def scenario_metrics(agg: Aggregate, seconds: float, scenario: str | None = None) -> dict:
    """Request block plus iterations, drops, schedule lag and VUs."""
    block = request_metrics(agg, seconds, scenario=scenario)
    sc = agg.scenario_counters(scenario=scenario)
    block["schedule_lag"] = agg.summary("schedule_lag", scenario=scenario)
    block["iteration_duration"] = agg.summary("iteration_duration", scenario=scenario)
    block["iterations"] = {"count": sc["iterations"], "rate": _rate(sc["iterations"], seconds)}
    block["dropped_iterations"] = {"count": sum(sc["dropped"].values()), "byCause": dict(sc["dropped"])}
    block["interrupted_iterations"] = {"count": sc["interrupted"]}
    block["vus_max"] = sc["vus_max"]
    return block


def planned_vus(s) -> int:
    """A closed-model scenario's planned peak of VUs (0 for the open model).

    `vus_max` means what k6's does: the most VUs the scenario had or was given. Sampled VU
    counts alone miss a ramp's last step (a ramp to 3 reaches 3 at its very end) and a run
    shorter than one report (a quick shared-iterations run), so the plan's peak counts too."""
    return 0 if s.is_open else s.peak_vus


def _with_planned_vus(block: dict, planned: int) -> dict:
    block["vus_max"] = max(block["vus_max"], planned)
    return block


def efficiency(agg: Aggregate, outcome: RunOutcome) -> dict:
    """Open model: iterations started ÷ iterations due, overall and per scenario (None if no open scenario).

    Arrivals dropped because a `unique` data source ran out of rows (data_exhausted) count
    neither as due nor as dropped: the data ran out, the load generator did not fall behind.
    A lost worker's unaccounted arrivals count as due and not started: those in flight at its
    last report (reported due) are taken out of the started, the others added to the due.
    """
    per: dict[str, float | None] = {}
    due_total = started_total = 0
    for s in outcome.plan.scenarios:
        if not s.is_open:
            continue
        sc = agg.scenario_counters(scenario=s.name)
        exhausted = sc["dropped"].get(DROP_DATA_EXHAUSTED, 0)
        in_flight = outcome.arrivals_started_unknown.get(s.name, 0)
        never_reported = outcome.arrivals_unaccounted.get(s.name, 0) - in_flight
        due = sc["scheduled"] - exhausted + never_reported
        started = sc["scheduled"] - exhausted - (sum(sc["dropped"].values()) - exhausted) - in_flight
        due_total += due
        started_total += started
        per[s.name] = round(started / due, 6) if due else None
    overall = round(started_total / due_total, 6) if due_total else None
    return {"overall": overall, "byScenario": per}


def build_results(outcome: RunOutcome, status: str, exit_code: int,
                  thresholds: list[dict] | None = None) -> dict:
    agg = outcome.aggregate
    plan = outcome.plan
    seconds = outcome.duration_s
    measured = max(0.0, seconds - outcome.measured_from)
    buckets = _buckets(outcome, agg, outcome.measured_from)
    if outcome.warmup is not None:
        buckets = _buckets(outcome, outcome.warmup, outcome.measured_from, warm=True) + buckets
    tags = request_tags(plan.scenarios)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "lunge_mp", "version": __version__, "host": socket.gethostname()},
        "runId": outcome.run_id,
        "name": plan.name,
        "source": plan.source,
        "profile": None if plan.profile is None else msgspec.structs.asdict(plan.profile),
        "status": status,
        "exitCode": exit_code,
        "abortReason": outcome.abort,
        "startTime": _iso(outcome.start_time),
        "endTime": _iso(outcome.end_time),
        "durationSeconds": round(measured, 3),
        "wallSeconds": round(seconds, 3),
        "plannedSeconds": round(outcome.planned_s, 3),
        "measuredFrom": outcome.measured_from,
        "metrics": _with_planned_vus(scenario_metrics(agg, measured), max(map(planned_vus, plan.scenarios),
                                                                          default=0)),
        "scenarios": {
            s.name: {"executor": s.executor,
                     **_with_planned_vus(scenario_metrics(agg, measured, scenario=s.name), planned_vus(s)),
                     **({"arrivals": outcome.arrival_processes[s.name]} if s.name in outcome.arrival_processes
                        else {})}
            for s in plan.scenarios
        },
        "requests": {
            f"{scenario}/{request}" if _ambiguous(agg, request) else request:
                {"scenario": scenario, "request": request, "tags": tags.get((scenario, request), {}),
                 **request_metrics(agg, measured, scenario, request)}
            for scenario, request in agg.request_keys()
        },
        "warmup": None if outcome.warmup is None else {
            "seconds": outcome.measured_from, **scenario_metrics(outcome.warmup, outcome.measured_from)},
        "transport": transports.chosen(plan),
        "scenarioWindows": outcome.scenario_windows,
        "checkResults": check_results(agg, plan),
        "thresholds": thresholds or [],
        "efficiency": efficiency(agg, outcome),
        "buckets": buckets,
        "workers": [
            {"id": w.worker, "pid": w.pid, "cpuUserSeconds": round(w.cpu_user, 3),
             "cpuSystemSeconds": round(w.cpu_system, 3), "lastCpuPercent": w.cpu_percent,
             "lastLoopLagMs": round(w.loop_lag_ms, 3), "rssMB": round(w.rss_mb, 1),
             "lostAt": w.lost_at, "rejoinedAt": w.rejoined_at, "error": w.error,
             "arrivalsRedealt": w.redealt, "host": w.host or socket.gethostname(), "name": w.name, "remote": w.remote,
             "clockOffsetMs": w.clock_offset_ms, "clockUncertaintyMs": w.clock_uncertainty_ms,
             "clockRttMs": w.clock_rtt_ms, "clockAppliedOffsetMs": w.clock_applied_ms,
             "clockHistory": w.clock_history, "clockDriftPpm": w.clock_drift_ppm}
            for w in outcome.workers
        ],
        "coordinator": {"cpuSeconds": round(outcome.coordinator_cpu_s, 3)},
        "arrivalsSent": outcome.arrivals_sent,
        "queue": outcome.queue,
        "arrivalsUnaccounted": outcome.arrivals_unaccounted,
        "arrivalsRedealt": outcome.arrivals_redealt,
        "resources": outcome.resources,
        "anomalies": anomalies.find(buckets, outcome.resources),
        "warnings": list(outcome.warnings) + _behind_warnings(agg, plan) + _wait_warnings(agg, outcome),
        "reportGaps": agg.gaps(),
        "histograms": agg.encoded_histograms(),
    }


def all_failed_warning(metrics: dict) -> str | None:
    """A warning when every request of the run failed: thresholds may still pass (none on
    failures), but the summary must not read as a healthy run. None otherwise."""
    requests, failed = metrics["http_reqs"]["count"], metrics["http_req_failed"]
    if not requests or failed["count"] < requests:
        return None
    by_class = sorted(failed.get("byClass", {}).items(), key=lambda kv: -kv[1])
    if not by_class:
        return f"every request failed ({requests:,})"
    top, count = by_class[0]
    first = failed.get("firstError", {}).get(top)
    hint = "; is the target running and baseUrl right?" if top in ("connect", "dns", "timeout", "tls") else ""
    return (f"every request failed ({requests:,}; {top}: {count:,}"
            + (f", first: {first}" if first else "") + f"){hint}")


def _wait_warnings(agg: Aggregate, outcome: RunOutcome) -> list[str]:
    """Requests that queued at settings.maxConnectionsPerHost (analysis/connection_waits.py)."""
    c = agg.counters()
    text = connection_waits.warning(outcome.plan.settings.max_connections_per_host, len(outcome.workers),
                                    c["queued"], c["requests"])
    return [text] if text else []


def _behind_warnings(agg: Aggregate, plan) -> list[str]:
    """A scenario that dropped iterations did not get its asked load: an open-model one because
    the load generator fell behind (no_vu, behind), or either model because a `unique` data file
    ran out of rows (data_exhausted, a warning of its own: not the generator's fault). A
    closed-model VU stops when the data runs out, counting one data_exhausted drop (the
    iteration it could not start): its scenario ended early."""
    out = []
    for s in plan.scenarios:
        dropped = dict(agg.scenario_counters(scenario=s.name)["dropped"])
        exhausted = dropped.pop(DROP_DATA_EXHAUSTED, 0)
        if s.is_open and sum(dropped.values()):
            causes = ", ".join(f"{k}: {v:,}" for k, v in sorted(dropped.items()))
            hint = "raise maxVUs" if "no_vu" in dropped else "add workers or lower the rate"
            out.append(f"scenario {s.name} fell behind its target: {sum(dropped.values()):,} iterations "
                       f"dropped ({causes}); {hint}")
        if exhausted:
            files = [d.file for d in data_sources_used(plan, s) if d.mode == "unique"]
            named = " or ".join(files) if files else "a unique data source"
            which = f"data file {named}" if files else named
            if s.is_open:
                out.append(f"scenario {s.name}: {exhausted:,} iterations dropped because {which} ran out of "
                           f"unique rows (not counted against efficiency); add rows, shorten the run or "
                           f"lower the rate, or use mode sequential or random to reuse rows")
            else:
                vus = "1 VU" if exhausted == 1 else f"{exhausted:,} VUs"
                out.append(f"scenario {s.name} ended early: {which} ran out of unique rows, so {vus} stopped "
                           f"before the scenario's end (each counted as one data_exhausted dropped "
                           f"iteration); add rows, shorten the run or use fewer VUs or iterations, or use "
                           f"mode sequential or random to reuse rows")
    return out


def _buckets(outcome: RunOutcome, agg: Aggregate, measured_from: float, warm: bool = False) -> list[dict]:
    """1-second buckets with their targets and phase (t counts whole seconds from t0)."""
    plan, starts = outcome.plan, outcome.scenario_starts
    out = []
    for b in agg.buckets():
        if (b["t"] >= measured_from) == warm:
            continue   # each second belongs to the warmup or to the test, never both
        mid = b["t"] + 0.5
        target_rate = 0.0
        target_vus = 0
        open_iterations = 0
        for s in plan.scenarios:
            started = starts.get(s.name)
            ended = outcome.scenario_windows.get(s.name, {}).get("end")
            if started is None or (ended is not None and mid >= ended):
                continue
            if s.is_open:
                target_rate += timeline.target_rate(s, mid - started)
                open_iterations += b.get("byScenario", {}).get(s.name, {}).get("iterations", 0)
            else:
                target_vus += timeline.target_vus(s, mid - started)
        if warm and plan.options.warmup is not None:
            w = plan.options.warmup
            running = b["t"] < w.duration
            target_rate, target_vus = (w.rate, w.vus) if running else (0.0, 0)
        b = dict(b)
        b["phase"] = "warmup" if warm else timeline.phase(plan, starts, b["t"], measured_from)
        b["targetRate"] = round(target_rate, 3)
        b["achievedRate"] = b.get("iterations", 0) if warm else open_iterations   # open model only
        b["targetVUs"] = target_vus
        out.append(b)
    return out


def _ambiguous(agg: Aggregate, request: str) -> bool:
    """A request name used by two scenarios is keyed `scenario/request`."""
    return sum(1 for _, r in agg.request_keys() if r == request) > 1


class _Lazy(Mapping):
    """A mapping whose values are computed on first access (live threshold checks read
    only the blocks their metric needs; the rest is never summarised)."""

    def __init__(self, keys: list[str], make) -> None:
        self._keys, self._make, self._done = keys, make, {}

    def __getitem__(self, key: str):
        if key not in self._keys:
            raise KeyError(key)
        if key not in self._done:
            self._done[key] = self._make(key)
        return self._done[key]

    def __contains__(self, key: object) -> bool:
        return key in self._keys        # without computing the value (Mapping's would)

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class _Entry(Mapping):
    """A request entry whose names (scenario, request, tags) are known at once and whose
    figures are computed on first access: a tag filter reads every entry's names to select
    a few, and only those are summarised."""

    def __init__(self, head: dict, make) -> None:
        self._head, self._make, self._full = head, make, None

    def _all(self) -> dict:
        if self._full is None:
            self._full = {**self._head, **self._make()}
        return self._full

    def __getitem__(self, key: str):
        return self._head[key] if key in self._head else self._all()[key]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def live_results(outcome: RunOutcome, seconds: float) -> Mapping:
    """The parts of the results document thresholds read, computed lazily mid-run."""
    agg = outcome.aggregate
    request_keys = {(f"{s}/{r}" if _ambiguous(agg, r) else r): (s, r) for s, r in agg.request_keys()}
    tags = request_tags(outcome.plan.scenarios)
    return _Lazy(["metrics", "scenarios", "requests", "durationSeconds"], lambda key: {
        "metrics": lambda: scenario_metrics(agg, seconds),
        "scenarios": lambda: _Lazy([s.name for s in outcome.plan.scenarios],
                                   lambda name: scenario_metrics(agg, seconds, scenario=name)),
        "requests": lambda: _Lazy(list(request_keys), lambda k: _Entry(
            {"scenario": request_keys[k][0], "request": request_keys[k][1], "tags": tags.get(request_keys[k], {})},
            lambda: request_metrics(agg, seconds, *request_keys[k]))),
        "durationSeconds": lambda: seconds,
    }[key]())
