"""Lunge's functional verbs: `test`, `run -c FILE`, and the curl-like `get/post/put/delete URL`.

`lunge-mp test -c FILE -e ENV -s SUITE` runs a Lunge v1 suite as Lunge's `test` does
(lunge_mp/functional); `lunge-mp run -c FILE -e ENV -r REQUEST` (or `-s SUITE`) sends the
requests and shows each response with its timing; `lunge-mp get URL` sends one request.

Exit codes (DESIGN.md's where they fit): 0 every test passed (run/get: every request was
answered and every `validate` held); 99 a test or assertion failed, or a request got no
response; 104 invalid config or arguments (nothing sent); 1 internal error.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from lunge_mp.exit_codes import ExitCode


def _variables(pairs: tuple[str, ...], hint: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint=hint)
        out[key] = value
    return out


def _load(config: str, environment: str | None, suite: str | None, request: str | None,
          test_name: str | None, overrides: dict[str, str]):
    """(Suite, Plan) or None after printing why (exit 104)."""
    from lunge_mp.config import ConfigError
    from lunge_mp.config.v1_read import load_config_document
    from lunge_mp.config.validate import plan_from_dict
    from lunge_mp.functional.suite import build_suite, ensure_v1
    from lunge_mp.explain import explain

    from lunge_mp.functional.suite import v1_paths
    from lunge_mp.scenario.preflight import unknown_template_names

    try:
        doc = ensure_v1(load_config_document(config, environment, overrides), config)
        built = build_suite(doc, environment, suite, request, test_name, overrides, source=config)
        try:
            plan = plan_from_dict(built.document, source=config)
        except ConfigError as exc:
            raise ConfigError(v1_paths(exc.errors, built), config) from None
        names = unknown_template_names(plan)
        if names:
            raise ConfigError(v1_paths(names, built), config)
        plan = explain(config, plan)
    except ConfigError as exc:
        explain(config, None, exc)
        return None
    return (built, plan) if plan is not None else None


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


@click.command("test", short_help="Run a Lunge v1 suite as functional tests (pass/fail per test).")
@click.option("--config", "-c", "config", required=True, type=click.Path(dir_okay=False),
              help="A Lunge v1 file (JSON or YAML) with requests, suites and tests.")
@click.option("--environment", "-e", help="The environment to run in (default: the only one).")
@click.option("--suite", "-s", help="The suite to run: its requests in order, its tests checked.")
@click.option("--request", "-r", metavar="REQUEST", help="Run this one request and the tests on it.")
@click.option("--test", "-t", "test_name", metavar="NAME", help="Check only the test with this name.")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE",
              help="Set a variable (over the environment's and the suite's). Repeatable.")
@click.option("--timeout", "-T", help="Per-request timeout, e.g. 10s (default: the request's, 30s).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--out", "-o", "json_path", type=click.Path(dir_okay=False), help="Write the results as JSON here.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True,
              help="What goes to stdout (json/junit: only that document).")
def test_command(config: str, environment: str | None, suite: str | None, request: str | None,
                 test_name: str | None, variables: tuple[str, ...], timeout: str | None,
                 junit_path: str | None, json_path: str | None, fmt: str) -> None:
    """Run a Lunge v1 suite as functional tests: a line per test, then a summary.

    \b
    The suite's requests run in order; what one extracts, the next can use ({{name}}).
    Every assertion of every test is checked: status, responseTime, header and JSON path
    (exists, equals, contains, matches, isArray, minLength) and JSON Schema (schema).
    Exit codes: 0 all passed, 99 a test failed or a request got no response,
    104 invalid config or arguments (nothing sent).
    \b
    Examples:
      lunge-mp test -c configs/lunge-v1.json -e local -s smoke
      lunge-mp test -c api.yaml -e dev -s users --junit junit.xml --out results.json
    """
    from lunge_mp.functional.report import step_lines, summary_lines, to_json_text, to_junit
    from lunge_mp.functional.runner import run_suite

    seconds = _timeout(timeout)
    loaded = _load(config, environment, suite, request, test_name, _variables(variables, "--var"))
    if loaded is None:
        sys.exit(ExitCode.INVALID_INPUT)
    built, plan = loaded
    text = fmt == "text"
    if text:
        click.echo(f"▶ suite {built.name} in {built.environment}: {len(built.steps)} requests, "
                   f"{sum(len(s.tests) for s in built.steps)} tests")
    result = run_suite(built, plan, seconds,
                       on_step=(lambda step: click.echo("\n".join(step_lines(step)))) if text else None)
    if text:
        click.echo("\n".join(summary_lines(result)))
    elif fmt == "json":
        click.echo(to_json_text(result), nl=False)
    else:
        click.echo(to_junit(result), nl=False)
    for path, render in ((junit_path, to_junit), (json_path, to_json_text)):
        if path:
            try:
                _write(path, render(result))
            except OSError as exc:
                click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
                sys.exit(ExitCode.INTERNAL)
    sys.exit(ExitCode.OK if result.passed else ExitCode.FAILED)


def _timeout(text: str | None) -> float | None:
    from lunge_mp.units import parse_duration

    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeout") from None
    if seconds <= 0:
        raise click.BadParameter("must be > 0", param_hint="--timeout")
    return seconds


def run_v1(config: str, environments: tuple[str, ...], suite: str | None, request: str | None,
           verbose: bool, timeout: str | None = None) -> int:
    """`lunge-mp run -c FILE -e ENV -r REQUEST | -s SUITE`: send, show each response."""
    names = [e for e in environments if "=" not in e]
    overrides = _variables(tuple(e for e in environments if "=" in e), "-e")
    if len(names) > 1:
        raise click.UsageError(f"-e: one environment, got {', '.join(names)}")
    seconds = _timeout(timeout)
    loaded = _load(config, names[0] if names else None, suite, request, None, overrides)
    if loaded is None:
        return ExitCode.INVALID_INPUT
    built, plan = loaded
    from lunge_mp.functional.runner import run_suite

    result = run_suite(built, plan, seconds, on_step=lambda step: _show(step, verbose))
    return ExitCode.OK if result.passed else ExitCode.FAILED


def _show(step: Any, verbose: bool) -> None:
    """A response as Lunge's `run` shows it: request line, status with timing, headers, body
    (control characters escaped: a response must not drive the terminal)."""
    from lunge_mp.functional.report import printable

    def echo(text: str) -> None:
        click.echo(printable(text))

    echo(f"▶ {step.request}: {step.method} {step.url or '(not sent)'}")
    if step.error:
        echo(f"  ✗ {step.error}")
        return
    echo(f"◀ {step.status} ({step.duration_ms:.1f} ms, {len(step.body)} bytes)")
    if verbose:
        for name, value in step.headers.items():
            echo(f"  {name}: {value}")
    echo(_body_text(step.body))
    for test in step.tests:
        for o in test.outcomes:
            echo(f"  {'✓' if o.passed else '✗'} {o.description}"
                 + ("" if o.passed else f": expected {o.expected}, got {o.actual}"))
    if step.extracted:
        echo(f"  extracted {', '.join(step.extracted)}")
    if step.not_extracted:
        echo(f"  ! not extracted (not in the response): {', '.join(step.not_extracted)}")


def _body_text(body: bytes, limit: int = 64 * 1024) -> str:
    """The body as text: JSON indented, anything else as it is; long bodies cut at `limit`."""
    text = body[:limit].decode("utf-8", "replace").replace("\r\n", "\n")
    try:
        text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)[:limit]
    except ValueError:
        pass
    return text + (f"\n… ({len(body) - limit} more bytes)" if len(body) > limit else "")


# -- the curl-like verbs ---------------------------------------------------------------------------

def _verb(method: str):
    @click.command(method.lower(), short_help=f"Send one {method} request and show the response (as curl).")
    @click.argument("url")
    @click.option("--header", "-H", "headers", multiple=True, metavar="NAME:VALUE", help="A header. Repeatable.")
    @click.option("--data", "-d", help="The request body, sent as given.")
    @click.option("--json", "-j", "json_body", help="A JSON body (Content-Type: application/json unless -H sets it).")
    @click.option("--timeout", "-t", help="Timeout, e.g. 10s (default 30s).")
    @click.option("--verbose", "-v", is_flag=True, help="Show the response headers too.")
    def command(url: str, headers: tuple[str, ...], data: str | None, json_body: str | None,
                timeout: str | None, verbose: bool) -> None:
        sys.exit(_send_one(method, url, headers, data, json_body, timeout, verbose))

    example = {"GET": "https://httpbin.org/get -v", "POST": "https://httpbin.org/post -j '{\"a\": 1}'",
               "PUT": "https://httpbin.org/put -d 'text' -H 'Content-Type: text/plain'",
               "DELETE": "https://httpbin.org/delete -t 5s"}[method]
    command.help = (f"Send one {method} request to URL and show the response with its timing "
                    f"(as Lunge's `{method.lower()}`). Exit 0 when a response came back, 99 when none did."
                    f"\n\n\b\nExample:\n  lunge-mp {method.lower()} {example}")
    return command


def _send_one(method: str, url: str, headers: tuple[str, ...], data: str | None, json_body: str | None,
              timeout: str | None, verbose: bool) -> int:
    from lunge_mp.config.http_requests import url_problem

    problem = url_problem(url)
    if problem:
        raise click.BadParameter(problem, param_hint="URL")
    if data is not None and json_body is not None:
        raise click.UsageError("give -d DATA or -j JSON, not both")
    pairs: dict[str, str] = {}
    for item in headers:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"'{item}' is not NAME:VALUE", param_hint="-H/--header")
        pairs[name.strip()] = value.strip()
    body = data if data is not None else json_body
    if json_body is not None and not any(k.lower() == "content-type" for k in pairs):
        pairs["Content-Type"] = "application/json"
    doc = {"environments": {"cli": {}}, "requests": {method.lower(): {"url": url, "method": method,
                                                                     "headers": pairs}}}
    if body is not None:
        doc["requests"][method.lower()]["body"] = body
    return _run_doc(doc, method.lower(), _timeout(timeout) or 30.0, verbose)


def _run_doc(doc: dict[str, Any], request: str, timeout: float, verbose: bool) -> int:
    from lunge_mp.config import ConfigError
    from lunge_mp.config.validate import plan_from_dict
    from lunge_mp.functional.runner import run_suite
    from lunge_mp.functional.suite import build_suite
    from lunge_mp.explain import explain

    try:
        built = build_suite(doc, "cli", None, request, source="the command line")
        plan = plan_from_dict(built.document, source="the command line")
    except ConfigError as exc:
        explain("the command line", None, exc)
        return ExitCode.INVALID_INPUT
    result = run_suite(built, plan, timeout, on_step=lambda step: _show(step, verbose))
    return ExitCode.OK if result.passed else ExitCode.FAILED


COMMANDS = (test_command, *(_verb(m) for m in ("GET", "POST", "PUT", "DELETE")))
