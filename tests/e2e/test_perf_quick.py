"""`lunge-mp perf --url ...`: quick mode without a config file."""

from __future__ import annotations

import pytest

from lunge_mp.config.quick import parse_pattern, parse_stages, quick_config
from tests.support import cli, read_json


def test_rate_mode_runs_the_open_model(tmp_path, fresh_target):
    out = tmp_path / "r.json"
    proc = cli("perf", "--url", f"{fresh_target.url}/json", "--rate", "100", "--duration", "2s",
               "--threshold", "http_req_failed:rate<0.01", "--out", str(out), "--workers", "2", "-q")
    assert proc.returncode == 0, proc.stderr
    r = read_json(out)
    assert r["scenarios"]["quick"]["executor"] == "constant-arrival-rate"
    assert r["metrics"]["http_reqs"]["count"] == 200 == fresh_target.stats()["requests"]


def test_stages_mode_ramps_vus(tmp_path, fresh_target):
    out = tmp_path / "r.json"
    proc = cli("perf", "--url", f"{fresh_target.url}/delay/20", "--stages", "1s:4,1s:4",
               "--out", str(out), "--workers", "2", "-q")
    assert proc.returncode == 0, proc.stderr
    r = read_json(out)
    assert r["scenarios"]["quick"]["executor"] == "ramping-vus" and r["metrics"]["vus_max"] == 4


@pytest.mark.parametrize("args, expected", [
    pytest.param(["--rate", "-4"], "--rate: must be > 0", id="negative-rate"),
    pytest.param(["--stages", "1s"], "DURATION:TARGET", id="bad-stage"),
    pytest.param(["--header", "novalue"], "NAME:VALUE", id="bad-header"),
    pytest.param(["--threshold", "p95<5"], "METRIC:EXPRESSION", id="bad-threshold-flag"),
    pytest.param(["--threshold", "http_req_duration:p95<<5"], "thresholds.http_req_duration", id="bad-threshold"),
])
def test_bad_flags_exit_104_and_send_nothing(fresh_target, args, expected):
    proc = cli("perf", "--url", fresh_target.url + "/", *args)
    assert proc.returncode == 104
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert fresh_target.stats()["requests"] == 0


def test_quick_config_choices():
    assert quick_config("http://h/")["scenarios"]["quick"]["executor"] == "constant-vus"
    assert quick_config("http://h/", pattern="sine:baseRate=5")["scenarios"]["quick"]["pattern"] == \
        {"type": "sine", "baseRate": 5}
    assert parse_stages("30s:10, 1m:0") == [{"duration": "30s", "target": 10}, {"duration": "1m", "target": 0}]
    assert parse_pattern("ramp:startRate=1,endRate=10,rampType=exponential,duration=1m")["rampType"] == "exponential"
