"""Fault tolerance with real processes: a worker killed or stopped mid-run, bad peers on the
coordinator's socket. (Killing the coordinator is in test_engine.py.)"""

from __future__ import annotations

import glob
import os
import signal
import tempfile
import time

import psutil
import zmq

from lunge_mp.protocol import messages as m
from tests.support import Running, cli_popen, read_json, wait_until, write_config


def _workers(proc, count: int = 2, timeout: float = 15) -> list[psutil.Process]:
    parent = psutil.Process(proc.pid)

    def started():
        kids = [p for p in parent.children(recursive=True) if "lunge_mp.worker" in " ".join(p.cmdline())]
        # by --id; a forked worker's title is one string in its cmdline (coordinator/forking.py)
        return (sorted(kids, key=lambda p: int(" ".join(p.cmdline()).split()[-1]))
                if len(kids) == count else None)
    return wait_until(started, timeout, f"{count} workers to start")


def _wait_requests(target, at_least: int, timeout: float = 20, path: str | None = None) -> None:
    """Until the target has counted `at_least` requests (to `path`, when given)."""
    def count():
        stats = target.stats()
        return stats["requests"] if path is None else stats["byPath"].get(path, 0)
    wait_until(lambda: count() >= at_least, timeout, f"{at_least} requests at the target")


def _settled(target, path: str, quiet: float = 0.5, timeout: float = 20) -> int:
    """Until the target's count of `path` has not moved for `quiet` seconds; that count."""
    last = {"n": -1, "since": time.monotonic()}

    def still():
        n = target.stats()["byPath"].get(path, 0)
        if n != last["n"]:
            last.update(n=n, since=time.monotonic())
        return n if time.monotonic() - last["since"] >= quiet else None
    return wait_until(still, timeout, f"the requests to {path} to stop")


def _config(tmp_path, url: str, seconds: int, closed_vus: int = 0, options: str = "{}"):
    closed = f"""
          closed:
            executor: constant-vus
            vus: {closed_vus}
            duration: {seconds}s
            gracefulStop: 1s
            requests: [{{url: "/delay/100"}}]""" if closed_vus else ""
    return write_config(tmp_path, f"""
        name: faults
        settings: {{baseUrl: "{url}"}}
        options: {options}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 200
            duration: {seconds}s
            preAllocatedVUs: 20
            maxVUs: 100
            gracefulStop: 1s
            requests: [{{url: "/"}}]{closed}
        """)


def test_a_worker_killed_with_sigkill_is_lost_and_the_other_takes_its_share(tmp_path, fresh_target):
    out = tmp_path / "results.json"
    proc = cli_popen("run", str(_config(tmp_path, fresh_target.url, 5, closed_vus=4)), "--out", str(out),
                     "--workers", "2", "-q", "--no-history")
    workers = _workers(proc)
    _wait_requests(fresh_target, 300)
    killed_at = time.monotonic()
    workers[1].send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert time.monotonic() - killed_at < 15
    results = read_json(out)
    lost = results["workers"][1]
    assert lost["lostAt"] is not None and lost["error"] == "killed by SIGKILL"
    assert results["workers"][0]["lostAt"] is None
    assert any(w.startswith("worker 1 ") and "lost at" in w and "SIGKILL" in w for w in results["warnings"])
    # lost at most 3 s after the kill (here: at once, its process is gone)
    first_request_t = min(b["t"] for b in results["buckets"] if b["requests"])
    assert lost["lostAt"] >= first_request_t
    # what it reported before is kept, and nothing was counted that the server did not see
    assert 0 < results["metrics"]["http_reqs"]["count"] <= fresh_target.stats()["requests"]
    after = [b for b in results["buckets"] if lost["lostAt"] + 1 <= b["t"] <= 3]
    assert after, results["buckets"]
    for b in after:   # the open rate and the closed VUs are all on worker 0 now
        assert abs(b["byScenario"]["open"]["iterations"] - 200) <= 6, b
        assert b["byScenario"]["closed"]["vus"] == 4, b
    assert results["efficiency"]["overall"] >= 0.95


