"""API-started tests' coordinators forked from the server's fork server (api/forkserver.py):
two at once with exact counts at the target and a stop; the fork server and its children die
with the server; a lost fork server leaves its children's runs going to their end and the
next test gets a new one; with LUNGE_MP_FORK_SERVER=0 each coordinator is spawned."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from lunge_mp.api import keys
from lunge_mp.api.forkserver import ForkedChild
from tests.integration.api_support import client, open_config, until, wait_final

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(sys.platform != "linux", reason="the fork server is Linux only")]


def _gone(pids: list[int]) -> bool:
    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    return not [p for p in pids if alive(p)]


def _count(results: dict) -> int:
    return results["metrics"]["http_reqs"]["count"]


def test_two_tests_at_once_are_forks_of_the_fork_server_counted_exactly_and_stoppable(fresh_target, tmp_path):
    async def main():
        async with client(tmp_path, max_concurrent=2) as c:
            registry = c.server.app[keys.REGISTRY]
            short = open_config(fresh_target.url, rate=20, duration="3s", name="short")
            long = open_config(fresh_target.url, rate=20, duration="60s", name="long")
            long["scenarios"]["load"]["requests"][0]["url"] = fresh_target.url + "/json"
            ids = []
            for cfg in (short, long):
                r = await c.post("/api/v1/tests", json=cfg)
                assert r.status == 201, await r.text()
                ids.append((await r.json())["id"])
            tests = [registry.get(t) for t in ids]
            await until(lambda: all(t.process is not None for t in tests), what="both coordinators")
            forks = psutil.Process(registry.forks.pid)
            assert forks.ppid() == os.getpid() and "lunge_mp.api.forkserver" in " ".join(forks.cmdline())
            for test in tests:
                assert isinstance(test.process, ForkedChild)
                child = psutil.Process(test.process.pid)
                assert child.ppid() == forks.pid
                assert " ".join(child.cmdline()).strip().endswith(f"-m lunge_mp.api.child {os.getpid()}")
            await until(lambda: psutil.Process(tests[1].process.pid).children(), what="the long test's worker")
            workers = [p.pid for p in psutil.Process(tests[1].process.pid).children()]

            first = await wait_final(c, ids[0])
            assert first["status"] == "passed" and first["exitCode"] == 0, first
            r = await c.post(f"/api/v1/tests/{ids[1]}/stop")
            assert r.status == 200, await r.text()
            second = await wait_final(c, ids[1])
            assert second["status"] == "aborted" and second["exitCode"] == 105, second
            await until(lambda: tests[1].process.returncode is not None, what="the exit status from the fork server")
            assert tests[0].process.returncode == 0 and tests[1].process.returncode == 0
            await until(lambda: _gone(workers), what="the stopped test's worker to exit")

            counts = [_count(await (await c.get(f"/api/v1/tests/{t}/results")).json()) for t in ids]
            by_path = fresh_target.stats()["byPath"]
            assert counts[0] == 60 and by_path["/"] == 60      # 20/s for 3 s, counted at the server
            assert counts[1] > 0 and by_path["/json"] == counts[1]
        assert _gone([forks.pid]), "the fork server ends with the app"
    asyncio.run(main())


def test_a_lost_fork_server_leaves_its_childrens_runs_going_and_the_next_test_gets_a_new_one(fresh_target, tmp_path):
    async def main():
        async with client(tmp_path) as c:
            registry = c.server.app[keys.REGISTRY]
            config = open_config(fresh_target.url, rate=20, duration="4s")
            tid = (await (await c.post("/api/v1/tests", json=config)).json())["id"]
            await until(lambda: fresh_target.stats()["requests"] >= 20, what="the test to send")
            old = registry.forks.pid
            child = registry.get(tid).process.pid
            psutil.Process(old).kill()
            # not tied to the fork server: its run goes on to the end, its counts whole
            view = await wait_final(c, tid)
            assert view["status"] == "passed", view
            await until(lambda: _gone([child]), what="the orphaned child to exit")
            results = await (await c.get(f"/api/v1/tests/{tid}/results")).json()
            assert _count(results) == fresh_target.stats()["requests"] == 80

            fresh_target.reset()
            r = await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=20, duration="2s"))
            tid = (await r.json())["id"]
            assert (await wait_final(c, tid))["status"] == "passed"
            assert registry.forks.pid not in (None, old)
            assert isinstance(registry.get(tid).process, ForkedChild)
            assert _count(await (await c.get(f"/api/v1/tests/{tid}/results")).json()) == 40 \
                == fresh_target.stats()["requests"]
    asyncio.run(main())


def test_the_orphan_of_a_lost_fork_server_can_still_be_signalled(fresh_target, tmp_path):
    """Its replacement never forked it (and would ignore it): the server signals it directly."""
    async def main():
        async with client(tmp_path, max_concurrent=2) as c:
            registry = c.server.app[keys.REGISTRY]
            tid = (await (await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=20))).json())["id"]
            await until(lambda: fresh_target.stats()["requests"] >= 20, what="the test to send")
            old = registry.forks.pid
            psutil.Process(old).kill()
            await until(lambda: registry.forks.pid is None, what="the server to see its fork server gone")
            second = open_config(fresh_target.url, rate=5, duration="2s", name="second")
            tid2 = (await (await c.post("/api/v1/tests", json=second)).json())["id"]
            await until(lambda: isinstance(getattr(registry.get(tid2), "process", None), ForkedChild),
                        what="a new fork server to fork the second")
            assert registry.forks.pid not in (None, old)
            registry.get(tid).process.terminate()
            view = await wait_final(c, tid)
            assert view["status"] == "aborted" and view["exitCode"] == 105, view
            assert (await wait_final(c, tid2))["status"] == "passed"
    asyncio.run(main())


def test_without_the_fork_server_each_coordinator_is_spawned(fresh_target, tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGE_MP_FORK_SERVER", "0")

    async def main():
        async with client(tmp_path) as c:
            registry = c.server.app[keys.REGISTRY]
            r = await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=20, duration="60s"))
            tid = (await r.json())["id"]
            test = registry.get(tid)
            await until(lambda: fresh_target.stats()["requests"] >= 20, what="the test to send")
            assert isinstance(test.process, asyncio.subprocess.Process) and registry.forks.pid is None
            assert psutil.Process(test.process.pid).ppid() == os.getpid()
            assert (await c.post(f"/api/v1/tests/{tid}/stop")).status == 200
            view = await wait_final(c, tid)
            assert view["status"] == "aborted" and view["exitCode"] == 105
            results = await (await c.get(f"/api/v1/tests/{tid}/results")).json()
            assert _count(results) == fresh_target.stats()["requests"]
    asyncio.run(main())


def test_a_killed_server_takes_its_fork_server_children_and_workers_with_it(fresh_target, tmp_path):
    env = dict(os.environ, LUNGE_MP_STORE=str(tmp_path / "history.db"), PYTHONUNBUFFERED="1")
    err = open(tmp_path / "serve.err", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "serve", "--port", "0", "--workers", "1",
                             "--max-concurrent", "2", "--data-dir", str(tmp_path / "runs")],
                            stdout=subprocess.DEVNULL, stderr=err, env=env)
    server = psutil.Process(proc.pid)

    def wait(check, what: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while not (value := check()):
            assert proc.poll() is None or what.startswith("left"), "serve exited"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)
        return value

    def named(module: str) -> list[psutil.Process]:
        found = []
        for p in server.children(recursive=True):
            try:
                if module in " ".join(p.cmdline()):
                    found.append(p)
            except psutil.NoSuchProcess:
                pass
        return found

    try:
        url = wait(lambda: (m := re.search(r"on (http://127\.0\.0\.1:\d+)/", (tmp_path / "serve.err").read_text()))
                   and m.group(1), "serve to listen")
        ids = []
        for _ in range(2):
            req = urllib.request.Request(url + "/api/v1/tests", method="POST",
                                         headers={"Content-Type": "application/json"},
                                         data=json.dumps(open_config(fresh_target.url, rate=15)).encode())
            ids.append(json.loads(urllib.request.urlopen(req).read())["id"])
        (forks,) = wait(lambda: named("lunge_mp.api.forkserver"), "the fork server")
        children = wait(lambda: len(c := named("lunge_mp.api.child")) == 2 and c, "two coordinators")
        assert {c.ppid() for c in children} == {forks.pid} and forks.ppid() == proc.pid
        workers = wait(lambda: len(w := named("lunge_mp.worker")) == 2 and w, "their workers")
        wait(lambda: fresh_target.stats()["requests"] >= 30, "the tests to send")
        family = [p.pid for p in (forks, *children, *workers)]
        proc.kill()
        proc.wait(10)
        wait(lambda: _gone(family), f"left running: {family}", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        err.close()
    total = 0
    for tid in ids:      # each child stopped its run as on Ctrl-C and wrote its results
        path = tmp_path / "runs" / tid / "results.json"
        assert path.exists(), (tmp_path / "serve.err").read_text()[-3000:]
        results = json.loads(path.read_text())
        assert results["status"] == "aborted" and results["exitCode"] == 105
        total += _count(results)
    assert total == fresh_target.stats()["requests"]
