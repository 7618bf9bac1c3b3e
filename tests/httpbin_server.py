"""A real httpbin (the `httpbin` package under gunicorn) on 127.0.0.1, for the Lunge-file tests.

Lunge's published files are written against httpbin's routes (/get, /post, /uuid, /headers,
/anything, /status/N ...). The server is started on a free port and stopped by its PID; a test
that cannot have it (package missing) is skipped with a line naming the package.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def httpbin_server(deadline_s: float = 30.0):
    """Yield the base URL of a running httpbin; stop it on exit."""
    for package in ("httpbin", "gunicorn"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"needs the Python package '{package}' (pip install -e '.[test]')")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "8", "--worker-class", "gthread", "--log-level", "warning", "httpbin:app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"})
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + deadline_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"httpbin exited early: {proc.stderr.read() if proc.stderr else ''}")
            try:
                with urllib.request.urlopen(f"{base}/get", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"httpbin did not answer on {base} within {deadline_s:g}s")
            time.sleep(0.1)
        yield base
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()
