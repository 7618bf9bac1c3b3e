"""A valid plan run: coordinator → verdict → results, reports, history and exit code
(`lunge-mp run` through cli_run.py, the control plane through api/runs.py).

Whatever happens after the plan is valid, the results gathered so far are written.
"""

from __future__ import annotations

import sys
import traceback

import uvloop

from lunge_mp import capacity
from lunge_mp.analysis.live_windows import LiveWindows
from lunge_mp.analysis.thresholds import evaluate
from lunge_mp.analysis.verdict import observe, verdicts
from lunge_mp.analysis.window_groups import WindowGroups
from lunge_mp.analysis.window_judge import WindowJudge
from lunge_mp.coordinator.control import mark_results
from lunge_mp.coordinator.run import Coordinator
from lunge_mp.exit_codes import ExitCode
from lunge_mp.outcome import RunOutcome
from lunge_mp.metrics.names import GENERATOR_FAILURE
from lunge_mp.plan import Plan
from lunge_mp.redact import Redactor
from lunge_mp.report.console import LiveView, live_line
from lunge_mp.report.outputs import write_reports
from lunge_mp import timeline, warmup
from lunge_mp.textsafe import escape

# What only a run's end needs (the results document, the history store) is imported where used:
# none of it is needed to reach the first request (benchmarks/startup.py).


def behind_scenarios(per_scenario: dict[str, dict], open_names: list[str]) -> list[str]:
    """Open scenarios that dropped iterations in a bucket (`byScenario`) because the load
    generator fell behind; drops because a unique data file ran out (dataExhausted) are the
    data's limit, not the generator's, and do not count."""
    return [n for n in open_names
            if per_scenario.get(n, {}).get("dropped", 0) - per_scenario.get(n, {}).get("dataExhausted", 0) > 0]


def _live(view: LiveView):
    """The live line from the last complete second (and run totals so far)."""
    def tick(coord: Coordinator, t: float) -> None:
        agg = coord.aggregate
        last = agg.last_complete_bucket() or {}
        c = agg.counters()
        open_names = [s.name for s in coord.plan.scenarios if s.is_open]
        mid = last.get("t", 0) + 0.5
        target = sum(timeline.target_rate(s, mid - (coord.lifecycle.start_of(s.name) or 0.0))
                     for s in coord.lifecycle.running() if s.is_open) if last else 0.0
        per = last.get("byScenario", {})
        open_rate = sum(per.get(n, {}).get("iterations", 0) for n in open_names)
        behind = behind_scenarios(per, open_names)
        if t < coord.outcome.measured_from:
            view.update(f"[{t:6.1f}s / {coord.outcome.planned_s:.0f}s]  warming up "
                        f"(metrics kept apart) until {coord.outcome.measured_from:.0f}s", t)
            return
        view.update(live_line(t, coord.outcome.planned_s, c["requests"], last.get("requests", 0),
                              open_rate, target, last.get("p95"),
                              c["failures"] - c["errors"].get(GENERATOR_FAILURE, 0),   # the target's
                              last.get("vus", 0), behind,
                              [f"worker {w} {k}" for w, k in coord.saturated]), t)
    return tick


def _logger(view: LiveView, redactor: Redactor):
    """Lines the coordinator wants seen now (guardrails, lost workers), above the live line."""
    def log(text: str) -> None:
        view.close()
        print(f"warning: {escape(redactor.text(text))}", file=sys.stderr, flush=True)
    return log


def _noter(view: LiveView):
    """Pauses, resumes and scales, above the live line (they are not warnings)."""
    def note(text: str) -> None:
        view.close()
        print(f"note: {text}", file=sys.stderr, flush=True)
    return note


def _abort_checker(plan: Plan, groups: WindowGroups | None = None):
    """Thresholds with abortOnFail, checked every second once their delayAbortEval has passed:
    windowed ones (`over 30s`) on each full window of the complete seconds so far, as the final
    verdict judges them (analysis/live_windows.py); the others on the totals so far."""
    aborting = [t for t in plan.thresholds if t.abort_on_fail]
    if not aborting:
        return None
    if groups is None:
        groups = WindowGroups(plan.thresholds, plan.scenarios)
    windows = LiveWindows(aborting, [s.name for s in plan.scenarios], warmup.offset(plan), groups)
    on_totals = [t for t in aborting if t not in windows.watched]

    def check(coord: Coordinator, t: float) -> tuple[str, int] | None:
        measured = t - coord.outcome.measured_from
        if measured <= 0:
            return None
        agg = coord.aggregate
        broken = None
        if windows.watched:
            live_workers = sum(1 for w in coord.outcome.workers if not w.lost)   # each reports every second
            broken = windows.feed(agg.complete_second(live_workers), measured, agg.second, agg.second_counts,
                                  agg.second_group if groups else None)
        if broken is not None:
            th = broken.threshold
            return (f"threshold {th.metric}: '{th.expression}' crossed in the window "
                    f"{broken.start}-{broken.end + 1}s (observed {broken.observed:g}) and has abortOnFail",
                    ExitCode.FAILED)
        due = [th for th in on_totals if measured >= th.delay_abort_eval]
        if not due:
            return None
        from lunge_mp.report.results import live_results

        live = live_results(coord.outcome, measured)
        for th in due:
            observed = observe(th, live, coord.aggregate.percentile_ms)
            if observed is not None and not evaluate(th, observed):
                return (f"threshold {th.metric}: '{th.expression}' crossed at {measured:.0f}s "
                        f"(observed {observed:g}) and has abortOnFail", ExitCode.FAILED)
        return None
    return check


