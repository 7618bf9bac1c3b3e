"""Serving the embedded target: one process, or a supervisor and N worker processes.

Multi-process (``workers > 1``)
-------------------------------
A supervisor process reserves the port (a bound, non-listening SO_REUSEPORT
socket, so port 0 resolves to one concrete port), then spawns N worker
processes which each bind their own SO_REUSEPORT listening socket on that port;
the kernel spreads connections over them.  Once every worker is listening the
reservation socket is closed.

Stats aggregation: every worker keeps its own counters and also listens on a
private Unix-domain control socket ``<tmpdir>/w<i>.sock`` (the tmpdir is made
by the supervisor and removed on exit).  The worker that receives
``GET /__stats`` asks all its siblings over those sockets ("S" -> JSON line of
their counters) and sums the answers; ``/__reset`` is broadcast the same way
("R <since>" -> "OK") and only answered after every worker acknowledged, so a
following ``/__stats`` (on any worker) sees zeroed counters.  Requests are
counted when they are received, before their response is written, so once a
client has a response the request is visible in ``/__stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import os
import signal
import socket
import sys
import tempfile
import time

try:  # uvloop is a hard dependency, but keep the target usable without it
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

from lunge_mp.target.server import App, HttpProtocol

__all__ = ["run_target"]


def _bind(host: str, port: int, reuseport: bool, listen: bool = True) -> socket.socket:
    family, stype, proto, _, addr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, stype, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
        if listen:
            sock.listen(4096)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"cannot bind {host}:{port}: {e.strerror}") from None
    except BaseException:
        sock.close()
        raise
    return sock


def _url(host: str, port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    return f"http://{h}:{port}"


def _announce(host: str, port: int, workers: int, ready_file: str | None) -> None:
    print(f"target listening on {_url(host, port)} ({workers} workers)", file=sys.stderr, flush=True)
    if ready_file:
        from lunge_mp.safe_output import write_atomic

        write_atomic(ready_file, str(port).encode())   # atomic: the reader never sees an empty file


def _new_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


async def _serve(sock: socket.socket, app: App, on_ready, parent_pid: int | None = None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    server = await loop.create_server(lambda: HttpProtocol(app, loop), sock=sock)
    ctl_server = None
    if app.multi:
        ctl_server = await asyncio.start_unix_server(
            app.handle_control, path=app.control_path(app.index))
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    if parent_pid is not None:
        def watch_parent() -> None:
            if os.getppid() != parent_pid:
                stop.set()
            else:
                loop.call_later(1.0, watch_parent)
        loop.call_later(1.0, watch_parent)

    on_ready()
    try:
        await stop.wait()
    finally:
        server.close()
        if ctl_server is not None:
            ctl_server.close()
        for proto in list(app.connections):
            if proto.transport is not None:
                proto.transport.abort()


def _serve_single(host: str, port: int, ready_file: str | None) -> None:
    sock = _bind(host, port, reuseport=False)
    actual = sock.getsockname()[1]
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        runner.run(_serve(sock, App(), lambda: _announce(host, actual, 1, ready_file)))


def _worker_entry(host: str, port: int, index: int, nworkers: int, control_dir: str,
                  ready_conn, since: float, parent_pid: int) -> None:
    """Body of one worker process (multi-worker mode); spawned by the supervisor."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the supervisor SIGTERMs us
    try:
        sock = _bind(host, port, reuseport=True)
    except OSError as e:
        ready_conn.send(f"worker {index}: {e}")
        return

    def ready() -> None:
        ready_conn.send("ok")
        ready_conn.close()

    app = App(index, nworkers, control_dir, since)
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        runner.run(_serve(sock, app, ready, parent_pid))


def _supervise(host: str, port: int, workers: int, ready_file: str | None) -> None:
    import multiprocessing as mp
    import multiprocessing.connection as mpc
    import shutil

    from multiprocessing import resource_tracker

    ctx = mp.get_context("spawn")
    # spawn starts multiprocessing's resource tracker; if we started it, reap it
    # on exit instead of leaving an orphan behind.
    tracker = getattr(resource_tracker, "_resource_tracker", None)
    own_tracker = tracker is not None and getattr(tracker, "_fd", 0) is None
    stopping = False

    def on_signal(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    old_handlers = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):   # not in the main thread
            old_handlers[sig] = signal.signal(sig, on_signal)

    # Reserve the port (resolves port 0) without listening: the kernel only
    # hands connections to listening members of the SO_REUSEPORT group.
    reservation = _bind(host, port, reuseport=True, listen=False)
    port = reservation.getsockname()[1]
    control_dir = tempfile.mkdtemp(prefix="lunge-target-")
    since = time.time()
    procs = []
    error: str | None = None
    try:
        conns = []
        for i in range(workers):
            r, w = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_worker_entry, name=f"lunge-target-{i}", daemon=True,
                            args=(host, port, i, workers, control_dir, w, since, os.getpid()))
            p.start()
            w.close()
            procs.append(p)
            conns.append(r)
        deadline = time.monotonic() + 60
        for i, (r, p) in enumerate(zip(conns, procs)):
            while not r.poll(0.05):
                if stopping:
                    return
                if not p.is_alive():
                    error = f"worker {i} exited during startup (code {p.exitcode})"
                    break
                if time.monotonic() > deadline:
                    error = f"worker {i} did not start in time"
                    break
            if error is None:
                try:
                    msg = r.recv()
                except EOFError:
                    msg = f"worker {i} exited during startup"
                if msg != "ok":
                    error = msg
            r.close()
            if error is not None:
                raise RuntimeError(error)
        reservation.close()
        _announce(host, port, workers, ready_file)
        sentinels = [p.sentinel for p in procs]
        while not stopping:
            if mpc.wait(sentinels, timeout=0.2):
                dead = [p for p in procs if not p.is_alive()]
                raise RuntimeError("target worker(s) died: " + ", ".join(
                    f"{p.name} (code {p.exitcode})" for p in dead))
    finally:
        reservation.close()
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(2)
        shutil.rmtree(control_dir, ignore_errors=True)
        if own_tracker and hasattr(tracker, "_stop"):
            with contextlib.suppress(Exception):
                tracker._stop()
        for sig, h in old_handlers.items():
            signal.signal(sig, h)


def run_target(host: str = "127.0.0.1", port: int = 8080, workers: int = 1,
               ready_file: str | None = None) -> None:
    """Serve the target until SIGINT/SIGTERM (blocking).

    Prints ``target listening on http://HOST:PORT (N workers)`` to stderr once
    listening and, if ``ready_file`` is given, writes the actual port (useful with
    ``port=0``) to it.  ``workers > 1`` runs that many SO_REUSEPORT worker
    processes under a supervisor (this process); ``/__stats`` aggregates them.
    Raises ``RuntimeError`` if a worker fails to start or dies.
    """
    workers = max(1, int(workers))
    if workers == 1:
        _serve_single(host, port, ready_file)
    else:
        _supervise(host, port, workers, ready_file)
