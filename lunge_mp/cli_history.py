"""`lunge-mp baseline | compare | history | record`: run history and baseline regression checks.

Commands only: arguments in, Store / compare / view calls, exit code out. They are added to
`lunge-mp` by `lunge_mp.cli`; `python -m lunge_mp.cli_history ...` runs them on their own.

Exit codes (DESIGN.md): 0 fine, 99 regression against the baseline (as failed thresholds),
104 bad input (unknown baseline, unreadable results file, bad rules, unusable store),
1 the store stayed locked by another process past the busy timeout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lunge_mp.analysis.compare import RuleError, compare as compare_runs, parse_rules, validate_results
from lunge_mp.exit_codes import ExitCode
from lunge_mp.report.compare_view import baselines_table, format_comparison, history_table, run_brief
from lunge_mp.safe_output import output_problem, write_atomic
from lunge_mp.store.history import ENV_VAR, Store, StoreBusy, StoreError
from lunge_mp.textsafe import escape


STORE_HELP = ("History database file. Default: $XDG_DATA_HOME/lunge_mp/history.db, "
              "or ~/.local/share/lunge_mp/history.db.")
RULES_HELP = ("How much worse each metric may get, comma-separated: latency (p50 p90 p95 p99 avg "
              "max, from http_req_duration) as +N%, +Nms or both (10%+1ms), error_rate as +Npp "
              "(percentage points), rps/throughput as -N% or -N/s, efficiency as -Npp or -N%. "
              "Rules given replace the defaults. Default: p95=10%+1ms,p99=15%+2ms,error_rate=+1pp,rps=-10%.")


class _OneLine(click.ClickException):
    """An expected failure: `error: ...` on stderr, no traceback."""

    def show(self, file=None) -> None:  # type: ignore[override]
        _say(f"error: {self.format_message()}", err=True)


class BadInput(_OneLine):
    """Unknown baseline, unreadable results file, bad rules, unusable store: exit 104."""

    exit_code = ExitCode.INVALID_INPUT


class Failure(_OneLine):
    """Not the input's fault (the store stayed locked by another process): exit 1."""

    exit_code = ExitCode.INTERNAL


class _Command(click.Command):
    """Store errors anywhere in a command become one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StoreBusy as exc:
            raise Failure(str(exc)) from None
        except StoreError as exc:
            raise BadInput(str(exc)) from None


store_option = click.option("--store", "store_path", type=click.Path(dir_okay=False), default=None,
                            envvar=ENV_VAR, show_envvar=True, metavar="PATH", help=STORE_HELP)


def _say(text: str, **kwargs: object) -> None:
    """click.echo with control characters escaped: names come from results files."""
    click.echo(escape(text, keep="\n"), **kwargs)  # type: ignore[arg-type]


def _open(store_path: str | None) -> Store:
    return Store(store_path)      # a StoreError is turned into exit 104 (or 1 if busy) by _Command


def _read_results(path: str) -> dict:
    """A results document from a file (or '-' for stdin); BadInput says what is wrong with it."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except IsADirectoryError:
        raise BadInput(f"cannot read results file {path}: it is a folder") from None
    except OSError as exc:
        raise BadInput(f"cannot read results file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not a results document (not UTF-8 text)") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    try:
        validate_results(doc)
    except ValueError as exc:
        raise BadInput(f"{path}: {exc}") from None
    return doc


def _known_baselines(store: Store) -> str:
    names = [b["name"] for b in store.baselines()]
    return f"known: {', '.join(names)}" if names else "there are none yet"


def _test_name(doc: dict) -> str:
    return str(doc.get("name") or "").strip().casefold()


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2))  # JSON escapes control characters itself


# -- baseline ---------------------------------------------------------------------------------

@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             short_help="Name a run as the reference: set, list, show, delete.")
def baseline() -> None:
    """Named baselines: stored copies of one run's results to compare later runs against.

    \b
    Examples:
      lunge-mp baseline set nightly results.json
      lunge-mp baseline set release-1.4 --run 2d6e17      (a run from `lunge-mp history`)
      lunge-mp baseline list
      lunge-mp compare new-results.json --baseline nightly
    """


@baseline.command("set", cls=_Command)
@click.argument("name")
@click.argument("results", metavar="[RESULTS.json]", required=False)
@click.option("--run", "run_id", metavar="RUN_ID",
              help="Take the results of a recorded run instead of a file (a unique prefix of its "
                   "run id, or #ROW as `lunge-mp history` numbers them).")
