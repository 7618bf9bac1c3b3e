"""`lunge-mp selftest` (issue 12, seed 002): it measures this machine against the embedded target
and stores the figures beside the history store; `validate` and `run` then warn before the start
when a scenario asks a worker for more than that, naming the scenario."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lunge_mp import capacity
from tests.support import cli, write_config


def _store() -> Path:
    return Path(os.environ["LUNGE_MP_STORE"]).parent / "selftest.json"


def test_selftest_measures_and_stores(tmp_path):
    result = cli("selftest", "--workers", "1", "--seconds", "0.5", timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(_store().read_text())
    assert doc["workers"] == 1 and doc["tried"] and doc["tried"][0]["rate"] == 2500
    assert doc["closedRequestsPerSecondPerCore"] > 100
    assert doc["openRatePerWorker"] == doc["openRateHeld"]
    assert "stored in" in result.stdout


def _config(tmp_path, url: str, rate: int):
    return write_config(tmp_path, f"""
        name: cap
        settings: {{baseUrl: "{url}"}}
        scenarios:
          small: {{executor: constant-arrival-rate, rate: 10, duration: 1s, requests: [{{url: /}}]}}
          big: {{executor: constant-arrival-rate, rate: {rate}, duration: 1s, requests: [{{url: /}}]}}
        """, name=f"cap-{rate}.yaml")


def test_run_and_validate_warn_when_a_scenario_asks_for_more(tmp_path, fresh_target):
    capacity.save({"measuredAt": "2026-12-06T00:00:00+00:00", "workers": 2, "openRateHeld": 100,
                   "openRatePerWorker": 50, "closedRequestsPerSecondPerCore": 1000})
    result = cli("validate", str(_config(tmp_path, fresh_target.url, 400)))
    assert result.returncode == 0, result.stderr
    assert "scenario 'big' asks for up to 400 iterations/s" in result.stderr
    assert "'small'" not in result.stderr
    result = cli("run", str(_config(tmp_path, fresh_target.url, 150)), "--workers", "2", "--no-history")
    assert result.returncode == 0, result.stderr
    assert "scenario 'big' asks for up to 150 iterations/s, 75 a worker over 2 worker(s)" in result.stderr
    ok = cli("validate", str(_config(tmp_path, fresh_target.url, 40)))
    assert ok.returncode == 0 and "asks for" not in ok.stderr     # at most 40 a worker: within 50
