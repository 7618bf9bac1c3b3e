"""Issue 12 (start-up): the CLI forks its workers after the imports both sides need
(coordinator/forking.py). A forked worker must look and behave as a spawned one: a direct child
of the CLI titled `python -m lunge_mp.worker ... --id N`, exact counts at the server, one copy of
the CLI's output, a Ctrl-C to the whole process group stopping the run gracefully, and no worker
left afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from tests.support import read_json


def _workers_of(pid: int, want: int, within_s: float = 20) -> list[psutil.Process]:
    deadline = time.monotonic() + within_s
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and len(workers) < want:
        try:
            kids = psutil.Process(pid).children()
            workers = [p for p in kids if "lunge_mp.worker" in " ".join(p.cmdline())]
        except psutil.Error:
            pass
        time.sleep(0.02)
    return workers


def test_forked_workers_run_the_exact_load_and_leave(tmp_path, fresh_target):
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "perf", "--url", fresh_target.url + "/delay/50",
                             "--iterations", "40", "--vus", "2", "--workers", "2", "--no-history", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        workers = _workers_of(proc.pid, 2)
        # the title is one string in /proc/PID/cmdline (setproctitle), as `ps` and pgrep -f show it
        args = [" ".join(p.cmdline()).split() for p in workers]
        assert sorted(a[-1] for a in args) == ["0", "1"] and all(a[1:3] == ["-m", "lunge_mp.worker"] for a in args)
        assert all(p.ppid() == proc.pid for p in workers)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert fresh_target.stats()["requests"] == 40
    assert read_json(out)["metrics"]["iterations"]["count"] == 40
    assert stdout.count("written: ") == 1      # the summary once: no buffered output copied into a fork
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive


def test_ctrl_c_to_the_process_group_stops_gracefully(tmp_path, fresh_target):
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "perf", "--url", fresh_target.url + "/delay/20",
                             "--vus", "2", "--duration", "30s", "--workers", "2", "-q", "--no-history",
                             "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        workers = _workers_of(proc.pid, 2)
        assert len(workers) == 2
        deadline = time.monotonic() + 30
        while fresh_target.stats()["requests"] < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)       # as a terminal's Ctrl-C: the CLI and its workers
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 105, stderr
    results = read_json(out)
    assert not any(w.get("lost") for w in results["workers"])     # the workers ignored the SIGINT
    assert results["metrics"]["iterations"]["count"] + results["metrics"]["iterations"].get("interrupted", 0) >= 20
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive


def test_workers_leave_when_the_cli_dies_before_it_binds(tmp_path, fresh_target):
    # the CLI blocks reading its --env-file (a named pipe nobody writes), so it never binds; its
    # workers, up and waiting to say Hello, must notice its death by its pid and leave, even
    # when the pipe their stderr goes to has no reader left (their parting line cannot be written)
    fifo = tmp_path / "run.env"
    os.mkfifo(fifo)
    config = tmp_path / "test.yaml"
    config.write_text("name: x\nsettings: {baseUrl: \"${BASE}\"}\n"
                      "scenarios: {s: {executor: shared-iterations, vus: 1, iterations: 1, requests: [{url: /}]}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "run", str(config), "--env-file", str(fifo),
                             "--workers", "2", "-q", "--no-history"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = _workers_of(proc.pid, 2)
    try:
        assert len(workers) == 2
        proc.kill()
        proc.wait(timeout=10)
        proc.stderr.close()     # nobody reads what they print now: a write fails (EPIPE)
        proc.stdout.close()
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, "workers outlived a coordinator that died before binding"
    finally:
        for p in workers:
            if p.is_running():
                p.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert fresh_target.stats()["requests"] == 0