def test_a_stopped_worker_is_lost_and_when_resumed_rejoins_without_double_counting(tmp_path, fresh_target):
    out = tmp_path / "results.json"
    # the arrivals dealt to it in its first 1.5 s of silence never run (dropped as behind when
    # it wakes): ~10% of this run, under the default minEfficiency (that run would exit 113)
    config = _config(tmp_path, fresh_target.url, 8, options="{minEfficiency: 0.5}")
    run = Running("run", str(config), "--out", str(out), "--workers", "2", "--no-history")
    workers = _workers(run)
    _wait_requests(fresh_target, 200)
    workers[1].send_signal(signal.SIGSTOP)
    run.wait_for_line("worker 1 (pid", timeout=15)   # declared lost after 3 s of silence
    workers[1].send_signal(signal.SIGCONT)
    code, stdout, stderr = run.finish(timeout=30)
    assert code == 0, stderr
    results = read_json(out)
    lost = results["workers"][1]
    assert lost["lostAt"] is not None and lost["error"].startswith("silent for")
    assert lost["rejoinedAt"] is not None and lost["lostAt"] < lost["rejoinedAt"] < 7.5, lost
    assert results["workers"][0]["lostAt"] is None and results["workers"][0]["rejoinedAt"] is None
    assert any("lost at" in w and "silent for" in w for w in results["warnings"])
    assert any(f"worker 1 was lost at {lost['lostAt']:.1f}s (silent) and rejoined at {lost['rejoinedAt']:.1f}s"
               in w for w in results["warnings"]), results["warnings"]
    assert not any("spoke again" in w or "after it was declared lost" in w for w in results["warnings"])
    # every report merged exactly once: what lunge_mp counted is what the server saw
    counted = results["metrics"]["http_reqs"]["count"]
    seen = fresh_target.stats()["requests"]
    assert counted == seen, (counted, seen)
    assert results["metrics"]["iterations"]["count"] <= sum(results["arrivalsSent"].values())
    assert results["reportGaps"] == []
    # its later reports account for what it was handed (the stale arrivals too: dropped as behind)
    assert lost["arrivalsUnaccounted"] == 0 and results["workers"][0]["arrivalsUnaccounted"] == 0
    assert not any("arrivals handed to it not accounted for" in w for w in results["warnings"])
    assert results["metrics"]["dropped_iterations"]["byCause"]["behind"] >= 50, results["metrics"]
    assert sum(w["arrivalsAssigned"] for w in results["workers"]) == sum(results["arrivalsSent"].values())
    # it got arrivals after rejoining: before it was lost it can have had its half of the
    # arrivals up to lostAt + the lookahead at most
    assert lost["arrivalsAssigned"] > 100 * (lost["lostAt"] + 0.25) + 100, lost
    # no burst when it woke: the arrivals it held were long late and were dropped, not started
    per_second = fresh_target.stats()["perSecond"]
    assert max(per_second.values()) <= 300, per_second



