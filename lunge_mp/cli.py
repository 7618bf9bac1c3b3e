"""The `lunge-mp` command line: flags in, a Plan or a server out. No logic lives here."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

import click

from lunge_mp import __version__
from lunge_mp.coordinator import prestart
from lunge_mp.cli_flags import env_pairs, threshold_flags
from lunge_mp.cli_lunge import COMMANDS as LUNGE_COMMANDS
from lunge_mp import cli_remote
from lunge_mp.cli_selftest import selftest
from lunge_mp.exit_codes import ExitCode


env_file_option = click.option(
    "--env-file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
    help="KEY=VALUE lines (# comments allowed), read as if each were given with -e; -e wins.")

http_debug_option = click.option(
    "--http-debug", type=click.Choice(["headers", "full"]), is_flag=False, flag_value="headers",
    default=None, metavar="[=full]",
    help="Print each worker's first 10 requests and responses to stderr, as k6 does: request line "
         "and headers, status and headers; =full adds the bodies (2 KB each). Secrets are masked.")



class _HttpDebugCommand(click.Command):
    """A bare `--http-debug` means `--http-debug=headers`: it never takes the next argument
    (`run --http-debug test.yaml`, as k6 users type it) as its value."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, ["--http-debug=headers" if a == "--http-debug" else a for a in args])


