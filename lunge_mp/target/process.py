"""Run the target in a subprocess (for tests, the demo and benchmarks)."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import weakref
from pathlib import Path

import psutil

__all__ = ["TargetProcess", "start_target"]

# urllib without proxies: the target is always local.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_live: "weakref.WeakSet[TargetProcess]" = weakref.WeakSet()
_PKG_ROOT = str(Path(__file__).resolve().parents[2])   # dir containing lunge_mp/


class TargetProcess:
    """A running ``python -m lunge_mp.target`` subprocess."""

    def __init__(self, proc: subprocess.Popen, host: str, port: int, workers: int,
                 tmpdir: str) -> None:
        self._proc = proc
        self.host = host
        self.port = port
        self.workers = workers
        self._tmpdir = tmpdir
        h = f"[{host}]" if ":" in host else host
        self.url = f"http://{h}:{port}"

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    @property
    def log_path(self) -> str:
        return os.path.join(self._tmpdir, "target.log")

    def log(self) -> str:
        """Whatever the target wrote to stdout/stderr so far."""
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def _request(self, path: str, method: str = "GET", timeout: float = 10.0) -> bytes:
        data = b"" if method == "POST" else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        with _opener.open(req, timeout=timeout) as resp:
            return resp.read()

    def stats(self) -> dict:
        """GET /__stats (aggregated over all workers)."""
        return json.loads(self._request("/__stats"))

    def reset(self) -> None:
        """POST /__reset (all workers)."""
        self._request("/__reset", "POST")

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; also makes sure no child survives."""
        proc = self._proc
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            children = []
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
            except ProcessLookupError:
                pass
        alive = _wait_gone(children, timeout)
        for c in alive:
            try:
                c.kill()
            except psutil.Error:
                pass
        _wait_gone(alive, timeout)
        _live.discard(self)
        shutil.rmtree(self._tmpdir, ignore_errors=True)
        return proc.returncode

    def __enter__(self) -> "TargetProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.alive else f"exited {self.returncode}"
        return f"<TargetProcess {self.url} pid={self.pid} workers={self.workers} {state}>"


def _running(p: psutil.Process) -> bool:
    """Alive and not a zombie (an orphaned zombie is dead; init reaps it later)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until none of ``procs`` runs; return those still running at the deadline."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if _running(p)]
    return alive


def start_target(port: int = 0, workers: int = 1, *, host: str = "127.0.0.1",
                 timeout: float = 10.0) -> TargetProcess:
    """Launch the target as a subprocess and wait (<= ``timeout`` s) until it listens.

    Its stdout/stderr go to a log file (``.log()``), included in the error if it
    fails to start.  ``port=0`` picks a free port.
    """
    tmpdir = tempfile.mkdtemp(prefix="lunge-target-run-")
    ready = os.path.join(tmpdir, "ready")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PKG_ROOT, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "lunge_mp.target", "--host", host, "--port", str(port),
           "--workers", str(workers), "--ready-file", ready]
    with open(os.path.join(tmpdir, "target.log"), "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=env, start_new_session=True)
    tp = TargetProcess(proc, host, port, workers, tmpdir)
    _live.add(tp)
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = Path(ready).read_text().strip()
            if text:
                tp.port = int(text)
                h = f"[{host}]" if ":" in host else host
                tp.url = f"http://{h}:{tp.port}"
                return tp
        except (OSError, ValueError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            what = (f"exited with code {proc.returncode}" if proc.poll() is not None
                    else f"not listening after {timeout:g}s")
            log_text = tp.log()
            tp.stop()
            raise RuntimeError(f"target {what}: {' '.join(cmd)}\n{log_text}")
        time.sleep(0.02)


@atexit.register
def _stop_all() -> None:
    for tp in list(_live):
        try:
            tp.stop(timeout=2.0)
        except Exception:
            pass
