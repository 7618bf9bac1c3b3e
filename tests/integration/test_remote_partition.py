"""A remote worker cut off from its coordinator but not from the target parks its closed-model
VUs after LOST_AFTER_S of silence (worker/parking.py), so its share does not run twice while
the coordinator has given it to the others; and when the path is back it runs as many VUs as
the coordinator now gives it. Real processes on 127.0.0.1: the coordinator (`run --listen`),
two remote workers (one straight, one through a relay the test cuts: tests/pause_relay.py,
one way, both ways, the other way), and the embedded target counting what reached it.

The target tells the workers apart by path: each request goes to `/vu/{{vu}}`, and a VU's id
says its worker (worker w numbers its VUs from 1 + w·1,000,000, docs/CONFIG.md); the target
answers 404, which the config expects."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from lunge_mp.protocol.liveness import LOST_AFTER_S
from tests.pause_relay import PauseRelay
from tests.support import read_json, wait_until, write_config

MARGIN_S = 1.5          # after the silence limit: the park's check, iterations in flight, a busy box
QUIET_S = 1.0           # a worker's count unchanged this long: it sends nothing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _popen(err: Path, *args: str) -> subprocess.Popen:
    with open(err, "w") as f:
        return subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=f, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _per_worker(target, worker: int) -> int:
    """Requests the target counted from worker `worker`'s VUs."""
    by_path = target.stats()["byPath"]
    return sum(n for path, n in by_path.items()
               if path.startswith("/vu/") and (int(path[4:]) - 1) // 1_000_000 == worker)


def _stopped_after_cut(read, timeout: float, also=lambda: True) -> float:
    """Call right after a cut. Watches `read()` until it has not changed for QUIET_S (and
    `also()` holds): seconds from the cut to its last change."""
    cut_at = time.monotonic()
    value, changed = read(), cut_at
    while time.monotonic() < cut_at + timeout:
        time.sleep(0.1)
        now_value = read()
        if now_value != value:
            value, changed = now_value, time.monotonic()
        elif time.monotonic() - changed >= QUIET_S and also():
            return changed - cut_at
    raise AssertionError(f"the cut-off worker was still sending {timeout:g} s after the cut")


def test_a_cut_off_worker_parks_its_vus_and_runs_what_the_coordinator_gives_it_back(tmp_path, fresh_target):
    config = write_config(tmp_path, f"""
        name: partition
        settings: {{baseUrl: "{fresh_target.url}", expectedStatuses: [404]}}
        scenarios:
          steady:
            executor: constant-vus
            vus: 4
            duration: 60s
            gracefulStop: 2s
            pacing: {{type: constant, duration: 20ms}}
            requests: [{{url: "/vu/{{{{vu}}}}"}}]
        """)
    port, out = _free_port(), tmp_path / "results.json"
    errs = {name: tmp_path / f"{name}.err" for name in ("coordinator", "a", "b")}
    coordinator = _popen(errs["coordinator"], "run", str(config), "--listen", f"tcp://127.0.0.1:{port}",
                         "--remote-workers", "2", "--insecure", "--out", str(out), "--no-history", "--wait", "30s")
    procs, relay = [coordinator], PauseRelay(("127.0.0.1", port))

    def said(name: str, text: str) -> bool:
        return text in errs[name].read_text()
    try:
        wait_until(lambda: said("coordinator", "listening on"), 20, "the coordinator to listen")
        for name, via in (("a", port), ("b", relay.port)):
            procs.append(_popen(errs[name], "worker", "--connect", f"tcp://127.0.0.1:{via}", "--insecure",
                                "--workers", "1", "--id", name, "--wait", "30s"))
        joined = wait_until(lambda: re.search(r"joined run \w+ as worker (\d+)", errs["b"].read_text()), 30,
                            "worker b to join")
        b, a = int(joined.group(1)), 1 - int(joined.group(1))

        def b_count() -> int:
            return _per_worker(fresh_target, b)
        wait_until(lambda: b_count() > 50 and _per_worker(fresh_target, a) > 50, 20, "traffic from both", every=0.1)

        # 1. only the coordinator's messages are cut: it hears b and never takes it for lost,
        # so it re-splits nothing; b hears nothing, parks, and when it hears again asks for its
        # share, which it is sent again (the order where no SetVUs would come by itself)
        relay.cut(up=False, down=True)
        stopped = _stopped_after_cut(b_count, LOST_AFTER_S + MARGIN_S + 4)
        assert stopped < LOST_AFTER_S + MARGIN_S, stopped
        assert said("b", "closed-model VUs parked") and not said("coordinator", ") lost at")
        parked = b_count()
        relay.restore()
        wait_until(lambda: b_count() > parked + 20, 10, "b's VUs to run again", every=0.1)
        assert said("b", "scenario steady unparked") and not said("coordinator", ") lost at")

        # 2. cut both ways: the coordinator takes b for lost and gives its VUs to a; b parks its
        # own, and sends nothing more while a runs them. When the path is back, b hears the
        # SetVUs of 0 its loss queued, then rejoins and gets its share of the new split
        relay.cut()
        stopped = _stopped_after_cut(b_count, LOST_AFTER_S + 10, lambda: said("coordinator", ") lost at"))
        assert stopped < LOST_AFTER_S + MARGIN_S, stopped
        a_then = _per_worker(fresh_target, a)
        wait_until(lambda: _per_worker(fresh_target, a) > a_then + 50, 10, "a to run on", every=0.1)
        parked = b_count()
        relay.restore()         # b rejoins and is given its share of the new split
        wait_until(lambda: said("coordinator", "rejoined"), 10, "b to rejoin")
        wait_until(lambda: b_count() > parked + 20, 10, "b's VUs to run again", every=0.1)

        # 3. only b's messages are cut: the coordinator takes it for lost, and b, which still
        # hears it, is told at once to run no VUs (it would park only 3 s after the coordinator
        # stopped speaking to it)
        relay.cut(up=True, down=False)
        stopped = _stopped_after_cut(b_count, LOST_AFTER_S + 10,
                                     lambda: errs["coordinator"].read_text().count(") lost at") == 2)
        assert stopped < LOST_AFTER_S + MARGIN_S, stopped
        parked = b_count()
        relay.restore()
        wait_until(lambda: errs["coordinator"].read_text().count("rejoined") == 2, 10, "b to rejoin again")
        wait_until(lambda: b_count() > parked + 20, 10, "b's VUs to run again", every=0.1)

        coordinator.send_signal(signal.SIGINT)       # enough seen: stop (gracefully)
        coordinator.wait(timeout=60)
        for worker in procs[1:]:
            worker.wait(timeout=30)
    finally:
        relay.close()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    err = errs["coordinator"].read_text()
    assert coordinator.returncode == 105, err           # stopped by a signal
    assert all(p.returncode == 0 for p in procs[1:]), errs["b"].read_text()
    results = read_json(out)
    by_id = {w["id"]: w for w in results["workers"]}
    assert by_id[b]["lostAt"] is not None and by_id[b]["rejoinedAt"] is not None, by_id[b]
    assert by_id[a]["lostAt"] is None
    # every request that reached the target is in the results, none twice, none missing:
    # nothing is unaccounted (b's reports all came in after the path was back)
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"]
    assert results["reportGaps"] == [] and by_id[b]["arrivalsUnaccounted"] == 0
    assert results["metrics"]["interrupted_iterations"]["count"] <= 4     # at most the stop's in flight
