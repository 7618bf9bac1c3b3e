"""Numbers no one meant are refused at load (exit 104 naming the field and its bound), through
every door: a v2 file, the quick-mode flags, a Lunge v1 file and its flags. Before, `vus:
99999999999999999999999999999` passed validate and ended `run` in an OverflowError, and a
billion VUs passed and hung the workers until they were lost (exit 112)."""

from __future__ import annotations

import pytest

from tests.support import cli, write_config

HUGE = "99999999999999999999999999999"


def _closed(target, vus: str) -> str:
    return f"""
        name: bounds
        settings: {{baseUrl: "{target.url}"}}
        scenarios:
          api: {{executor: constant-vus, vus: {vus}, duration: 1s, requests: [{{url: /}}]}}
        """


@pytest.mark.parametrize("vus", [HUGE, "1000000000", "100001"])
def test_run_refuses_vus_over_the_bound_before_any_traffic(tmp_path, fresh_target, vus):
    config = write_config(tmp_path, _closed(fresh_target, vus))
    proc = cli("run", str(config), "--workers", "1", timeout=60)
    assert proc.returncode == 104, proc.stderr
    assert "scenarios.api.vus: must be at most 100,000" in proc.stderr and "Traceback" not in proc.stderr
    assert fresh_target.stats()["requests"] == 0


def test_the_bound_itself_is_accepted(tmp_path):
    config = write_config(tmp_path, """
        name: at-the-bound
        scenarios:
          api: {executor: constant-vus, vus: 100000, duration: 1s, requests: [{url: "http://127.0.0.1:1/"}]}
        """)
    proc = cli("validate", str(config))
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("field, scenario", [
    ("preAllocatedVUs", "{executor: constant-arrival-rate, rate: 10, duration: 1s, preAllocatedVUs: 100000000}"),
    ("maxVUs", "{executor: constant-arrival-rate, rate: 10, duration: 1s, maxVUs: 100000000}"),
    ("rate", "{executor: constant-arrival-rate, rate: 1000, timeUnit: 1ns, duration: 1s}"),
    ("iterations", "{executor: shared-iterations, vus: 1, iterations: 10000000000}"),
    ("stages[0].target", "{executor: ramping-vus, stages: [{duration: 1s, target: 1000000000}]}"),
    ("stages[0].target", "{executor: ramping-arrival-rate, timeUnit: 1us, stages: [{duration: 1s, target: 5}]}"),
    ("duration", "{executor: constant-vus, vus: 1, duration: 10000000000000000000000h}"),
    ("pattern.baseRate", "{executor: pattern, pattern: {type: chaos, duration: 1m, baseRate: 1000000000, maxRate: 2000000000}}"),
    ("pattern.seed", "{executor: pattern, pattern: {type: chaos, duration: 1m, baseRate: 1, maxRate: 2, "
                     "seed: 99999999999999999999999}}"),
])
def test_every_count_rate_and_duration_is_bounded(tmp_path, field, scenario):
    config = write_config(tmp_path, f"""
        name: bounds
        scenarios:
          api: {scenario[:-1]}, requests: [{{url: "http://127.0.0.1:1/"}}]}}
        """)
    proc = cli("validate", str(config))
    assert proc.returncode == 104, proc.stdout
    assert f"scenarios.api.{field}: must be at most" in proc.stderr, proc.stderr


def test_settings_guardrails_and_options_are_bounded(tmp_path):
    config = write_config(tmp_path, f"""
        name: bounds
        settings: {{maxConnectionsPerHost: {HUGE}, timeout: 1000000000s}}
        guardrails: {{maxRate: 1.0e+30, maxTotalRequests: {HUGE}, maxMemoryMB: 1.0e+30, maxDuration: 1.0e+30}}
        options: {{warmup: {{duration: 1s, vus: {HUGE}}}}}
        scenarios:
          api: {{executor: constant-vus, vus: 1, duration: 1s, requests: [{{url: "http://127.0.0.1:1/"}}]}}
        """)
    proc = cli("validate", str(config))
    assert proc.returncode == 104
    for field in ("settings.maxConnectionsPerHost", "settings.timeout", "guardrails.maxRate",
                  "guardrails.maxTotalRequests", "guardrails.maxMemoryMB", "guardrails.maxDuration",
                  "options.warmup.vus"):
        assert f"{field}: must be at most" in proc.stderr, (field, proc.stderr)


@pytest.mark.parametrize("flags", [["--vus", HUGE, "-d", "1s"], ["--vus", "1000000000", "-d", "1s"],
                                   ["--rate", "1e12", "-d", "1s"],
                                   ["--rate", "10", "-d", "1s", "--pre-allocated-vus", "100000000"],
                                   ["--rate", "10", "-d", "1s", "--max-vus", HUGE], ["--stages", "1s:1000000000"]])
def test_quick_mode_flags_meet_the_same_bounds(fresh_target, flags):
    proc = cli("perf", "--url", f"{fresh_target.url}/", *flags, "--workers", "1", timeout=60)
    assert proc.returncode == 104, proc.stderr
    assert "must be at most" in proc.stderr and "Traceback" not in proc.stderr
    assert fresh_target.stats()["requests"] == 0


def test_lunge_v1_files_and_flags_meet_the_same_bounds(tmp_path, fresh_target):
    config = write_config(tmp_path, f"""
        {{"environments": {{"e": {{"baseUrl": "{fresh_target.url}"}}}},
         "requests": {{"r": {{"url": "/"}}}},
         "performance": {{"t": {{"request": "r", "load": {{"concurrency": {HUGE}, "duration": "1s"}}}}}}}}
        """, name="v1.json")
    proc = cli("validate", str(config))
    assert proc.returncode == 104 and "must be at most 100,000" in proc.stderr, proc.stderr
    proc = cli("perf", "-c", str(config), "-e", "e", "-r", "r", "--concurrency", "1000000000",
               "--duration", "1s", "--workers", "1", timeout=60)
    assert proc.returncode == 104 and "must be at most 100,000" in proc.stderr, proc.stderr
    assert fresh_target.stats()["requests"] == 0
