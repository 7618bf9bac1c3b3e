"""One end-to-end run per exit code a verdict can produce: 0, 99, 99 early by abortOnFail, 113."""

from __future__ import annotations

import time

from tests.support import run_config


def _run(tmp_path, text: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    proc, results = run_config(tmp_path, text, "-q", workers=2, history=True)
    elapsed = time.monotonic() - started
    assert "Traceback" not in proc.stderr, proc.stderr
    assert results is not None, proc.stderr
    return proc.returncode, results, elapsed


def test_exit_0_when_every_threshold_passes(tmp_path, fresh_target):
    code, results, _ = _run(tmp_path, f"""
        name: pass
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          api: {{executor: constant-arrival-rate, rate: 50, duration: 1s, requests: [{{url: "/"}}]}}
        thresholds:
          http_reqs: ["count == 50"]
          http_req_failed: ["rate == 0"]
          http_req_duration: ["p(99) < 1s", "avg < 500"]
        """)
    assert code == 0 and results["status"] == "passed"
    assert all(t["ok"] for t in results["thresholds"])


def test_exit_99_when_a_threshold_fails_and_reports_are_still_written(tmp_path, fresh_target):
    code, results, _ = _run(tmp_path, f"""
        name: fail
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          api: {{executor: constant-arrival-rate, rate: 50, duration: 1s, requests: [{{url: "/delay/30"}}]}}
        thresholds:
          http_req_duration: ["p95 < 5ms"]
        """)
    assert code == 99 and results["status"] == "failed"
    [t] = [t for t in results["thresholds"] if not t.get("default")]   # the config's own
    assert t["ok"] is False and t["observed"] >= 30


def test_exit_99_early_when_an_abort_on_fail_threshold_is_crossed(tmp_path, fresh_target):
    code, results, elapsed = _run(tmp_path, f"""
        name: abort
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          api:
            executor: constant-arrival-rate
            rate: 20
            duration: 60s
            gracefulStop: 1s
            requests: [{{url: "/status/500"}}]
        thresholds:
          http_req_failed: [{{threshold: "rate < 0.1", abortOnFail: true, delayAbortEval: 2s}}]
        """)
    assert code == 99 and results["status"] == "failed"
    assert "abortOnFail" in results["abortReason"]
    # breach from the first second, evaluation allowed from 2 s: ended within 2 s after that
    assert results["durationSeconds"] < 5.5
    assert elapsed < 20


def test_exit_113_when_the_generator_cannot_deliver_the_load(tmp_path, fresh_target):
    # 2 VUs in total cannot start 200 iterations/s of 500 ms each: most are dropped (no_vu)
    code, results, _ = _run(tmp_path, f"""
        name: impossible
        settings: {{baseUrl: "{fresh_target.url}"}}
        options: {{minEfficiency: 0.95}}
        scenarios:
          api:
            executor: constant-arrival-rate
            rate: 200
            duration: 2s
            preAllocatedVUs: 2
            maxVUs: 2
            requests: [{{url: "/delay/500"}}]
        """)
    assert code == 113 and results["status"] == "invalid"
    assert results["efficiency"]["overall"] < 0.1
    assert results["metrics"]["dropped_iterations"]["byCause"]["no_vu"] > 300
    assert any("minEfficiency" in w for w in results["warnings"])


def test_a_short_spike_cannot_hide_from_a_windowed_threshold(tmp_path, fresh_target):
    # 200/s fast for 6 s, plus 20 slow requests in one second: 1.6% of the run, 9% of that second
    code, results, _ = _run(tmp_path, f"""
        name: spike
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          base: {{executor: constant-arrival-rate, rate: 200, duration: 6s, requests: [{{url: "/"}}]}}
          spike: {{executor: constant-arrival-rate, rate: 20, duration: 1s, startTime: 3s,
                  requests: [{{url: "/delay/300"}}]}}
        thresholds:
          http_req_duration: ["p95 < 100ms", "p95 < 100ms over 1s"]
        """)
    whole, windowed = [t for t in results["thresholds"] if not t.get("default")]   # the config's own
    assert whole["ok"] is True
    assert windowed["ok"] is False and windowed["observed"] >= 290   # HDR rounds 300 ms to within 0.1%
    assert windowed["firstFailure"] in (3, 4)    # the slow requests finish in second 3 (or just after)
    assert code == 99
