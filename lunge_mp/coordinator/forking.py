"""Workers forked from the coordinator once it has imported what both of them need.

A spawned worker pays for its own interpreter and ~0.17 s of imports (asyncio, ZeroMQ,
msgspec, psutil, the plan and protocol types, its own modules) while the coordinator pays most
of the same for itself: on two cores, three processes importing at once were most of the time to
the first request (benchmarks/startup.py). Forked after the shared imports, a worker imports only
its own modules (the HTTP transport, the iteration runner), while the coordinator reads the config.

Forking is safe only in a process with one thread and no ZeroMQ context, event loop or sockets
yet: `usable()` says so, and only `coordinator/prestart.py` (the CLI, before the config is read)
forks; everything else spawns `python -m lunge_mp.worker` (coordinator/pool.py). The worker's
entry point comes from the caller (the CLI): the coordinator never imports the worker.

A forked worker sets its title to the command line a spawned one has (`ps`, psutil and the tests
find workers by it), reads stdin from /dev/null, ignores SIGINT as a spawned worker does, runs
the same `worker.main.run`, and leaves with `os._exit` so nothing of the coordinator (atexit
handlers, its buffered output) runs twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import NoReturn

WorkerMain = Callable[[str, int, int], int]    # (endpoint, worker id, coordinator pid) -> its exit code


def usable() -> bool:
    """True when this process can fork workers safely: Linux, and one thread (Python's or native:
    a ZeroMQ context would have started its I/O threads)."""
    if sys.platform != "linux" or threading.active_count() != 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def preload() -> None:
    """What the coordinator and every worker import: once, here, before the fork."""
    import asyncio  # noqa: F401
    import msgspec  # noqa: F401
    import psutil  # noqa: F401
    import uvloop  # noqa: F401
    import zmq.asyncio  # noqa: F401

    from lunge_mp import redact  # noqa: F401
    from lunge_mp.metrics import hdr  # noqa: F401
    from lunge_mp.protocol import messages  # noqa: F401


class ForkedWorker:
    """The part of `subprocess.Popen` the pool uses (pid, poll, wait, send_signal), for a fork."""

    def __init__(self, pid: int, args: list[str]) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:     # reaped elsewhere: its status is gone (as Popen does)
                self.returncode = 0
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.02)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)


def fork_worker(endpoint: str, worker_id: int, worker_main: WorkerMain) -> ForkedWorker:
    """Worker `worker_id` as a child of this process; the parent gets a Popen-like handle."""
    parent = os.getpid()
    args = [sys.executable, "-m", "lunge_mp.worker", "--connect", endpoint, "--parent", str(parent),
            "--id", str(worker_id)]
    for stream in (sys.stdout, sys.stderr):     # else the child would write the parent's buffer again
        if stream is not None:
            stream.flush()
    sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)   # ignored from the fork on: a Ctrl-C
    try:                                                      # never reaches the child's Python code
        pid = os.fork()
    except OSError:
        signal.signal(signal.SIGINT, sigint)
        raise
    if pid:
        signal.signal(signal.SIGINT, sigint)
        return ForkedWorker(pid, args)
    _run_child(args, endpoint, worker_id, parent, worker_main)       # never returns


def _run_child(args: list[str], endpoint: str, worker_id: int, parent: int, worker_main: WorkerMain) -> NoReturn:
    code = 1
    try:
        import setproctitle

        setproctitle.setproctitle(" ".join(args))
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(line_buffering=True)   # as a spawned worker's PYTHONUNBUFFERED
        code = worker_main(endpoint, worker_id, parent)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - a forked worker must never return into the coordinator's code
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - leaving anyway
                pass
        os._exit(code)
