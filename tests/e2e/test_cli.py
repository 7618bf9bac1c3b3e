"""The CLI as a user runs it: help, version, and every expected failure ending in a clear exit 104."""

from __future__ import annotations

import pytest

from lunge_mp import __version__
from tests.support import cli, read_json, write_config

GOOD_SCENARIO = """
scenarios:
  api:
    executor: constant-arrival-rate
    rate: 50
    duration: 1s
    requests:
      - url: "{url}/"
"""


def test_version_and_help_explain_themselves():
    assert cli("--version").stdout.strip().endswith(__version__)
    top = cli("--help").stdout
    for word in ("run", "target", "Exit codes", "104"):
        assert word in top
    run_help = cli("run", "--help").stdout
    for word in ("--out", "--workers", "--quiet", "KEY=VALUE", "Ctrl-C"):
        assert word in run_help


@pytest.mark.parametrize("text, expected", [
    pytest.param("name: x\nscenarios: [unclosed", "line", id="bad-yaml"),
    pytest.param("name: x" + GOOD_SCENARIO.replace("constant-arrival-rate", "constant-arrival"),
                 "scenarios.api.executor", id="unknown-executor"),
    pytest.param("name: x" + GOOD_SCENARIO.replace("duration: 1s", "duraton: 1s"),
                 "did you mean 'duration'", id="typo-field"),
    pytest.param("name: ${NO_SUCH_VAR_XYZ}" + GOOD_SCENARIO, "NO_SUCH_VAR_XYZ", id="unset-env"),
    pytest.param("name: x" + GOOD_SCENARIO.replace("duration: 1s", "duration: 1 minute"),
                 "scenarios.api.duration", id="bad-duration"),
    pytest.param("name: x" + GOOD_SCENARIO.replace("{url}/", "ftp://127.0.0.1/"),
                 "unsupported scheme", id="url-scheme"),
    pytest.param("name: x" + GOOD_SCENARIO + "thresholds:\n  http_req_duration: ['p95 <<< 5']\n",
                 "thresholds.http_req_duration", id="bad-threshold"),
    pytest.param("name: x" + GOOD_SCENARIO.replace("rate: 50", "rate: 0"),
                 "scenarios.api.rate: must be > 0", id="zero-rate"),
])
def test_invalid_config_exits_104_names_the_field_and_sends_nothing(tmp_path, fresh_target, text, expected):
    config = write_config(tmp_path, text.replace("{url}", fresh_target.url))
    out = tmp_path / "results.json"
    proc = cli("run", str(config), "--out", str(out))
    assert proc.returncode == 104, proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert fresh_target.stats()["requests"] == 0


@pytest.mark.parametrize("args, expected", [
    pytest.param(["run", "/nonexistent/config.yaml"], "nonexistent", id="missing-file"),
    pytest.param(["run"], "Missing argument", id="no-config"),
    pytest.param(["run", "x.yaml", "--workers", "0"], "--workers", id="zero-workers"),
    pytest.param(["run", "x.yaml", "-e", "NOEQUALS"], "KEY=VALUE", id="bad-env"),
    pytest.param(["frobnicate"], "No such command", id="unknown-command"),
])
def test_bad_arguments_exit_104(args, expected):
    proc = cli(*args)
    assert proc.returncode == 104, (proc.stdout, proc.stderr)
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_env_override_reaches_the_config(tmp_path, fresh_target):
    config = write_config(tmp_path, """
        name: env
        settings: {baseUrl: "${TARGET_URL}"}
        scenarios:
          api:
            executor: constant-vus
            vus: 1
            duration: 1s
            requests: [{url: "/json"}]
        """)
    out = tmp_path / "results.json"
    proc = cli("run", str(config), "--out", str(out), "-q", "-e", f"TARGET_URL={fresh_target.url}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""   # -q: exit code and files only
    assert read_json(out)["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"] > 0


def test_summary_and_results_schema(tmp_path, fresh_target):
    config = write_config(tmp_path, "name: schema" + GOOD_SCENARIO.replace("{url}", fresh_target.url))
    out = tmp_path / "results.json"
    proc = cli("run", str(config), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "PASSED" in proc.stdout and "written: " in proc.stdout
    r = read_json(out)
    for key in ("schemaVersion", "name", "status", "exitCode", "startTime", "endTime", "durationSeconds",
                "metrics", "scenarios", "requests", "thresholds", "buckets", "efficiency", "workers",
                "histograms"):
        assert key in r
    m = r["metrics"]
    for key in ("http_reqs", "http_req_failed", "http_req_duration", "http_req_response_time",
                "schedule_lag", "iterations", "dropped_iterations", "data_received", "data_sent", "vus_max"):
        assert key in m
    for key in ("min", "avg", "med", "p50", "p90", "p95", "p99", "p99.9", "max"):
        assert m["http_req_duration"][key] is not None
    bucket = r["buckets"][0]
    for key in ("t", "requests", "failures", "targetRate", "achievedRate", "p50", "p95", "p99",
                "activeVUs", "dropped"):
        assert key in bucket
    assert r["scenarios"]["api"]["executor"] == "constant-arrival-rate"
