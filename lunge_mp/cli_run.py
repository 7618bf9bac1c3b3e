"""`lunge-mp run` and `perf` on this terminal: a config or a valid plan → checks, the banner, the
run (runner.run_plan, or beside the live dashboard), the summary and the exit code.
"""

from __future__ import annotations

import sys

from lunge_mp import capacity
from lunge_mp.coordinator.control import RunControl
from lunge_mp.exit_codes import ExitCode
from lunge_mp.explain import load_or_explain
from lunge_mp.plan import Plan
from lunge_mp.redact import Redactor
from lunge_mp.report.console import print_summary
from lunge_mp.report.outputs import FLAGS, check_writable
from lunge_mp.runner import run_plan
from lunge_mp.textsafe import escape

# the banner and the history store are imported where used: `-q --no-history` starts without them


def execute(config: str, overrides: dict[str, str], workers: int, quiet: bool,
            outputs: dict[str, str | None], record: bool = True,
            thresholds: dict[str, list[str]] | None = None, dashboard: str | None = None,
            http_debug: str | None = None) -> int:
    plan = load_or_explain(config, overrides, thresholds)
    if plan is None:
        return ExitCode.INVALID_INPUT
    if http_debug:      # --http-debug[=full]: workers print their first exchanges
        from lunge_mp.worker.http_debug import with_http_debug
        plan = with_http_debug(plan, http_debug)
    return execute_plan(plan, workers, quiet, outputs, record, dashboard=dashboard)


def _with_hint(problem: str | None, hint: str) -> str | None:
    return f"{problem}; {hint}" if problem else None


def execute_plan(plan: Plan, workers: int, quiet: bool, outputs: dict[str, str | None],
                 record: bool = True, store_path: str | None = None, dashboard: str | None = None) -> int:
    """Run a valid plan; write results, reports and the summary whatever happens.

    `outputs` (format → path, from the command line) override the config's `output:`;
    `store_path` is the history store to record in (None: the default one);
    `dashboard` (HOST:PORT): serve the live dashboard and API for this run meanwhile.
    """
    paths = {**plan.output, **{fmt: path for fmt, path in outputs.items() if path}}
    labels = {fmt: FLAGS[fmt] if outputs.get(fmt) else f"output.{fmt}.path" for fmt in paths}
    if record:
        from lunge_mp.store.history import store_problem
    problem = check_writable(paths, labels) or (_with_hint(store_problem(), "or run with --no-history")
                                                 if record else None)
    if problem:
        print(f"error: {escape(problem)}", file=sys.stderr)
        return ExitCode.INVALID_INPUT
    from lunge_mp.coordinator.prestart import remote_count     # run --listen: this box's figure is not theirs
    for line in capacity.warnings(plan, workers, remote=remote_count()) if not quiet else ():   # beyond `selftest`
        print(f"warning: {escape(line)}", file=sys.stderr)
    if not quiet:
        from lunge_mp.report.banner import start_banner
        from lunge_mp.worker import transports

        banner = start_banner(plan, workers, transports.described(plan), paths)
        print(escape(Redactor.for_plan(plan).text("\n".join(banner)), keep="\n"), file=sys.stderr)
    if dashboard is not None:
        from lunge_mp.api.attach import run_with_dashboard
        return run_with_dashboard(plan, workers, quiet, paths, record, dashboard)
    # SIGUSR1 pauses, SIGUSR2 resumes (coordinator/control.py)
    results, code, written = run_plan(plan, workers, paths, record, quiet=quiet, control=RunControl(),
                                      store_path=store_path)
    if not quiet:
        print_summary(results, written=written)
    return code
