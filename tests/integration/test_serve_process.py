"""Each API-started test runs in a process of its own (api/child.py, api/relay.py): a crash
of that process marks the test failed with what was streamed, and a crash of the server
leaves nothing running (the child stops its run, writes its results and exits)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from lunge_mp.api import keys
from tests.integration.api_support import client, open_config, status, until, wait_final

pytestmark = pytest.mark.timeout(180)


def _gone(pids: list[int]) -> bool:
    return not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def test_a_test_runs_in_its_own_process_and_its_crash_marks_it_failed(fresh_target, tmp_path):
    async def main():
        async with client(tmp_path) as c:
            tid = (await (await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=40))).json())["id"]
            ws = await c.ws_connect(f"/api/v1/load-test/stream/{tid}")
            await until(lambda: _live_t(c, tid, 2), what="two streamed seconds")
            test = c.server.app[keys.REGISTRY].get(tid)
            child = psutil.Process(test.process.pid)
            forks = c.server.app[keys.REGISTRY].forks.pid     # forked from the fork server, if there is one
            assert child.pid != os.getpid() and child.ppid() == (forks or os.getpid())
            workers = [p.pid for p in child.children()]
            assert workers, "the child runs the test's workers"
            child.kill()
            view = await wait_final(c, tid)
            assert view["status"] == "failed" and view["exitCode"] == 1
            assert "killed by SIGKILL" in view["error"], view["error"]
            kinds = []
            while "completion" not in kinds:
                kinds.append(json.loads((await ws.receive(timeout=10)).data)["type"])
            results = await (await c.get(f"/api/v1/tests/{tid}/results")).json()
            assert results["partial"] is True and results["status"] == "failed"
            assert len(results["seconds"]) >= 2 and results["totals"]["requests"] > 0
            await until(lambda: _gone(workers), what="the crashed run's workers to exit")
            # the server goes on: the next test starts (one at a time: the crashed one is over)
            r = await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=20, duration="2s"))
            assert r.status == 201, await r.text()
            assert (await wait_final(c, (await r.json())["id"]))["status"] == "passed"
    asyncio.run(main())


async def _live_t(c, tid: str, t: int) -> bool:
    live = (await status(c, tid))["live"]
    return live is not None and live["t"] >= t


def test_a_killed_server_leaves_no_process_and_the_run_writes_its_results(fresh_target, tmp_path):
    env = dict(os.environ, LUNGE_MP_STORE=str(tmp_path / "history.db"), PYTHONUNBUFFERED="1")
    err = open(tmp_path / "serve.err", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "serve", "--port", "0", "--workers", "1",
                             "--data-dir", str(tmp_path / "runs")], stdout=subprocess.DEVNULL, stderr=err, env=env)
    server = psutil.Process(proc.pid)
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"on (http://127\.0\.0\.1:\d+)/", open(tmp_path / "serve.err").read())):
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.05)
        url = found.group(1)
        req = urllib.request.Request(url + "/api/v1/tests", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps(open_config(fresh_target.url, rate=30)).encode())
        tid = json.loads(urllib.request.urlopen(req).read())["id"]
        deadline = time.monotonic() + 30
        while fresh_target.stats()["requests"] < 30 or len(server.children(recursive=True)) < 2:
            assert time.monotonic() < deadline, "the test did not start"
            time.sleep(0.05)
        family = [p.pid for p in server.children(recursive=True)]     # the run's process and its worker
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 60
        while not _gone(family):
            assert time.monotonic() < deadline, f"left running: {family}"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        err.close()
    path = tmp_path / "runs" / tid / "results.json"
    assert path.exists(), (sorted(p.name for p in path.parent.iterdir()), (tmp_path / "serve.err").read_text()[-3000:])
    results = json.loads(path.read_text())
    assert results["status"] == "aborted" and results["exitCode"] == 105
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"]