def test_a_worker_rejoining_after_its_scenario_ended_ends_it_at_once(tmp_path, fresh_target):
    """Stopped across the end of scenario a (sequential: b starts meanwhile), resumed during b:
    it is sent a's end (deadline past) and stops a's VUs at once, and gets its share of b."""
    out = tmp_path / "results.json"
    config = write_config(tmp_path, f"""
        name: rejoin-after-end
        settings: {{baseUrl: "{fresh_target.url}"}}
        options: {{sequential: true, minEfficiency: 0.5}}
        scenarios:
          a:
            executor: constant-vus
            vus: 2
            duration: 5s
            gracefulStop: 500ms
            requests: [{{url: "/delay/100"}}]
          b:
            executor: constant-vus
            vus: 2
            duration: 4s
            gracefulStop: 500ms
            requests: [{{url: "/delay/101"}}]
        """)
    run = Running("run", str(config), "--out", str(out), "--workers", "2", "--no-history")
    workers = _workers(run)
    _wait_requests(fresh_target, 10)
    workers[1].send_signal(signal.SIGSTOP)
    # lost after 3 s of silence, and a ends (at 5 s) while it is lost: b's requests come
    run.wait_for_line("worker 1 (pid", timeout=15)
    _wait_requests(fresh_target, 1, timeout=15, path="/delay/101")
    workers[1].send_signal(signal.SIGCONT)
    code, stdout, stderr = run.finish(timeout=30)
    assert code == 0, stderr
    results = read_json(out)
    lost, windows = results["workers"][1], results["scenarioWindows"]
    assert None not in (lost["lostAt"], lost["rejoinedAt"], windows["a"]["scheduleEnd"],
                        windows["b"]["scheduleEnd"]), (lost, windows, results["warnings"])
    assert lost["lostAt"] < windows["a"]["scheduleEnd"] < lost["rejoinedAt"] < windows["b"]["scheduleEnd"], \
        (lost, windows)
    assert windows["a"]["end"] <= windows["a"]["scheduleEnd"] + 1.0, windows   # not held up by it
    # a's VUs on the rejoined worker stopped when it was told a had ended: no a request after
    after = [b for b in results["buckets"] if b["t"] >= lost["rejoinedAt"] + 1]
    assert after and all(b["byScenario"].get("a", {}).get("requests", 0) == 0 for b in after), after
    # it took its share of b (started while it was lost): still 2 VUs in all, b ran on
    during_b = [b for b in after if b["t"] + 1 <= windows["b"]["scheduleEnd"]]
    assert during_b and all(b["byScenario"]["b"]["vus"] == 2 for b in during_b), during_b
    assert all(b["byScenario"]["b"]["requests"] > 0 for b in during_b), during_b
    # nothing counted twice; the server also saw the requests interrupted at a's end (at most
    # one per VU of a on it)
    counted, seen = results["metrics"]["http_reqs"]["count"], fresh_target.stats()["requests"]
    interrupted = results["metrics"]["interrupted_iterations"]["count"]
    assert counted <= seen <= counted + interrupted and interrupted <= 2, (counted, seen, interrupted)
    assert results["reportGaps"] == []
    assert all(w["arrivalsUnaccounted"] == 0 for w in results["workers"])
    assert not any("not accounted for" in w or "spoke again" in w for w in results["warnings"]), \
        results["warnings"]

def _endpoint(coordinator_pid: int, timeout: float = 10) -> str:
    pattern = os.path.join(tempfile.gettempdir(), f"lunge-mp-{coordinator_pid}-*", "*.sock")
    found = wait_until(lambda: glob.glob(pattern), timeout, "the coordinator's socket")
    return f"ipc://{found[0]}"


def test_bad_peers_and_frames_are_refused_and_the_run_goes_on(tmp_path, fresh_target):
    config = write_config(tmp_path, f"""
        name: bad peers
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 100
            duration: 2s
            preAllocatedVUs: 10
            maxVUs: 50
            requests: [{{url: "/"}}]
        """)
    out = tmp_path / "results.json"
    proc = cli_popen("run", str(config), "--out", str(out), "--workers", "1", "-q", "--no-history")
    endpoint = _endpoint(proc.pid)
    _wait_requests(fresh_target, 20)
    ctx = zmq.Context()
    peers = []
    try:
        for identity in (b"intruder", b"w7", b"w0x", None):
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 1000)
            if identity is not None:
                sock.setsockopt(zmq.IDENTITY, identity)
            sock.connect(endpoint)
            peers.append(sock)
        intruder, w7, w0x, anonymous = peers
        intruder.send(b"\x00garbage\xff" * 10)
        intruder.send(m.encode(m.Hello(worker=0, pid=1, protocol=99)))
        w7.send(m.encode(m.Report(worker=7, run_id="another-run", seq=0, bucket=0)))
        w0x.send(m.encode(m.Bye(worker=0, reports=0, error="impostor")))
        anonymous.send(b"\x93\x01\x02")
        anonymous.send_multipart([b"two", b"frames"])
        anonymous.send(b"x" * (64 * 2**20 + 1))      # over the coordinator's MAXMSGSIZE
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        for sock in peers:
            sock.close(linger=0)
        ctx.term()
    assert proc.returncode == 0, stderr
    results = read_json(out)
    refused = [w for w in results["warnings"] if w.startswith("refused: ")]
    assert any("unknown peer b'intruder'" in w for w in refused), refused
    assert any("unknown peer b'w7'" in w for w in refused), refused
    assert any("unknown peer b'w0x'" in w for w in refused), refused
    assert any("a message of 3 frames" in w for w in refused), refused
    # the run itself is untouched: the exact count, seen by the server
    assert results["metrics"]["http_reqs"]["count"] == 200 == fresh_target.stats()["requests"]
    assert results["workers"][0]["lostAt"] is None


