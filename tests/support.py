"""Test helpers: config files on disk, the CLI as a real process, and waiting for a condition
with a deadline (never a fixed sleep: the machine may be busy)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path


def write_config(tmp_path: Path, text: str, name: str = "test.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def cli(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """`lunge-mp ARGS` in a child process, output captured."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "lunge_mp.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def cli_popen(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "",
               every: float = 0.02) -> object:
    """Call `predicate()` until it returns something truthy, and return that; fail the test
    after `timeout` seconds saying `what` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for "
                                 f"{what or getattr(predicate, '__name__', 'a condition')}")
        time.sleep(every)


def steady(read: Callable[[], object], for_s: float) -> Callable[[], object]:
    """A predicate for `wait_until`/`until`: (the value,) once `read()` has not changed for
    `for_s` seconds (e.g. a server's count once in-flight requests are done)."""
    seen = [read(), time.monotonic()]

    def check() -> object:
        value, now = read(), time.monotonic()
        if value != seen[0]:
            seen[:] = [value, now]
        return (seen[0],) if now - seen[1] >= for_s else None
    return check


async def until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "",
                every: float = 0.01) -> object:
    """`wait_until` inside an event loop: the loop keeps running while we wait."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for "
                                 f"{what or getattr(predicate, '__name__', 'a condition')}")
        await asyncio.sleep(every)


class Running:
    """`lunge-mp ARGS` in a child process whose output is read as it comes (two threads), so
    a test can wait for a line it prints while it runs; `finish()` waits for the exit."""

    def __init__(self, *args: str) -> None:
        self.proc = cli_popen(*args)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._drain, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self._readers:
            t.start()

    @staticmethod
    def _drain(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for_line(self, text: str, timeout: float = 30.0) -> str:
        """The first stderr line holding `text`, once it is printed."""
        return wait_until(lambda: next((line for line in list(self.err) if text in line), None),
                          timeout, f"{text!r} on stderr")

    def finish(self, timeout: float = 60.0) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) once the process has ended."""
        code = self.proc.wait(timeout)
        for t in self._readers:
            t.join(timeout)
        return code, "".join(self.out), "".join(self.err)


def run_config(tmp_path: Path, text: str, *args: str, workers: int = 1, history: bool = False,
               timeout: float = 120, env: dict | None = None
               ) -> tuple[subprocess.CompletedProcess, dict | None]:
    """Write `text` (dedented) as tmp_path/test.yaml, `lunge-mp run` it with `workers` workers
    and results.json in tmp_path (`args` are added; `--no-history` unless `history`), and read
    what it wrote: (the finished process, results.json or None when it wrote none)."""
    config = write_config(tmp_path, text)
    out = tmp_path / "results.json"
    proc = cli("run", str(config), "--out", str(out), "--workers", str(workers),
               *(() if history else ("--no-history",)), *args, timeout=timeout, env=env)
    return proc, read_json(out) if out.exists() else None
