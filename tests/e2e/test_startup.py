"""Issue 12, finding 3 (start-up): the workers start while the config is still being read, so
their interpreter and imports overlap the coordinator's. The run's --env-file here is a named
pipe the test writes only once the workers exist (the config itself must be a regular file):
before the fix no worker was spawned until the config was loaded, so this run would never
start. The target counts the run's requests."""

from __future__ import annotations

import os
import time

import psutil

from tests.support import cli_popen


def test_workers_start_before_the_config_is_read(tmp_path, fresh_target):
    fifo = tmp_path / "run.env"
    os.mkfifo(fifo)
    config = tmp_path / "test.yaml"
    config.write_text(f"""
name: startup
settings: {{baseUrl: "${{BASE}}"}}
scenarios:
  s: {{executor: shared-iterations, vus: 2, iterations: 20, requests: [{{url: /}}]}}
""")
    proc = cli_popen("run", str(config), "--env-file", str(fifo), "--workers", "2", "-q", "--no-history")
    try:
        deadline = time.monotonic() + 20
        workers: list = []
        while time.monotonic() < deadline and len(workers) < 2:
            kids = psutil.Process(proc.pid).children(recursive=True)
            workers = [p for p in kids if "lunge_mp.worker" in " ".join(p.cmdline())]
            time.sleep(0.02)
        assert len(workers) == 2, "the workers did not start while the config was unread"
        with open(fifo, "w") as f:      # now the coordinator can read its config
            f.write(f"BASE={fresh_target.url}\n")
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert fresh_target.stats()["requests"] == 20
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_invalid_config_stops_the_early_workers(tmp_path, fresh_target):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nscenarios: {s: {executor: constant-vus}}\n")
    proc = cli_popen("run", str(bad), "--workers", "2", "-q", "--no-history")
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 104, stderr
    assert fresh_target.stats()["requests"] == 0
    assert not [p for p in psutil.process_iter(["cmdline"])
                if "lunge_mp.worker" in " ".join(p.info["cmdline"] or []) and str(proc.pid) in
                " ".join(p.info["cmdline"] or [])]