def _iterations_config(tmp_path, url: str, executor: str, vus: int, iterations: int):
    return write_config(tmp_path, f"""
        name: iteration-faults
        settings: {{baseUrl: "{url}"}}
        scenarios:
          it:
            executor: {executor}
            vus: {vus}
            iterations: {iterations}
            maxDuration: 30s
            requests: [{{url: "/delay/20"}}]
        """)


def _kill_mid_iterations(tmp_path, target, executor: str, vus: int, iterations: int, at: int):
    out = tmp_path / "results.json"
    proc = cli_popen("run", str(_iterations_config(tmp_path, target.url, executor, vus, iterations)),
                     "--out", str(out), "--workers", "2", "-q", "--no-history")
    workers = _workers(proc)
    _wait_requests(target, at)
    workers[1].send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=40)
    assert proc.returncode == 0, stderr
    return read_json(out)


def _moved(results) -> int:
    moved = [w for w in results["warnings"] if w.startswith("worker 1 was lost with ") and "moved to worker 0" in w]
    assert len(moved) == 1, results["warnings"]
    return int(moved[0].split("its remaining ")[1].split(" iterations")[0].replace(",", ""))


def test_a_killed_workers_remaining_shared_iterations_move_to_the_other(tmp_path, fresh_target):
    # 300 over 2 workers (1 VU each) at ~20 ms: ~50 it/s each, killed at ~1.7 s, after its
    # first report (at 1 s): part of its 150 is accounted for, the rest moves
    results = _kill_mid_iterations(tmp_path, fresh_target, "shared-iterations", 2, 300, 170)
    assert results["workers"][1]["error"] == "killed by SIGKILL"
    moved = _moved(results)
    assert 0 < moved < 150
    assert results["scenarios"]["it"]["iterations"]["count"] == 300
    seen = fresh_target.stats()["byPath"]["/delay/20"]
    # those it ran after its last report or had in flight run again: at most `moved` of them
    assert 300 <= seen <= 300 + moved, (seen, moved)


def test_a_killed_workers_remaining_per_vu_iterations_move_to_the_other(tmp_path, fresh_target):
    # 2 VUs × 120 = 240, 1 VU per worker, killed at ~1.5 s
    results = _kill_mid_iterations(tmp_path, fresh_target, "per-vu-iterations", 2, 120, 150)
    moved = _moved(results)
    assert 0 < moved < 120
    assert results["scenarios"]["it"]["iterations"]["count"] == 240
    seen = fresh_target.stats()["byPath"]["/delay/20"]
    assert 240 <= seen <= 240 + moved, (seen, moved)


def test_a_killed_workers_iterations_restart_on_a_worker_that_had_finished(tmp_path, fresh_target):
    # 100 over 2 workers (1 VU each, ~50 it/s): worker 1 is stopped early, worker 0 finishes its
    # 50 and says done, then worker 1 is killed (before it was silent long enough to be lost)
    out = tmp_path / "results.json"
    proc = cli_popen("run", str(_iterations_config(tmp_path, fresh_target.url, "shared-iterations", 2, 100)),
                     "--out", str(out), "--workers", "2", "-q", "--no-history")
    workers = _workers(proc)
    _wait_requests(fresh_target, 30)
    workers[1].send_signal(signal.SIGSTOP)
    # worker 0 runs the rest of its 50 (~1 s) and says done: then the target sees nothing more
    _settled(fresh_target, "/delay/20")
    workers[1].send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=40)
    assert proc.returncode == 0, stderr
    results = read_json(out)
    assert results["workers"][1]["error"] == "killed by SIGKILL", results["workers"][1]
    moved = _moved(results)
    assert 0 < moved <= 50
    assert results["scenarios"]["it"]["iterations"]["count"] == 100
    assert 100 <= fresh_target.stats()["byPath"]["/delay/20"] <= 100 + moved