@click.option("--force", is_flag=True, help="Accept a run that failed or was invalid as the reference.")
@store_option
def baseline_set(name: str, results: str | None, run_id: str | None, force: bool,
                 store_path: str | None) -> None:
    """Make RESULTS.json (or a recorded run) the baseline called NAME, replacing any old one.

    A run that did not pass (thresholds failed, invalid, stopped) is refused unless --force:
    later runs would be judged against a reference that was itself bad.
    """
    if (results is None) == (run_id is None):
        raise BadInput("give either a results file or --run RUN_ID (exactly one)")
    with _open(store_path) as store:
        if results is not None:
            doc = _read_results(results)
        else:
            full = store.resolve_run_id(run_id)
            if full is None:
                raise BadInput(f"no recorded run '{run_id}' in {store.path}; `lunge-mp history` lists them")
            doc = store.get_run(full)
        if doc.get("exitCode") not in (0, None) and not force:
            raise BadInput(f"run {doc.get('runId')} of '{doc.get('name')}' ended {doc.get('status')} "
                           f"(exit {doc.get('exitCode')}); a baseline should be a run that passed. "
                           f"Give --force to use it anyway")
        old = store.set_baseline(name, doc)
        what = f"run {doc.get('runId')} of '{doc.get('name')}' ({(doc.get('startTime') or '?')[:16].replace('T', ' ')})"
        verb = f"replaced (was run {old})" if old else "set"
        _say(f"baseline '{name.strip()}' {verb}: {what}")


@baseline.command("list", cls=_Command)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@store_option
def baseline_list(as_json: bool, store_path: str | None) -> None:
    """List the baselines with their run and key figures."""
    with _open(store_path) as store:
        rows = store.baselines()
    if as_json:
        _echo_json(rows)
    else:
        _say(baselines_table(rows), nl=False)


@baseline.command("show", cls=_Command)
@click.argument("name")
@click.option("--json", "as_json", is_flag=True,
              help="Print the stored results document (histograms are not kept) as JSON.")
@store_option
def baseline_show(name: str, as_json: bool, store_path: str | None) -> None:
    """Show baseline NAME: its run and figures per scenario and request."""
    with _open(store_path) as store:
        doc = store.get_baseline(name)
        if doc is None:
            raise BadInput(f"no baseline named '{name}' in {store.path} ({_known_baselines(store)})")
    if as_json:
        _echo_json(doc)
    else:
        _say(f"\n  baseline '{name.strip()}'", nl=False)
        _say(run_brief(doc))


@baseline.command("delete", cls=_Command)
@click.argument("name")
@store_option
def baseline_delete(name: str, store_path: str | None) -> None:
    """Delete baseline NAME (the run stays in the history)."""
    with _open(store_path) as store:
        if not store.delete_baseline(name):
            raise BadInput(f"no baseline named '{name}' in {store.path} ({_known_baselines(store)})")
    _say(f"baseline '{name.strip()}' deleted")


# -- compare ----------------------------------------------------------------------------------

@click.command(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]},
               short_help="Compare results with a baseline; exit 99 on a regression.")
@click.argument("results", metavar="RESULTS.json")
@click.option("--baseline", "-b", "baseline_name", required=True, metavar="NAME",
              help="The baseline to compare against (`lunge-mp baseline list` shows them).")
@click.option("--max-regression", "-m", "rules_text", metavar="RULES", default=None, help=RULES_HELP)
@click.option("-r", "rules_old", metavar="RULES", default=None, hidden=True)   # old spelling; -r is Lunge's --request
@click.option("--scope", type=click.Choice(["all", "overall"]), default="all", show_default=True,
              help="Check each scenario and request too (all), or the whole run only (overall).")
@click.option("--json", "json_out", metavar="OUT", type=click.Path(dir_okay=False), default=None,
              help="Also write the comparison as JSON to OUT ('-': to stdout instead of the table).")
