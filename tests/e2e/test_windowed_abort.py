"""abortOnFail on a windowed threshold (`p95 < 100ms over 1s`) is judged mid-run on the windows
of the complete seconds so far, as the final verdict judges them: a short latency spike stops
the run within a few seconds of the window that broke, although the run's totals (what a
threshold without a window judges) stay well inside the limit."""

from __future__ import annotations

from tests.support import run_config


def test_a_latency_spike_breaks_a_window_and_aborts_the_run_while_the_totals_pass(tmp_path, fresh_target):
    # `fast` asks for 100 quick requests a second for 20 s; from 10 s, `spike` has 5 VUs on
    # /delay/300 for 1 s: ~15 slow requests among ~115 in second 10 (p95 300 ms), but only
    # ~1.5% of everything up to the abort (p95 of the totals: fast)
    proc, r = run_config(tmp_path, f"""
        name: spike
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          fast:
            executor: constant-arrival-rate
            rate: 100
            duration: 20s
            preAllocatedVUs: 10
            maxVUs: 50
            requests: [{{name: quick, url: /}}]
          spike:
            executor: constant-vus
            vus: 5
            startTime: 10s
            duration: 1s
            gracefulStop: 2s
            requests: [{{name: slow, url: /delay/300}}]
        thresholds:
          http_req_duration:
            - {{threshold: "p95 < 100ms over 1s", abortOnFail: true}}
            - {{threshold: "p95 < 100ms", abortOnFail: true}}
        """, workers=2)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 99, proc.stderr
    assert r["status"] == "failed" and r["exitCode"] == 99
    reason = r["abortReason"] or ""
    assert reason.startswith("threshold http_req_duration: 'p95 < 100ms over 1s' crossed in the window 1"), reason
    assert "abortOnFail" in reason
    windowed, whole = [t for t in r["thresholds"] if not t.get("default")]   # the config's own
    assert windowed["ok"] is False and windowed["firstFailure"] in (10, 11), windowed
    # the totals were fine: the threshold without a window passes, and never aborted the run
    assert whole["ok"] is True and whole["observed"] < 100, whole
    # stopped early: within a few seconds of the broken window, long before the planned 20 s
    assert r["durationSeconds"] <= windowed["firstFailure"] + 1 + 4, (r["durationSeconds"], windowed)
    assert r["scenarios"]["fast"]["iterations"]["count"] < 1700
    assert "stopped early: threshold http_req_duration" in proc.stdout
