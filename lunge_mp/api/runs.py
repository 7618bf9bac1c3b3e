"""The tests this server runs: each in a process of its own (api/child.py, relayed by
api/relay.py), steered through its control, watched through its Channel.

A test's coordinator runs in its own process so nothing the server does (API calls,
streaming, Prometheus scrapes) shares an interpreter lock or a heap with its ticks, and its
memory goes back to the system when it ends; the server only serves HTTP and WebSockets and
relays. A CLI run with `--dashboard` (api/attach.py) is the exception: its run is the CLI's
own, in the same process, fed through `attach`.

States: running → (paused ⇄ running) → stopping → passed | failed | aborted | invalid | error.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from lunge_mp.api.feed import Feed
from lunge_mp.api.forkserver import ForkServer
from lunge_mp.api.relay import KILL_AFTER_S, RemoteControl, run_child
from lunge_mp.api.stream import Channel
from lunge_mp.coordinator.control import RunControl
from lunge_mp.plan import Plan
from lunge_mp.redact import Redactor

FINAL = ("passed", "failed", "aborted", "invalid", "error")


class Busy(Exception):
    """The server runs as many tests as it may; `running` names them."""

    def __init__(self, running: list[str]) -> None:
        super().__init__(", ".join(running))
        self.running = running


@dataclass
class ServedTest:
    id: str
    plan: Plan
    config: object                    # the submitted document, secrets masked
    identity: str
    folder: Path
    workers: int
    created: float = field(default_factory=time.time)
    status: str = "running"
    exit_code: int | None = None
    run_id: str | None = None
    error: str | None = None
    ended: float | None = None
    profile: tuple[str, int] | None = None
    control: RunControl | RemoteControl = field(default_factory=RunControl)
    channel: Channel | None = None
    process: object | None = None     # the run's own process: an asyncio Process or a ForkedChild (not attached)
    task: asyncio.Task | None = None                     # relaying it (api/relay.py run_child)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    files: dict[str, Path] | None = None   # a CLI run's own --out/--html paths (run --dashboard)

    @property
    def results_path(self) -> Path | None:
        return self.files.get("json") if self.files is not None else self.folder / "results.json"

    @property
    def report_path(self) -> Path | None:
        return self.files.get("html") if self.files is not None else self.folder / "report.html"

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def view(self, base: str = "") -> dict:
        """What GET /api/v1/tests/{id} answers (secrets were masked on intake)."""
        last = self.channel.last if self.channel else None
        out = {"id": self.id, "runId": self.run_id, "name": self.plan.name, "status": self.status,
               "exitCode": self.exit_code, "startedBy": self.identity,
               "created": _iso(self.created), "ended": _iso(self.ended) if self.ended else None,
               "paused": self.control.paused, "pauses": self.control.pauses, "events": self.control.events,
               "scenarios": [{"name": s.name, "executor": s.executor, "open": s.is_open}
                             for s in self.plan.scenarios],
               "workers": self.workers,
               "live": None if last is None else {k: last.get(k) for k in (
                   "t", "target", "actual", "p50", "p95", "p99", "failures", "vus", "dropped", "cpu", "totals")},
               "violations": [v["message"] for v in (self.channel.violations[-20:] if self.channel else [])],
               "links": {"self": f"{base}/api/v1/tests/{self.id}",
                         "stream": f"{base}/api/v1/load-test/stream/{self.id}",
                         "results": f"{base}/api/v1/tests/{self.id}/results",
                         "report": f"{base}/api/v1/tests/{self.id}/report"}}
        if self.profile:
            out["profile"] = {"name": self.profile[0], "version": self.profile[1]}
        if self.error:
            out["error"] = self.error
        return out


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Registry:
    def __init__(self, data_dir: Path, max_concurrent: int = 1, workers: int | None = None,
                 record: bool = True) -> None:
        self.data_dir = data_dir
        self.max_concurrent = max_concurrent
        self.workers = workers or os.cpu_count() or 1
        self.record = record
        self.tests: dict[str, ServedTest] = {}
        self._want_histograms = 0.0       # monotonic time of the last Prometheus scrape
        self.on_change = None             # fn(test): the Prometheus view and others
        self.forks = ForkServer()         # each test's process is forked from it (api/forkserver.py)

    @property
    def want_histograms(self) -> float:
        return self._want_histograms

    @want_histograms.setter
    def want_histograms(self, since: float) -> None:
        """A Prometheus scrape: the running tests' feeds build latency histograms a while."""
        self._want_histograms = since
        for test in self.running():
            if isinstance(test.control, RemoteControl):
                test.control.histograms(since)

    def running(self) -> list[ServedTest]:
        return [t for t in self.tests.values() if not t.final]

    def get(self, test_id: str) -> ServedTest | None:
        return self.tests.get(test_id)

    def start(self, plan: Plan, config: object, identity: str,
              profile: tuple[str, int] | None = None) -> ServedTest:
        """Start a test now (its process starts in the background), or Busy. Must be called
        on the server's loop."""
        running = self.running()
        if len(running) >= self.max_concurrent:
            raise Busy([f"{t.id} ({t.plan.name}, {t.status})" for t in running])
        test = self._new(plan, config, identity, profile, None)
        test.control = RemoteControl()
        start = {"plan": plan, "workers": test.workers, "record": self.record,
                 "paths": {"json": str(test.results_path), "html": str(test.report_path)}}
        if self._want_histograms:
            test.control.histograms(self._want_histograms)
        test.task = asyncio.get_running_loop().create_task(
            run_child(test, start, self._on_feed, self.finished, self.forks))
        return test

    def attach(self, plan: Plan, config: object, identity: str, profile: tuple[str, int] | None = None,
               folder: Path | None = None) -> ServedTest:
        """A test whose run is driven by the caller (`run --dashboard`), fed and steered as the
        server's own: the caller runs it with `test.control` and reports its end to `finished`."""
        test = self._new(plan, config, identity, profile, folder)
        loop = asyncio.get_running_loop()

        def sink(kind: str, payload: dict) -> None:       # on the run's thread
            loop.call_soon_threadsafe(self._on_feed, test, kind, payload)

        feed = Feed(sink, want_histograms=lambda: time.monotonic() - self._want_histograms < 60.0)
        test.control.watchers.append(feed)
        test.control.watchers.append(lambda coord, t: self._note_run_id(test, coord))
        return test

    def _new(self, plan: Plan, config: object, identity: str, profile: tuple[str, int] | None,
             folder: Path | None) -> ServedTest:
        test_id = "t_" + uuid.uuid4().hex[:12]
        if folder is None:
            folder = self.data_dir / test_id
            folder.mkdir(parents=True, exist_ok=False, mode=0o700)
        test = ServedTest(test_id, plan, config, identity, folder, self.workers, profile=profile)
        test.channel = Channel(test_id, Redactor.for_plan(plan))
        self.tests[test_id] = test
        return test

    def _note_run_id(self, test: ServedTest, coord) -> None:
        if test.run_id is None:
            test.run_id = coord.run_id

    def _on_feed(self, test: ServedTest, kind: str, payload: dict) -> None:
        if test.channel is not None:
            test.channel.on_feed(kind, payload)
        if kind == "event" and payload.get("event") in ("pause", "resume") and not test.final \
                and test.status != "stopping":
            test.status = "paused" if payload["event"] == "pause" else "running"

    def finished(self, test: ServedTest, status: str, code: int, run_id: str | None, error: str | None) -> None:
        test.status, test.exit_code, test.ended, test.error = status, code, time.time(), error
        test.run_id = run_id or test.run_id
        if test.channel is not None:
            test.channel.complete({"status": status, "exitCode": code, "runId": test.run_id,
                                   "results": f"/api/v1/tests/{test.id}/results",
                                   "report": f"/api/v1/tests/{test.id}/report"})
        test.done.set()

    async def stop_all(self, timeout: float = KILL_AFTER_S) -> None:
        """Server shutdown: stop every running test and wait for its results to be written; a
        run's process still there after `timeout` is killed (none outlives the server)."""
        for test in self.running():
            test.control.stop("the API server is shutting down")
        tasks = [t.task for t in self.tests.values() if t.task is not None and not t.task.done()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout)
            for test in self.tests.values():
                if test.task in late and test.process is not None and test.process.returncode is None:
                    test.process.kill()
            if late:
                await asyncio.wait(late, timeout=10.0)
        await self.forks.close()
