"""The server's side of a test run in its own process (api/child.py): start it, relay its
feed to the test's Channel, pass it commands, and notice its end — or its crash.

`RemoteControl` stands in for the child's RunControl (coordinator/control.py) on the
server: the same calls (stop, pause, resume, scale → a Future answered by the child) and the
control state the child last reported (paused, pauses, events, scale factors).

A child that exits without saying `done` crashed: its test is marked failed, and when it
wrote no results.json the server writes one from what it had streamed (`partial: true`,
docs/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import os
import pickle
import sys
import time

from lunge_mp.coordinator.control import Steering
from lunge_mp.exit_codes import ExitCode

LINE_LIMIT = 8 * 2**20          # one feed line (a snapshot with histograms is a few KB)
KILL_AFTER_S = 30.0             # server shutdown: a child still running then is killed


class RemoteControl(Steering):
    def __init__(self) -> None:
        self.paused = False
        self.pauses: list[dict] = []
        self.events: list[dict] = []
        self.scale_factors: dict[str, float] = {}
        self._pending: dict[int, concurrent.futures.Future] = {}
        self._ids = 0
        self._writer: asyncio.StreamWriter | None = None
        self._backlog: list[bytes] = []     # commands before the child is up
        self.ended = False

    # --- the RunControl interface the routes use ---------------------------------------
    def submit(self, action: str, **args) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        if self.ended:
            future.set_result("the run has ended")
            return future
        self._ids += 1
        self._pending[self._ids] = future
        self._write({"id": self._ids, "action": action, "args": args})
        return future

    def histograms(self, since: float) -> None:
        """A Prometheus scrape at monotonic `since`: the feed builds latency histograms a while."""
        if not self.ended:
            self._write({"action": "histograms", "since": since})

    # --- from the child ------------------------------------------------------------------
    def connect(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        for data in self._backlog:
            writer.write(data)
        self._backlog.clear()

    def update(self, msg: dict) -> None:
        if "paused" in msg:
            self.paused, self.pauses, self.events = msg["paused"], msg["pauses"], msg["events"]
            self.scale_factors = msg["scaleFactors"]

    def answered(self, msg: dict) -> None:
        future = self._pending.pop(msg.get("id"), None)
        if future is not None and not future.done():
            future.set_result(msg.get("answer"))

    def end(self) -> None:
        self.ended = True
        for future in self._pending.values():
            if not future.done():
                future.set_result("the run has ended")
        self._pending.clear()

    def _write(self, msg: dict) -> None:
        data = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
        if self._writer is None:
            self._backlog.append(data)
            return
        try:
            self._writer.write(data)
        except (ConnectionError, RuntimeError):     # the child is gone; its end is noticed by run_child
            pass


async def run_child(test, start: dict, on_feed, finished, forks=None) -> None:
    """Run `test` (api/runs.py ServedTest, its control a RemoteControl) in a child process until
    it ends; `on_feed(test, kind, payload)` for each feed message, then `finished(test, status,
    code, run_id, error)` once. The child is a fork of `forks` (api/forkserver.py ForkServer)
    when it can give one, else spawned."""
    control: RemoteControl = test.control
    done: dict | None = None
    try:
        proc = await forks.launch(LINE_LIMIT) if forks is not None else None
        if proc is None:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "lunge_mp.api.child", str(os.getpid()),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=LINE_LIMIT,
                start_new_session=True)     # Ctrl-C at the server's terminal reaches the server only
    except OSError as exc:
        control.end()
        finished(test, "error", ExitCode.INTERNAL, None, f"internal error: cannot start the run's process: {exc}")
        return
    test.process = proc
    proc.stdin.write(base64.b64encode(pickle.dumps(start)) + b"\n")
    control.connect(proc.stdin)
    try:
        while True:
            line = await proc.stdout.readline()
            if not line:
                break
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            kind = msg.get("k")
            if kind == "feed":
                control.update(msg)
                on_feed(test, msg["kind"], msg["p"])
            elif kind == "answer":
                control.update(msg)
                control.answered(msg)
            elif kind == "runId":
                test.run_id = test.run_id or msg["runId"]
            elif kind == "done":
                control.update(msg)
                done = msg
    except (ValueError, asyncio.LimitOverrunError):    # a line over LINE_LIMIT: not our child's
        proc.kill()
    finally:
        code = await proc.wait()
        control.end()
        with contextlib.suppress(OSError, RuntimeError):
            proc.stdin.close()
    if done is not None:
        finished(test, done["status"], done["code"], done.get("runId"), done.get("error"))
        return
    from lunge_mp.coordinator.health import exit_text
    error = (f"the test's coordinator process {exit_text(code)}: results are what the server had "
             f"streamed so far")
    status = _write_partial(test, error)
    finished(test, status, ExitCode.INTERNAL, test.run_id, error)


def _write_partial(test, error: str) -> str:
    """results.json of a crashed run, unless it wrote its own first: the per-second series the
    stream had and the last totals. Returns the test's status."""
    path = test.results_path
    if path is None:
        return "failed"
    if path.exists():     # it wrote its results and then died: they stand
        try:
            return json.loads(path.read_text()).get("status") or "failed"
        except (OSError, ValueError):
            return "failed"
    last = test.channel.last if test.channel is not None else None
    doc = {"name": test.plan.name, "runId": test.run_id, "status": "failed", "exitCode": int(ExitCode.INTERNAL),
           "partial": True, "error": error, "endTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "totals": (last or {}).get("totals"), "pauses": test.control.pauses,
           "controlEvents": test.control.events,
           "seconds": list(test.channel.rows) if test.channel is not None else []}
    try:
        with open(path, "x") as f:          # never replaces a file
            json.dump(doc, f, indent=2)
    except OSError:
        pass
    return "failed"