def decide(outcome: RunOutcome, results: dict, threshold_results: list[dict]) -> tuple[str, int]:
    """status and exit code: the first abort reason wins, then run validity, then thresholds."""
    if outcome.abort_code == ExitCode.FAILED:
        return "failed", ExitCode.FAILED
    if outcome.abort_code is not None:
        return "aborted", outcome.abort_code
    efficiency = results["efficiency"]["overall"]
    floor = outcome.plan.options.min_efficiency
    if efficiency is not None and efficiency < floor:
        outcome.warnings.append(
            f"run invalid: the load generator started {efficiency:.2%} of the scheduled iterations, "
            f"below options.minEfficiency {floor:.0%}; the target was not tested at the asked load")
        return "invalid", ExitCode.INVALID_RUN
    if any(not t["ok"] for t in threshold_results):
        return "failed", ExitCode.FAILED
    return "passed", ExitCode.OK


def run_plan(plan: Plan, workers: int, paths: dict[str, str], record: bool, *, quiet: bool = True,
             control=None, on_tick=None, signals: bool = True,
             store_path: str | None = None) -> tuple[dict, int, list[str]]:
    """Run a valid plan and write its results and reports: (results, exit code, files written).

    `control` (coordinator/control.py) steers it from outside; `on_tick(coordinator, t)` is
    called every second beside the live line; `signals=False` when not on the main thread.
    """
    view = None if quiet else LiveView()
    redactor = Redactor.for_plan(plan)
    live = _live(view) if view else None
    if view and control is not None:
        control.notify = _noter(view)
    ticks = [f for f in (live, on_tick) if f is not None]
    groups = WindowGroups(plan.thresholds, plan.scenarios)     # windowed thresholds with filters
    coordinator = Coordinator(plan, workers, on_tick=(lambda c, t: [f(c, t) for f in ticks]) if ticks else None,
                              on_second=_abort_checker(plan, groups), on_log=_logger(view, redactor) if view else None,
                              control=control, signals=signals)
    windows = WindowJudge(plan.thresholds, [s.name for s in plan.scenarios], warmup.offset(plan), groups)
    if groups:
        coordinator.aggregate.keep_groups(groups.routes(), groups.trends)
    remote = getattr(coordinator.pool, "remote", 0)    # run --listen: on other machines, no claim from here
    for line in capacity.warnings(plan, workers, remote=remote):     # more than `lunge-mp selftest` saw this box hold
        coordinator.warn(line)
    coordinator.aggregate.on_retire(windows.retire)   # each second judged before it is folded
    internal_error = None
    try:
        outcome = uvloop.run(coordinator.run())
    except Exception as exc:  # an internal failure still writes what was gathered
        internal_error = exc
        outcome = coordinator.outcome
        coordinator.request_stop(f"internal error: {type(exc).__name__}: {exc}", ExitCode.INTERNAL)
    finally:
        if view:
            view.close()
    if internal_error is not None:
        sys.stderr.write(redactor.text("".join(traceback.format_exception(internal_error))))
    from lunge_mp.analysis import generator_errors
    from lunge_mp.report.results import all_failed_warning, build_results
    from lunge_mp.store import record_after_run

    results = build_results(outcome, "aborted", ExitCode.INTERNAL)
    results["guardrails"] = outcome.guardrails
    for entry, info in zip(results["workers"], outcome.workers):
        entry["arrivalsAssigned"] = info.assigned          # open-model arrivals handed to it
        entry["arrivalsUnaccounted"] = info.unaccounted    # a lost worker's arrivals no report covers
    generator_warning = generator_errors.separate(results)
    outcome.aggregate.retire_rest()
    threshold_results = verdicts(plan.thresholds, results, outcome.aggregate.percentile_ms,
                                 outcome.aggregate.bucket_counts, windows.verdicts())
    status, code = decide(outcome, results, threshold_results)
    results.update(status=status, exitCode=code, thresholds=threshold_results)
    results["warnings"] += [w for w in outcome.warnings if w not in results["warnings"]]
    if generator_warning:
        results["warnings"].append(generator_warning)
    all_failed = all_failed_warning(results["metrics"])
    if all_failed:
        results["warnings"].append(all_failed)
    mark_results(results, control)   # pauses and scale events (docs/RESULTS.md)
    results = redactor.doc(results)   # every writer, the store and the summary get a clean doc
    written = write_reports(results, paths)
    if record:
        record_after_run(results, store_path)   # history for `lunge-mp history` / `compare`; never raises
    return results, code, written
