"""`lunge-mp run CONFIG --dashboard [HOST:PORT]`: the run on the main thread as usual, the API
and the live dashboard for it on a thread beside it (as k6's web dashboard).

The run is a test of the server's registry like any other (api/runs.py `attach`): streamed,
and steered by the dashboard's buttons or `lunge-mp ctl` (stop, pause, resume, scale), and by
SIGUSR1/SIGUSR2 (pause/resume) and Ctrl-C as always. Starting another test from this
dashboard is refused (409): the server runs only this one. A non-loopback address needs a
token (`$LUNGE_MP_API_TOKEN`), as `lunge-mp serve` does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import threading
from pathlib import Path

from aiohttp import web

from lunge_mp.exit_codes import ExitCode
from lunge_mp.plan import Plan

DEFAULT = "127.0.0.1:5665"
LINGER_S = 1.0        # after the run: the completion message reaches the dashboards first


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "5665"
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--dashboard: '{text}' is not HOST:PORT (e.g. {DEFAULT})")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_with_dashboard(plan: Plan, workers: int, quiet: bool, paths: dict[str, str], record: bool,
                       hostport: str) -> int:
    from lunge_mp.api.app import Settings, create_app
    from lunge_mp.api.auth import TokenError, Tokens
    from lunge_mp.api.runs import Registry
    from lunge_mp.report.console import print_summary
    from lunge_mp.runner import run_plan
    from lunge_mp.store import default_store_path
    from lunge_mp.store.audit import default_audit_path

    try:
        host, port = parse_hostport(hostport)
        tokens = Tokens.load(None)
    except (ValueError, TokenError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.INVALID_INPUT
    if not is_loopback(host) and not tokens:
        print(f"error: --dashboard {hostport} is not a loopback address: set LUNGE_MP_API_TOKEN so the "
              f"dashboard and its API need a token (or use 127.0.0.1)", file=sys.stderr)
        return ExitCode.INVALID_INPUT
    store = default_store_path()
    folder = Path(paths["json"]).resolve().parent if paths.get("json") else Path.cwd()
    settings = Settings(data_dir=folder, store_path=store, audit_path=default_audit_path(store), tokens=tokens,
                        max_concurrent=0, workers=workers, record=record)
    ready = threading.Event()
    box: dict = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        box["loop"] = loop

        async def start() -> None:
            registry = Registry(folder, max_concurrent=0, workers=workers, record=record)
            app = create_app(settings, registry)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                box["error"] = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                await runner.cleanup()
                return
            box["runner"], box["registry"] = runner, registry
            test = box["test"] = registry.attach(plan, None, "cli", folder=folder)
            test.files = {fmt: Path(p) for fmt, p in paths.items() if fmt in ("json", "html")}
            box["port"] = site._server.sockets[0].getsockname()[1]   # noqa: SLF001 (port 0 → the one picked)

        try:
            loop.run_until_complete(start())
        finally:
            ready.set()
        if "error" not in box:
            loop.run_forever()

    thread = threading.Thread(target=serve, name="lunge-mp dashboard", daemon=True)
    thread.start()
    ready.wait(15.0)
    if "test" not in box:
        print(f"error: --dashboard: {box.get('error', 'the dashboard did not start')}", file=sys.stderr)
        return ExitCode.INVALID_INPUT
    loop, test, registry = box["loop"], box["test"], box["registry"]
    shown = f"[{host}]" if ":" in host else host
    print(f"dashboard: http://{shown}:{box['port']}/  (test {test.id}; SIGUSR1 pauses, SIGUSR2 resumes)",
          file=sys.stderr, flush=True)
    status, code, run_id, error = "error", 1, None, None
    try:
        results, code, written = run_plan(plan, workers, paths, record, quiet=quiet, control=test.control)
        status, run_id = results.get("status", "error"), results.get("runId")
        if not quiet:
            print_summary(results, written=written)
        return code
    finally:
        loop.call_soon_threadsafe(registry.finished, test, status, code, run_id, error)
        threading.Event().wait(LINGER_S)

        async def close() -> None:
            await box["runner"].cleanup()
        asyncio.run_coroutine_threadsafe(close(), loop).result(10.0)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
