"""The whole engine with real processes: coordinator, 2 uvloop workers, ZeroMQ, the target."""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from tests.support import cli_popen, read_json, run_config, wait_until, write_config


def test_open_model_delivers_the_exact_count_the_server_sees(tmp_path, fresh_target):
    proc, results = run_config(tmp_path, f"""
        name: open-exact
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 500
            duration: 4s
            preAllocatedVUs: 20
            maxVUs: 200
            requests: [{{name: root, url: "/"}}]
        """, "-q", workers=2, history=True)
    assert proc.returncode == 0, proc.stderr
    seen = fresh_target.stats()["requests"]
    assert 1980 <= seen <= 2020
    assert results["metrics"]["http_reqs"]["count"] == seen
    assert results["metrics"]["iterations"]["count"] == seen
    assert results["metrics"]["dropped_iterations"]["count"] == 0
    assert results["efficiency"]["overall"] == 1.0
    assert results["status"] == "passed" and results["exitCode"] == 0
    # both workers took part, and the per-second buckets add up to the total
    assert all(w["cpuUserSeconds"] > 0 for w in results["workers"])
    assert sum(b["requests"] for b in results["buckets"]) == seen
    steady = [b for b in results["buckets"] if 0 <= b["t"] <= 2]
    assert all(abs(b["iterations"] - 500) <= 5 for b in steady), steady
    assert results["metrics"]["schedule_lag"]["count"] == seen
    assert results["metrics"]["http_req_response_time"]["count"] == seen


def test_closed_model_runs_the_asked_vus(tmp_path, fresh_target):
    proc, results = run_config(tmp_path, f"""
        name: closed
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          closed:
            executor: constant-vus
            vus: 20
            duration: 3s
            requests: [{{name: slow, url: "/delay/100"}}]
        """, "-q", workers=2, history=True)
    assert proc.returncode == 0, proc.stderr
    count = results["metrics"]["http_reqs"]["count"]
    # 20 VUs × 3 s ÷ 100 ms is 600 at most; a loaded box starts VUs and answers a little late
    assert 500 <= count <= 630
    assert count == fresh_target.stats()["requests"]
    assert results["metrics"]["vus_max"] == 20
    # the 20 VUs really ran side by side: nearly all were busy whenever a second was sampled
    assert max(b.get("activeVUs", 0) for b in results["buckets"]) >= 18
    d = results["metrics"]["http_req_duration"]
    assert 100 <= d["p50"] < 150


def test_failures_are_classified_and_thresholds_fail_with_99(tmp_path, fresh_target):
    proc, results = run_config(tmp_path, f"""
        name: failing
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          bad:
            executor: constant-arrival-rate
            rate: 50
            duration: 1s
            requests:
              - {{name: unavailable, url: "/status/503"}}
              - name: wrong
                url: "/json"
                assertions: [{{type: body, path: "$.id", condition: eq, value: "7"}}]
        thresholds:
          http_req_failed: ["rate < 0.01"]
        """, workers=2, history=True)
    assert proc.returncode == 99, proc.stderr
    failed = results["metrics"]["http_req_failed"]
    assert failed["byClass"] == {"http_5xx": 50}            # a failed check is not a failed request
    assert "503" in failed["firstError"]["http_5xx"]
    [check] = results["checkResults"]
    assert (check["check"], check["passes"], check["fails"]) == ("body $.id eq 7", 0, 50)
    assert "got 42" in check["firstFailure"]
    assert results["thresholds"][0]["ok"] is False
    assert results["status"] == "failed"
    assert "FAIL" in proc.stdout and "http_req_failed" in proc.stdout


def test_connect_errors_do_not_crash_the_run(tmp_path):
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, results = run_config(tmp_path, f"""
        name: refused
        scenarios:
          s:
            executor: constant-arrival-rate
            rate: 20
            duration: 1s
            requests: [{{url: "http://127.0.0.1:{port}/"}}]
        """, "-q", workers=1, history=True)
    assert proc.returncode == 99, proc.stderr      # the default threshold fails (issue 10 item 9)
    assert results["metrics"]["http_req_failed"]["byClass"] == {"connect": 20}
    assert [(t["expression"], t["default"], t["ok"]) for t in results["thresholds"]] == [("rate<0.01", True, False)]
    # and a warning says why
    assert any(w.startswith("every request failed (20; connect: 20, first: ") for w in results["warnings"])


def _children(proc: psutil.Process) -> list[psutil.Process]:
    def started():
        kids = [p for p in proc.children(recursive=True) if "lunge_mp.worker" in " ".join(p.cmdline())]
        return kids if len(kids) == 2 else None
    return wait_until(started, 15, "2 workers to start")


def _wait_for_traffic(target, at_least: int = 20, timeout: float = 20) -> None:
    wait_until(lambda: target.stats()["requests"] >= at_least, timeout, f"{at_least} requests at the target")


def _long_config(tmp_path, url: str, path: str = "/delay/50"):
    return write_config(tmp_path, f"""
        name: long
        settings: {{baseUrl: "{url}"}}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 100
            duration: 60s
            gracefulStop: 5s
            requests: [{{url: "{path}"}}]
        """)


def test_sigint_stops_gracefully_writes_results_and_exits_105(tmp_path, fresh_target):
    out = tmp_path / "results.json"
    proc = cli_popen("run", str(_long_config(tmp_path, fresh_target.url)), "--out", str(out), "--workers", "2")
    workers = _children(psutil.Process(proc.pid))
    _wait_for_traffic(fresh_target, 50)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 105, stderr
    results = read_json(out)
    assert results["status"] == "aborted" and results["exitCode"] == 105
    assert "signal" in results["abortReason"]
    # graceful: every started iteration finished, and the count is exactly what the server saw
    assert results["metrics"]["interrupted_iterations"]["count"] == 0
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"] > 20
    assert "Traceback" not in stderr and "ABORTED" in stdout
    psutil.wait_procs(workers, timeout=5)
    assert not any(w.is_running() for w in workers)


def test_second_sigint_stops_at_once_and_still_writes_results(tmp_path, fresh_target):
    out = tmp_path / "results.json"
    config = _long_config(tmp_path, fresh_target.url, path="/delay/20000")
    config.write_text(config.read_text().replace("gracefulStop: 5s", "gracefulStop: 60s"))
    proc = cli_popen("run", str(config), "--out", str(out), "--workers", "2", "-q")
    workers = _children(psutil.Process(proc.pid))
    _wait_for_traffic(fresh_target)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert proc.returncode == 105
    results = read_json(out)
    assert results["metrics"]["interrupted_iterations"]["count"] > 0
    psutil.wait_procs(workers, timeout=5)
    assert not any(w.is_running() for w in workers)


def test_killing_the_coordinator_leaves_no_worker_behind(tmp_path, fresh_target):
    proc = cli_popen("run", str(_long_config(tmp_path, fresh_target.url)), "--workers", "2", "-q")
    workers = _children(psutil.Process(proc.pid))
    _wait_for_traffic(fresh_target)
    proc.kill()
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=6)
    assert not alive, f"workers still running: {[p.pid for p in alive]}"
    # and they stopped sending
    before = fresh_target.stats()["requests"]
    time.sleep(0.5)
    assert fresh_target.stats()["requests"] == before