@click.option("--force", is_flag=True, help="Compare even when the baseline is a run of another test.")
@store_option
def compare(results: str, baseline_name: str, rules_text: str | None, rules_old: str | None, scope: str,
            json_out: str | None, force: bool, store_path: str | None) -> None:
    """Compare RESULTS.json with a stored baseline; exit 99 if a metric got worse than allowed.

    Every rule is checked for the whole run, each scenario and each request (matched by
    name). Requests or scenarios found on one side only are listed but are no regression.

    \b
    Rules read as "may get this much worse than the baseline":
      p95=10%          p95 up to 10% higher passes
      p99=+20ms        p99 up to 20 ms higher passes
      p95=10%+1ms      both: 10% plus 1 ms (sub-millisecond p95s jitter by more than 10%)
      error_rate=+1pp  1.0% errors may become 2.0% (percentage points)
      rps=-5%          requests/s down to 5% lower passes

    \b
    Exit codes: 0 no regression, 99 regression, 104 bad input (unknown baseline,
    unreadable results file, bad rules).

    \b
    Examples:
      lunge-mp compare results.json --baseline nightly
      lunge-mp compare results.json -b nightly --max-regression 'p95=5%,p99=+20ms,error_rate=+0.5pp,rps=-5%'
      lunge-mp compare results.json -b nightly --scope overall --json comparison.json
    """
    rules_text = rules_text if rules_old is None else rules_old
    try:
        rules = parse_rules(rules_text)
    except RuleError as exc:
        raise BadInput(f"--max-regression: {exc}") from None
    if json_out and json_out != "-":
        problem = output_problem(json_out, "--json")
        if problem:
            raise BadInput(problem)
    current = _read_results(results)
    with _open(store_path) as store:
        base = store.get_baseline(baseline_name)
        if base is None:
            raise BadInput(f"no baseline named '{baseline_name}' in {store.path} ({_known_baselines(store)}); "
                           f"make one with `lunge-mp baseline set {baseline_name} RESULTS.json`")
    if _test_name(current) != _test_name(base) and not force:
        raise BadInput(f"{results} is a run of '{current.get('name')}', but baseline '{baseline_name.strip()}' "
                       f"is a run of '{base.get('name')}': their figures do not measure the same thing. "
                       f"Give --force to compare them anyway")
    cmp = compare_runs(current, base, rules, baseline_name=baseline_name.strip(), scope=scope)
    if json_out == "-":
        _echo_json(cmp.to_dict())
    else:
        _say(format_comparison(cmp))
        if json_out:
            try:
                write_atomic(json_out, (json.dumps(cmp.to_dict(), indent=2) + "\n").encode())
            except OSError as exc:
                raise BadInput(f"cannot write {json_out}: {exc.strerror or exc}") from None
    sys.exit(ExitCode.FAILED if cmp.regressed else ExitCode.OK)


# -- history / record -------------------------------------------------------------------------

@click.command(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]},
               short_help="List recorded runs with their trend against the previous run.")
@click.option("--name", "-n", "test_name", metavar="TEST", default=None,
              help="Only runs of this test (the config's `name`): an exact name, else every name "
                   "that contains TEST, ignoring case.")
@click.option("--limit", "-l", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many runs, newest first (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@store_option
def history(test_name: str | None, limit: int, as_json: bool, store_path: str | None) -> None:
    """List recorded runs, newest first, with p95 and request rate against the previous run.

    \b
    Examples:
      lunge-mp history
      lunge-mp history --name checkout --limit 50
      lunge-mp history --json | jq '.[0].p95'
    """
    with _open(store_path) as store:
        names = store.match_names(test_name) if test_name is not None else None
        rows = store.runs(names=names, limit=limit or None)
    if names == [] and not as_json:
        click.echo(f"  no recorded test has a name containing '{test_name}' (ignoring case); "
                   f"`lunge-mp history` lists every run")
        return
    if names is not None and not as_json and names != [test_name]:
        click.echo(f"  runs of {', '.join(repr(n) for n in names)} (names containing '{test_name}', ignoring case)")
    if as_json:
        _echo_json(rows)
    else:
        _say(history_table(rows), nl=False)


@click.command(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]},
               short_help="Add saved results files to the run history.")
@click.argument("results", metavar="RESULTS.json...", nargs=-1, required=True)
@store_option
def record(results: tuple[str, ...], store_path: str | None) -> None:
    """Add the runs in RESULTS.json files to the history ('-' reads stdin).

    A run already recorded (same runId) is not stored again.

    \b
    Example:
      lunge-mp record results/*.json
    """
    docs = [(path, _read_results(path)) for path in results]   # all checked before any is stored
    with _open(store_path) as store:
        for _, doc in docs:
            row, new = store.record(doc)
            state = "recorded as" if new else "already recorded as"
            _say(f"run {doc.get('runId')} of '{doc.get('name')}' {state} #{row} in {store.path}")


COMMANDS = (baseline, compare, history, record)
