"""The v1 example shipped in configs/ runs as a functional suite (`lunge-mp test`) and as a
load test (`perf -s`), against the embedded target."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import cli

EXAMPLE = str(Path(__file__).resolve().parents[2] / "configs" / "lunge-v1.json")


def test_example_suite_as_functional_tests(fresh_target, tmp_path):
    junit = tmp_path / "junit.xml"
    proc = cli("test", "-c", EXAMPLE, "-e", "local", "-s", "smoke", "--junit", str(junit),
               env={"BASE_URL": fresh_target.url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED: suite smoke in local: 3/3 tests passed, 10/10 assertions passed, 3 requests" in proc.stdout
    assert "· sent   health" in proc.stdout
    assert 'failures="0"' in junit.read_text()


def test_example_suite_as_load_test(fresh_target, tmp_path):
    out = tmp_path / "results.json"
    proc = cli("perf", "-c", EXAMPLE, "-e", "local", "-s", "smoke", "--rps", "10", "--duration", "2s",
               "-w", "1", "-q", "--no-history", "--out", str(out), env={"BASE_URL": fresh_target.url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    iterations = doc["scenarios"]["smoke"]["iterations"]["count"]
    assert iterations > 0
    # 3 requests an iteration; all 10 assertions are checks: `{{user}}` filled in from the
    # file, `{{productId}}` rendered from what the VU extracted
    assert doc["metrics"]["http_reqs"]["count"] == 3 * iterations
    checks = doc["metrics"]["checks"]
    assert checks["fails"] == 0 and checks["passes"] == 10 * iterations, (checks, proc.stderr)
    assert "not applied under load" not in proc.stderr


def test_example_request_with_run_c(fresh_target):
    proc = cli("run", "-c", EXAMPLE, "-e", "local", "-r", "getJson", env={"BASE_URL": fresh_target.url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "◀ 200" in proc.stdout and '"name": "widget"' in proc.stdout