class _Group(click.Group):
    """Maps click's usage errors onto exit 104 (invalid arguments) as DESIGN.md requires.

    Commands in `lazy` are built when first named, so `lunge-mp run` does not import what
    only `lunge-mp profile` needs (cryptography, the profile store): start-up stays short."""

    lazy: dict[str, Callable[[], click.Command]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            self.add_command(self.lazy[name](), name)
        return super().get_command(ctx, name)

    def main(self, *args, **kwargs):  # type: ignore[override]
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(ExitCode.INTERNAL)
        except click.ClickException as exc:
            exc.show()
            sys.exit(ExitCode.INVALID_INPUT if isinstance(exc, click.UsageError) else exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lunge-mp")
def main() -> None:
    """lunge-mp: load tests for HTTP services and job queues (Redis), exact in what they measure.

    A coordinator process schedules every iteration and fans the work out to one
    uvloop worker process per core over ZeroMQ; latencies are kept in HDR histograms
    (service time from send, and response time from the scheduled instant).

    \b
    Exit codes: 0 passed, 99 thresholds failed (also when abortOnFail ended the run;
    without its own threshold on http_req_failed a run has the default rate<0.01)
    or, for `test`, a functional test failed,
    104 invalid config or arguments (nothing sent), 105 stopped by a signal,
    111 stopped by a guardrail (guardrails: in the config), 112 lost all workers,
    113 run invalid (the generator could not deliver the asked load: efficiency
    below options.minEfficiency), 1 internal error.

    \b
    Short flags mean one thing everywhere: -e an environment (Lunge's -e ENV picks a v1
    environment; -e KEY=VALUE sets a variable, as in k6), -r a v1 request, -p a v1
    performance test, -s a v1 suite, -c a v1 file, -d a duration (curl's data in
    get/post/put/delete), -w workers, -q quiet, -o the results file.

    \b
    Examples:
      lunge-mp target --port 8080 &
      lunge-mp run configs/demo.yaml --out results.json
      lunge-mp perf --url http://127.0.0.1:8080/ --iterations 1
      BASE_URL=http://127.0.0.1:8080 lunge-mp test -c configs/lunge-v1.json -e local -s smoke
    """


def _report_options(command):
    """--out/--html/--csv/--junit: where the reports go (over the config's `output:`)."""
    path = click.Path(dir_okay=False)
    for flag, fmt, text in (
            ("--junit", "junit", "Write JUnit XML here: one test case per threshold, for CI."),
            ("--csv", "csv", "Write the 1-second buckets as CSV here."),
            ("--html", "html", "Write a self-contained HTML report (charts, tables) here."),
            ("--out", "json", "Write results JSON here (schema: docs/RESULTS.md).")):
        names = (flag, "-o") if fmt == "json" else (flag,)
        command = click.option(*names, f"{fmt}_path", type=path, default=None, help=text)(command)
    return click.option("--no-history", is_flag=True,
                        help="Do not record this run in the history store (LUNGE_MP_STORE or "
                             "~/.local/share/lunge_mp/history.db).")(command)


def _outputs(json_path, html_path, csv_path, junit_path) -> dict[str, str | None]:
    return {"json": json_path, "html": html_path, "csv": csv_path, "junit": junit_path}


@main.command(cls=_HttpDebugCommand, short_help="Run the load test in CONFIG (Lunge v2 YAML or JSON).")
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@_report_options
@click.option("--workers", "-w", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: one per CPU core).")
@click.option("--quiet", "-q", is_flag=True, help="No live progress and no summary; exit code and files only.")
@click.option("--env", "-e", "env", multiple=True, metavar="KEY=VALUE",
              help="Set ${KEY} in the config text (over the process environment); also replaces "
                   "a variable KEY the config defines. A KEY the config never uses is an error. "
                   "Repeatable. With -c: the v1 environment's name.")
@env_file_option
@http_debug_option
@click.option("--dashboard", is_flag=False, flag_value="127.0.0.1:5665", default=None, metavar="[HOST:PORT]",
              help="Serve a live dashboard and the API for this run (default 127.0.0.1:5665); steer it "
                   "with its buttons or `lunge-mp ctl`. Other than loopback needs $LUNGE_MP_API_TOKEN.")
@click.option("--threshold", "thresholds", multiple=True, metavar="METRIC:EXPR",
              help='Add a threshold to the config\'s own, e.g. "http_req_duration:p(95)<500". Repeatable.')
@click.option("--config", "-c", "v1_config", type=click.Path(dir_okay=False),
              help="Lunge v1 form: send requests of this file and show each response (with -r or -s).")
@click.option("--request", "-r", "v1_request", metavar="REQUEST", help="With -c: the request to send.")
@click.option("--suite", "-s", "v1_suite", metavar="SUITE", help="With -c: send the suite's requests in order.")
@click.option("--verbose", "-v", is_flag=True, help="With -c: show response headers too.")
@click.option("--var", "v1_vars", multiple=True, metavar="KEY=VALUE", help="With -c: set a variable. Repeatable.")
@cli_remote.run_options     # --listen, --remote-workers, --local-workers, --wait, --keys, --authorized-keys, --insecure
def run(config: str | None, json_path: str | None, html_path: str | None, csv_path: str | None,
        junit_path: str | None, no_history: bool, workers: int | None, quiet: bool,
        env: tuple[str, ...], env_file: str | None, thresholds: tuple[str, ...], v1_config: str | None,
        v1_request: str | None, v1_suite: str | None, verbose: bool, v1_vars: tuple[str, ...],
        dashboard: str | None, http_debug: str | None, **listen) -> None:
    """Run the load test described by CONFIG (a Lunge v2 YAML or JSON file).

    A banner on stderr says what is about to run; then live progress (stderr) and the
    summary (stdout). The first Ctrl-C stops gracefully (running iterations get their
    gracefulStop, results are written, exit 105); a second one stops at once and still
    writes what was gathered. SIGUSR1 pauses the run, SIGUSR2 resumes it.

    \b
    Examples:
      lunge-mp run configs/demo.yaml -e BASE_URL=http://127.0.0.1:8080
      lunge-mp run test.yaml --env-file staging.env --out results.json --html report.html
      lunge-mp run test.yaml --threshold "http_req_failed:rate<0.01" -q && echo passed
      lunge-mp run test.yaml --http-debug=full       # see the first requests and responses
      lunge-mp run test.yaml --listen tcp://0.0.0.0:5555 --remote-workers 8 --keys keys/
                                  # workers on other machines: lunge-mp worker --help

    \b
    Lunge v1 form (-c): send one request, or a suite's requests in order, once each,
    and show every response with its timing (exit 0 all answered, 99 not):
      lunge-mp run -c api.json -e dev -r getUsers
      lunge-mp run -c api.json -e dev -s smoke
    """
    if v1_config is not None or v1_request is not None or v1_suite is not None or v1_vars:
        from lunge_mp.cli_lunge import run_v1

        if config is not None or v1_config is None:
            raise click.UsageError("give either CONFIG (a v2 load test) or -c FILE with -r/-s (Lunge v1)")
        env_pairs(v1_vars)     # KEY=VALUE, or a usage error
        sys.exit(run_v1(v1_config, env + v1_vars, v1_suite, v1_request, verbose))
    if config is None:
        raise click.UsageError("Missing argument 'CONFIG': lunge-mp run CONFIG (or, Lunge v1: lunge-mp run -c FILE -e ENV -r REQUEST)")
    count = cli_remote.start_workers(workers, quiet, worker_main=_worker_main, **listen)   # early: start-up overlaps reading the config
    from lunge_mp.cli_run import execute

    overrides = env_pairs(env, env_file)
    sys.exit(execute(config, overrides=overrides, workers=count, quiet=quiet,
                     outputs=_outputs(json_path, html_path, csv_path, junit_path), record=not no_history,
                     thresholds=threshold_flags(thresholds), dashboard=dashboard, http_debug=http_debug))


@main.command(cls=_HttpDebugCommand, short_help="Run a Lunge v1 test or request, or a quick test of one URL.")
@click.option("--config", "-c", "config", type=click.Path(dir_okay=False),
              help="A Lunge v1 file (with -e ENV and -p TEST or -r REQUEST), or a v2 config.")
@click.option("--environment", "-e", help="v1: the environment to run in (its baseUrl and variables).")
@click.option("--performance", "-p", "test", metavar="TEST", help="v1: the performance test to run.")
@click.option("--request", "-r", metavar="REQUEST",
              help="v1: run this one request, with the load given by the flags below.")
@click.option("--suite", "-s", metavar="SUITE",
              help="v1: the suite's requests in order are the iteration; its tests' assertions are checks.")
@click.option("--concurrency", type=int, help="v1: VUs (default 10); with --rps, the most in flight.")
@click.option("--rps", type=float, help="v1: iterations (requests) per second: the open model.")
@click.option("--ramp-up", help="v1: ramp from 0 over this long, e.g. 10s (part of --duration).")
@click.option("--ramp-down", help="v1: ramp to 0 over this long at the end (part of --duration).")
@click.option("--iterations", "-i", type=int,
              help="Run this many iterations in total, then stop (quick mode: shared-iterations, "
                   "1 VU unless --vus; -d is then the most it may take).")
@click.option("--url", "-u", help="Quick mode: the URL every iteration requests.")
@click.option("--executor", type=click.Choice(["constant-vus", "ramping-vus", "per-vu-iterations",
                                               "shared-iterations", "constant-arrival-rate",
                                               "ramping-arrival-rate", "pattern"]),
              help="Quick mode. Default: pattern with --pattern, constant-arrival-rate with --rate, "
                   "ramping-vus with --stages, else constant-vus.")
@click.option("--vus", type=int, help="Quick mode: VUs (closed model; default 10).")
@click.option("--duration", "-d", help="How long, e.g. 30s, 5m (default 30s).")
@click.option("--rate", type=float, help="Quick mode: iterations per second (open model).")
@click.option("--stages", help='Quick mode: ramp as DURATION:TARGET,..., e.g. "30s:10,1m:50,30s:0".')
@click.option("--pre-allocated-vus", type=int, help="Quick mode, open model: VUs created up front.")
@click.option("--max-vus", type=int, help="Quick mode, open model: the most VUs it may grow to.")
@click.option("--pattern", help='Quick mode: traffic pattern, e.g. "sine:baseRate=100,amplitude=50,period=1m,duration=5m".')
@click.option("--method", "-X", help="Quick mode: HTTP method (default GET).")
@click.option("--header", "-H", "headers", multiple=True, metavar="NAME:VALUE",
              help="Quick mode: request header. Repeatable.")
@click.option("--body", help="Quick mode: request body (sent as given).")
@click.option("--timeout", help="Quick mode: per-request timeout, e.g. 5s (default 30s).")
@click.option("--think-time", metavar="DURATION", help="Quick mode: pause after each request, e.g. 500ms.")
@click.option("--pacing", metavar="DURATION[-DURATION]",
              help="Quick mode, closed model: pause after each iteration, e.g. 1s, or 1s-3s (random).")
@click.option("--name", "run_name", help="Quick mode: the test's name in results and history "
                                         "(default: method, URL and load shape).")
@click.option("--threshold", "thresholds", multiple=True, metavar="METRIC:EXPR",
              help='Threshold, e.g. "http_req_duration:p(95)<500". Repeatable.')
@_report_options
@click.option("--workers", "-w", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: one per CPU core).")
@click.option("--quiet", "-q", is_flag=True, help="No live progress and no summary.")
@http_debug_option
def perf(config: str | None, environment: str | None, test: str | None, request: str | None,
         suite: str | None, concurrency: int | None, rps: float | None, ramp_up: str | None, ramp_down: str | None,
         iterations: int | None, url: str | None, executor: str | None, vus: int | None,
         duration: str | None, rate: float | None, stages: str | None, pre_allocated_vus: int | None,
         max_vus: int | None, pattern: str | None, method: str | None, headers: tuple[str, ...],
         body: str | None, timeout: str | None, think_time: str | None, pacing: str | None,
         run_name: str | None, thresholds: tuple[str, ...], json_path: str | None,
         html_path: str | None, csv_path: str | None, junit_path: str | None, no_history: bool,
         workers: int | None, quiet: bool, http_debug: str | None) -> None:
    """Run a Lunge v1 performance test, one v1 request, or a quick test of one URL.

    \b
    Examples with Lunge v1 files (environments / requests / performance):
      lunge-mp perf -c api.json -e dev -p loadTest
      lunge-mp perf -c api.json -e dev -r getUsers --concurrency 50 --duration 5m --rps 200
      lunge-mp perf -c api.json -e dev -s smoke --rps 50 --duration 1m
    Quick mode, no config file:
      lunge-mp perf --url http://127.0.0.1:8080/ --vus 20 --duration 30s
      lunge-mp perf --url http://127.0.0.1:8080/json --rate 500 --duration 1m
      lunge-mp perf --url http://127.0.0.1:8080/ --stages "30s:10,1m:50,30s:0"
      lunge-mp perf --url http://127.0.0.1:8080/ --iterations 1          # a smoke test
      lunge-mp perf --url http://127.0.0.1:8080/ --vus 5 --pacing 1s -d 1m
      lunge-mp perf --url http://127.0.0.1:8080/post -X POST --body '{"a":1}' -i 2 --http-debug=full
    A load flag the chosen executor would not use is refused (exit 104), never ignored.
    """
    prestart.start(workers or os.cpu_count() or 1, _worker_main)   # their start-up overlaps reading the config
    from lunge_mp.config import ConfigError, plan_from_dict
    from lunge_mp.config.quick import flag_errors, quick_config
    from lunge_mp.cli_run import execute_plan
    from lunge_mp.explain import explain

    v1_flags = {"-e/--environment": environment, "-p/--performance": test, "-r/--request": request,
                "-s/--suite": suite,
                "--concurrency": concurrency, "--rps": rps, "--ramp-up": ramp_up, "--ramp-down": ramp_down}
    quick_flags = {"--executor": executor, "--vus": vus, "--rate": rate, "--stages": stages,
                   "--pre-allocated-vus": pre_allocated_vus, "--max-vus": max_vus, "--pattern": pattern,
                   "-X/--method": method, "-H/--header": headers or None, "--body": body,
                   "--timeout": timeout, "--think-time": think_time, "--pacing": pacing, "--name": run_name}
    if (config is None) == (url is None):
        raise click.UsageError("give -c FILE (a Lunge config) or --url URL (quick mode)")
    wrong = [flag for flag, value in (quick_flags if config else v1_flags).items() if value is not None]
    if wrong:
        raise click.UsageError(f"{', '.join(wrong)} only appl{'ies' if len(wrong) == 1 else 'y'} "
                               f"{'with --url' if config else 'with -c FILE (a Lunge v1 file)'}")
    extra = threshold_flags(thresholds)
    source = config or "the perf options"
    try:
        if config is not None:
            from lunge_mp.cli_config import plan_from_file   # (v1 files, YAML: not for --url)

            load = {"concurrency": concurrency, "duration": duration, "rps": rps, "rampUp": ramp_up,
                    "rampDown": ramp_down, "iterations": iterations}
            plan = explain(source, plan_from_file(config, environment, test, request, load, extra, suite))
        else:
            try:
                doc = quick_config(url, executor, vus, duration, rate, stages, pre_allocated_vus, max_vus,
                                   pattern, method or "GET", _pairs(headers, ":", "--header"), body, timeout,
                                   extra, iterations, think_time, pacing, run_name)
            except ValueError as exc:
                raise click.UsageError(str(exc)) from None
            plan = explain(source, plan_from_dict(doc, source="perf"))
    except ConfigError as exc:
        if config is None:
            exc.errors = flag_errors(exc.errors)
        plan = explain(source, None, exc)
    if plan is None:
        sys.exit(ExitCode.INVALID_INPUT)
    if http_debug:      # workers print their first exchanges (worker/http_debug.py)
        from lunge_mp.worker.http_debug import with_http_debug
        plan = with_http_debug(plan, http_debug)
    sys.exit(execute_plan(plan, workers or os.cpu_count() or 1, quiet,
                          _outputs(json_path, html_path, csv_path, junit_path), not no_history))


@main.command(short_help="Check a config (v2 or v1) without sending anything.")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--env", "-e", "env", multiple=True, metavar="KEY=VALUE",
              help="Set ${KEY} in the config text, as `run -e` does. Repeatable.")
@env_file_option
def validate(config: str, env: tuple[str, ...], env_file: str | None) -> None:
    """Check CONFIG (Lunge v2, or v1) without sending anything.

    Prints a one-line summary and exits 0 when it can run; otherwise prints every
    problem, each with its field path, and exits 104.

    \b
    Examples:
      lunge-mp validate configs/demo.yaml
      lunge-mp validate test.yaml --env-file staging.env
    """
    from lunge_mp.cli_config import validate_file

    summary = validate_file(config, env_pairs(env, env_file))
    if summary is None:
        sys.exit(ExitCode.INVALID_INPUT)
    from lunge_mp.textsafe import escape

    click.echo(escape(f"ok: {config}: {summary}"))


def _pairs(items: tuple[str, ...], sep: str, hint: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, found, value = item.partition(sep)
        if not found or not key.strip():
            raise click.BadParameter(f"'{item}' is not NAME{sep}VALUE", param_hint=hint)
        out[key.strip()] = value.strip()
    return out


@main.command(short_help="Print a saved run's summary again and render its reports.")
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the HTML report here.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the 1-second buckets as CSV here.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the summary.")
def report(results: str, html_path: str | None, csv_path: str | None, junit_path: str | None,
           quiet: bool) -> None:
    """Print the summary of a saved RESULTS file again, and render its reports.

    
    Example:
      lunge-mp report results.json --html report.html --csv buckets.csv
    """
    import msgspec

    from lunge_mp.report.console import print_summary
    from lunge_mp.report.outputs import check_writable, write_reports
    from lunge_mp.textsafe import escape

    try:
        with open(results, "rb") as f:
            doc = msgspec.json.decode(f.read())
    except (OSError, msgspec.DecodeError) as exc:
        click.echo(escape(f"error: cannot read {results}: {getattr(exc, 'strerror', None) or exc}"), err=True)
        sys.exit(ExitCode.INVALID_INPUT)
    if not isinstance(doc, dict) or "schemaVersion" not in doc or "metrics" not in doc:
        click.echo(escape(f"error: {results} is not a lunge-mp results file (no schemaVersion/metrics)"), err=True)
        sys.exit(ExitCode.INVALID_INPUT)
    paths = {fmt: p for fmt, p in (("html", html_path), ("csv", csv_path), ("junit", junit_path)) if p}
    problem = check_writable(paths)
    if problem:
        click.echo(escape(f"error: {problem}"), err=True)
        sys.exit(ExitCode.INVALID_INPUT)
    try:
        written = write_reports(doc, paths)
    except (KeyError, TypeError, ValueError) as exc:
        click.echo(escape(f"error: {results} lacks what the reports need ({type(exc).__name__}: {exc}); "
                          f"was it written by another version?"), err=True)
        sys.exit(ExitCode.INVALID_INPUT)
    if not quiet:
        print_summary(doc, written=written)


@main.command(short_help="Run the embedded HTTP test server.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port (0 picks a free one and prints it).")
@click.option("-p", "port_short", type=click.IntRange(0, 65535), default=None, hidden=True)  # old spelling
@click.option("--workers", "-w", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes sharing the port (SO_REUSEPORT).")
def target(host: str, port: int, port_short: int | None, workers: int) -> None:
    """Run the embedded HTTP target that demos, tests and benchmarks load.

    \b
    Example:
      lunge-mp target --port 0 --workers 2      # prints the address it listens on

    \b
    Routes: /  /json  /post (echo)  /delay/<ms>  /status/<code>  /bytes/<n>
            /__stats (request counts)  POST /__reset
    """
    from lunge_mp.target import run_target

    port = port if port_short is None else port_short
    try:
        run_target(host=host, port=port, workers=workers)
    except OSError as exc:
        click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(ExitCode.INTERNAL)


for _command in LUNGE_COMMANDS:   # test, get, post, put, delete
    main.add_command(_command)
main.add_command(selftest)
for _command in cli_remote.COMMANDS:     # keys, worker: workers on other machines
    main.add_command(_command)


def _lazy(module: str, name: str) -> Callable[[], click.Command]:
    return lambda: getattr(importlib.import_module(module), name)


for _name in ("baseline", "compare", "history", "record"):     # the history store's commands
    _Group.lazy[_name] = _lazy("lunge_mp.cli_history", _name)
for _name in ("serve", "ctl"):                                  # the API server and its client
    _Group.lazy[_name] = _lazy("lunge_mp.cli_serve", _name)


def _worker_main(endpoint: str, worker_id: int, parent: int) -> int:
    """A worker forked from this process (coordinator/forking.py) runs this: its exit code."""
    from lunge_mp.worker.main import run

    return run(endpoint, worker_id, parent=parent)


def _profile_command() -> click.Command:
    from lunge_mp.cli_profile import profile_group
    return profile_group(run)     # profile save | list | show | run | export | import | delete | key


_Group.lazy["profile"] = _profile_command


if __name__ == "__main__":
    main()
