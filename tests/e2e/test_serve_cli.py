"""`lunge-mp serve` and `lunge-mp ctl` as real processes: refusals that exit 104 before
listening, and a running test steered from the command line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.support import cli

pytestmark = pytest.mark.timeout(120)


def test_serve_refuses_a_public_address_without_a_token(tmp_path):
    r = cli("serve", "--host", "0.0.0.0", "--port", "0", env={"LUNGE_MP_API_TOKEN": ""})
    assert r.returncode == 104 and "not a loopback address" in r.stderr


def test_serve_refuses_a_token_file_others_can_read(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("t" * 32)
    path.chmod(0o644)
    r = cli("serve", "--token-file", str(path), "--port", "0")
    assert r.returncode == 104 and "chmod 600" in r.stderr and "t" * 32 not in r.stderr


def test_run_dashboard_needs_host_port_and_a_token_off_loopback(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: x\nscenarios:\n  s:\n    executor: constant-vus\n    vus: 1\n    duration: 1s\n"
                      "    requests: [{url: 'http://127.0.0.1:9/'}]\n")
    r = cli("run", str(config), "--dashboard", "0.0.0.0:0", "-q", env={"LUNGE_MP_API_TOKEN": ""})
    assert r.returncode == 104 and "LUNGE_MP_API_TOKEN" in r.stderr
    r = cli("run", str(config), "--dashboard", "127.0.0.1:x", "-q")
    assert r.returncode == 104 and "HOST:PORT" in r.stderr


def test_ctl_steers_a_test_of_a_running_server(fresh_target, tmp_path):
    env = dict(os.environ, LUNGE_MP_STORE=str(tmp_path / "history.db"), PYTHONUNBUFFERED="1")
    err = open(tmp_path / "serve.err", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "serve", "--port", "0", "--workers", "1",
                             "--data-dir", str(tmp_path / "runs")], stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"on (http://127\.0\.0\.1:\d+)/", open(tmp_path / "serve.err").read())):
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.05)
        url = found.group(1)
        config = {"name": "ctl", "scenarios": {"load": {
            "executor": "constant-arrival-rate", "rate": 20, "duration": "60s", "preAllocatedVUs": 2,
            "requests": [{"url": fresh_target.url + "/"}]}}}
        req = urllib.request.Request(url + "/api/v1/tests", data=json.dumps(config).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        tid = json.loads(urllib.request.urlopen(req).read())["id"]
        ctl = ("ctl", "--url", url)
        r = cli(*ctl, "pause")
        assert r.returncode == 0 and r.stdout.strip() == f"{tid}: paused", r.stderr
        r = cli(*ctl, "pause", tid)
        assert r.returncode == 1 and "409" in r.stderr
        assert cli(*ctl, "resume").stdout.strip() == f"{tid}: running"
        deadline = time.monotonic() + 20
        while json.loads(cli(*ctl, "status").stdout)["live"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        r = cli(*ctl, "scale", "load", "--rate", "40")
        assert r.returncode == 0 and "factor 2" in r.stdout, r.stderr
        r = cli(*ctl, "scale", "nope", "--vus", "3")
        assert r.returncode == 1 and "no scenario named 'nope'" in r.stderr
        assert cli(*ctl, "stop").stdout.strip() == f"{tid}: stopping"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        err.close()
    audit = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert [e["action"] for e in audit if e["outcome"] == "ok"] == ["start", "pause", "resume", "scale", "stop"]
