"""`lunge-mp serve` (the control plane) and `lunge-mp ctl` (steer a test of a running server)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import click

from lunge_mp.exit_codes import ExitCode


def _duration(ctx, param, value):
    if value is None:
        return None
    from lunge_mp.units import parse_duration   # lazily: `lunge-mp run` starts faster

    try:
        return parse_duration(value)
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(short_help="Serve the API, the live stream and the dashboard; run tests here.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Any other than loopback needs a token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port (0 picks a free one and prints it).")
@click.option("--token-file", type=click.Path(dir_okay=False),
              help="Bearer tokens: one token alone (role admin), or YAML `tokens: [{name, role, token}]` with "
                   "roles viewer, operator, admin. Also $LUNGE_MP_API_TOKEN (role admin). Must not be "
                   "readable by others.")
@click.option("--max-rate", type=click.FloatRange(min=0), default=0.0,
              help="Ceiling: requests/s no test may ask for (422 when one does; its guardrails.maxRate "
                   "is lowered to it). 0: none.")
@click.option("--max-duration", callback=_duration, help="Ceiling: how long a test may last, e.g. 30m.")
@click.option("--allowed-hosts", help="Ceiling: hosts tests may load, comma-separated "
                                      "(guardrails.allowedHosts patterns, e.g. 127.0.0.1,*.staging.example.com).")
@click.option("--max-concurrent", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Tests at a time on this box (they share its cores).")
@click.option("--workers", "-w", type=click.IntRange(1, 256), default=None,
              help="Worker processes per test (default: one per CPU core).")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Where each test's results.json and report.html go (default: api-runs/ beside the "
                   "history store).")
@click.option("--no-history", is_flag=True, help="Do not record tests in the history store.")
def serve(host: str, port: int, token_file: str | None, max_rate: float, max_duration: float | None,
          allowed_hosts: str | None, max_concurrent: int, workers: int | None, data_dir: str | None,
          no_history: bool) -> None:
    """Serve the REST API, the WebSocket stream and the live dashboard; tests run on this box.

    \b
    Dashboard:   http://HOST:PORT/
    API:         /api/v1/tests (start, list), /api/v1/tests/ID (status), .../stop|pause|resume|scale,
                 .../results, .../report; seed 004's /api/v1/load-test/patterns/...
    Stream:      ws://HOST:PORT/api/v1/load-test/stream/ID
    Described:   /api/v1/openapi.json      Prometheus: /metrics
    Audit log:   $LUNGE_MP_AUDIT_LOG, else audit.log beside the history store.

    \b
    Examples:
      lunge-mp serve                                   # http://127.0.0.1:8080/
      lunge-mp serve --host 0.0.0.0 --token-file tokens.yaml --max-rate 5000 --max-duration 30m
    """
    from lunge_mp.analysis.hosts import host_pattern_problem
    from lunge_mp.api import Settings, create_app
    from lunge_mp.api.attach import is_loopback
    from lunge_mp.api.auth import TokenError, Tokens
    from lunge_mp.api.intake import Ceiling
    from lunge_mp.store import default_store_path
    from lunge_mp.store.audit import default_audit_path

    try:
        tokens = Tokens.load(token_file)
    except TokenError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.INVALID_INPUT)
    if not is_loopback(host) and not tokens:
        click.echo(f"error: --host {host} is not a loopback address: give --token-file or set "
                   f"LUNGE_MP_API_TOKEN, so that only holders of a token can start load", err=True)
        sys.exit(ExitCode.INVALID_INPUT)
    hosts = tuple(h.strip() for h in (allowed_hosts or "").split(",") if h.strip())
    for pattern in hosts:
        problem = host_pattern_problem(pattern)
        if problem:
            click.echo(f"error: --allowed-hosts: '{pattern}': {problem}", err=True)
            sys.exit(ExitCode.INVALID_INPUT)
    store = default_store_path()
    folder = Path(data_dir) if data_dir else store.parent / "api-runs"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings = Settings(data_dir=folder, store_path=store, audit_path=default_audit_path(store), tokens=tokens,
                        ceiling=Ceiling(max_rate, max_duration or 0.0, hosts), max_concurrent=max_concurrent,
                        workers=workers, record=not no_history)
    app = create_app(settings)
    try:
        asyncio.run(_serve(app, host, port))
    except OSError as exc:
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"error: cannot listen on {shown}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(ExitCode.INTERNAL)


async def _serve(app, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM; then stop running tests (their results are written) and close."""
    from aiohttp import web

    from lunge_mp.api import keys

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        real = site._server.sockets[0].getsockname()[1]   # noqa: SLF001 (port 0: the one picked)
        shown = f"[{host}]" if ":" in host else host
        app[keys.REGISTRY].forks.start_soon()      # tests' processes fork from it (api/forkserver.py)
        click.echo(f"lunge-mp serve: dashboard and API on http://{shown}:{real}/ (Ctrl-C stops)", err=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        click.echo("lunge-mp serve: stopping (running tests are stopped and their results written)", err=True)
    finally:
        await runner.cleanup()


# --- ctl -----------------------------------------------------------------------------------
def _call(url: str, token: str | None, method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:   # noqa: S310 - a URL the user gave
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            doc = json.loads(exc.read())
        except ValueError:
            doc = {}
        text = doc.get("error", exc.reason)
        problems = "".join(f"\n  {p}" for p in doc.get("problems", []))
        raise click.ClickException(f"{exc.code}: {text}{problems}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None


def _token(token_file: str | None) -> str | None:
    if token_file:
        try:
            return Path(token_file).read_text().strip()
        except OSError as exc:
            raise click.ClickException(f"cannot read {token_file}: {exc.strerror}") from None
    return os.environ.get("LUNGE_MP_API_TOKEN") or None


def _test_id(url: str, token: str | None, given: str | None) -> str:
    if given:
        return given
    running = _call(url, token, "GET", "/api/v1/tests")["running"]
    if len(running) != 1:
        names = ", ".join(t["id"] for t in running) or "none"
        raise click.ClickException(f"name the test: {len(running)} are running ({names})")
    return running[0]["id"]


@click.group(short_help="Steer a running test: status, stop, pause, resume, scale.")
@click.option("--url", default="http://127.0.0.1:5665", show_default=True, envvar="LUNGE_MP_API_URL",
              help="The server: `lunge-mp serve` (port 8080 by default) or `run --dashboard`; "
                   "also $LUNGE_MP_API_URL.")
@click.option("--token-file", type=click.Path(dir_okay=False),
              help="A file holding the token (else $LUNGE_MP_API_TOKEN).")
@click.pass_context
def ctl(ctx: click.Context, url: str, token_file: str | None) -> None:
    """Steer a running test over the API: status, stop, pause, resume, scale.

    \b
    Examples:
      lunge-mp ctl pause                      # the one test running at 127.0.0.1:5665
      lunge-mp ctl --url http://127.0.0.1:8080 scale t_0123abcd web --vus 50
      lunge-mp ctl scale api --rate 2000       # an open scenario's rate from now on
    """
    ctx.obj = {"url": url, "token": _token(token_file)}


def _steer(action: str):
    @click.argument("test_id", required=False)
    @click.pass_obj
    def command(obj: dict, test_id: str | None) -> None:
        test_id = _test_id(obj["url"], obj["token"], test_id)
        view = _call(obj["url"], obj["token"], "POST", f"/api/v1/tests/{urllib.parse.quote(test_id)}/{action}", {})
        click.echo(f"{view['id']}: {view['status']}")
    command.__doc__ = f"{action.capitalize()} a running test (the only one running when not named)."
    return ctl.command(name=action)(command)


for _action in ("stop", "pause", "resume"):
    _steer(_action)


@ctl.command()
@click.argument("test_id", required=False)
@click.pass_obj
def status(obj: dict, test_id: str | None) -> None:
    """Print a test's state and live figures as JSON."""
    test_id = _test_id(obj["url"], obj["token"], test_id)
    click.echo(json.dumps(_call(obj["url"], obj["token"], "GET", f"/api/v1/tests/{urllib.parse.quote(test_id)}"),
                          indent=2))


@ctl.command()
@click.argument("args", nargs=-1, required=True)
@click.option("--vus", type=click.IntRange(min=0), help="Closed model: run this many VUs from now on.")
@click.option("--rate", type=click.FloatRange(min=0), help="Open model: iterations/s from now on.")
@click.option("--factor", type=click.FloatRange(min=0, min_open=True), help="Multiply the VUs or rate.")
@click.pass_obj
def scale(obj: dict, args: tuple[str, ...], vus: int | None, rate: float | None, factor: float | None) -> None:
    """Scale a scenario of a running test: [TEST_ID] SCENARIO --vus N | --rate R | --factor F."""
    if len(args) > 2:
        raise click.UsageError("give [TEST_ID] SCENARIO")
    given = {k: v for k, v in (("vus", vus), ("rate", rate), ("factor", factor)) if v is not None}
    if len(given) != 1:
        raise click.UsageError("give one of --vus, --rate, --factor")
    test_id = _test_id(obj["url"], obj["token"], args[0] if len(args) == 2 else None)
    view = _call(obj["url"], obj["token"], "POST", f"/api/v1/tests/{urllib.parse.quote(test_id)}/scale",
                 {"scenario": args[-1], **given})
    event = (view.get("events") or [{}])[-1]
    click.echo(f"{view['id']}: scaled {args[-1]}: " + ", ".join(f"{k} {v}" for k, v in event.items()
                                                                  if k not in ("event", "scenario")))
