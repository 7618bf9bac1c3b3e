"""Ramping executors end to end: the exact integral for arrival rates, stage targets for VUs."""

from __future__ import annotations

import time

from tests.support import cli, read_json, run_config, write_config


def test_ramping_arrival_rate_sends_the_integral_of_its_stages(tmp_path, fresh_target):
    # H = ½·200·2 s + 200·1 s + ½·200·1 s = 500 arrivals, exactly
    proc, results = run_config(tmp_path, f"""
        name: ramp
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          ramp:
            executor: ramping-arrival-rate
            startRate: 0
            preAllocatedVUs: 10
            maxVUs: 100
            stages: [{{duration: 2s, target: 200}}, {{duration: 1s, target: 200}}, {{duration: 1s, target: 0}}]
            requests: [{{url: "/"}}]
        """, "-q", workers=2, history=True)
    assert proc.returncode == 0, proc.stderr
    assert fresh_target.stats()["requests"] == results["metrics"]["http_reqs"]["count"] == 500
    by_second = {b["t"]: b for b in results["buckets"]}
    # second 0 holds ∫₀¹ 100t dt = 50 arrivals, second 2 holds 200
    assert abs(by_second[0]["iterations"] - 50) <= 2
    assert abs(by_second[2]["iterations"] - 200) <= 4
    assert by_second[2]["targetRate"] == 200


def test_ramping_vus_reaches_each_stage_target(tmp_path, fresh_target):
    proc, results = run_config(tmp_path, f"""
        name: ramp-vus
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          ramp:
            executor: ramping-vus
            startVUs: 2
            gracefulRampDown: 1s
            stages: [{{duration: 1s, target: 8}}, {{duration: 2s, target: 8}}, {{duration: 1s, target: 0}}]
            requests: [{{url: "/delay/50"}}]
        """, "-q", workers=2, history=True)
    assert proc.returncode == 0, proc.stderr
    by_second = {b["t"]: b for b in results["buckets"]}
    assert by_second[1]["vus"] == 8 and by_second[2]["vus"] == 8
    assert by_second[2]["targetVUs"] == 8
    assert results["metrics"]["vus_max"] == 8
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"]


def test_iteration_counts_are_exact_across_workers(tmp_path, fresh_target):
    # per-vu: 5 VUs × 7 each = 35; shared: 23 in total over 4 VUs; sequential so they don't mix
    config = write_config(tmp_path, f"""
        name: iterations
        settings: {{baseUrl: "{fresh_target.url}"}}
        options: {{sequential: true}}
        scenarios:
          per_vu:
            executor: per-vu-iterations
            vus: 5
            iterations: 7
            maxDuration: 20s
            requests: [{{url: "/delay/10"}}]
          shared:
            executor: shared-iterations
            vus: 4
            iterations: 23
            maxDuration: 20s
            requests: [{{url: "/json"}}]
        """)
    out = tmp_path / "results.json"
    started = time.monotonic()
    proc = cli("run", str(config), "--out", str(out), "--workers", "2", "-q")
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 15, "iteration scenarios must end when done, not at maxDuration"
    results = read_json(out)
    assert results["scenarios"]["per_vu"]["iterations"]["count"] == 35
    assert results["scenarios"]["shared"]["iterations"]["count"] == 23
    stats = fresh_target.stats()
    assert stats["byPath"]["/delay/10"] == 35 and stats["byPath"]["/json"] == 23


def test_sequential_scenarios_do_not_overlap(tmp_path, fresh_target):
    proc, results = run_config(tmp_path, f"""
        name: sequential
        settings: {{baseUrl: "{fresh_target.url}"}}
        options: {{sequential: true}}
        scenarios:
          first:
            executor: constant-vus
            vus: 3
            duration: 2s
            requests: [{{url: "/delay/300"}}]
          second:
            executor: constant-arrival-rate
            rate: 50
            duration: 2s
            requests: [{{url: "/json"}}]
        """, "-q", workers=2, history=True)
    assert proc.returncode == 0, proc.stderr
    starts = results["scenarioWindows"]
    # the first ran 2 s and its last iterations (300 ms) finished before the second began
    assert starts["second"]["start"] >= starts["first"]["end"] >= starts["first"]["start"] + 2.0
    for b in results["buckets"]:
        active = [name for name, s in b["byScenario"].items() if s["requests"]]
        assert len(active) <= 1 or b["t"] == int(starts["second"]["start"]), b
    assert results["scenarios"]["second"]["iterations"]["count"] == 100


def test_warmup_runs_first_and_its_metrics_are_kept_apart(tmp_path, fresh_target):
    proc, results = run_config(tmp_path, f"""
        name: warm
        settings: {{baseUrl: "{fresh_target.url}"}}
        options: {{warmup: {{duration: 1s, rate: 100}}}}
        scenarios:
          api:
            executor: constant-arrival-rate
            rate: 50
            duration: 2s
            requests: [{{url: "/json"}}]
        thresholds:
          http_reqs: ["count == 100"]
        """, "-q", workers=2, history=True)
    assert proc.returncode == 0, proc.stderr
    assert results["warmup"]["http_reqs"]["count"] == 100
    assert results["metrics"]["http_reqs"]["count"] == 100        # the test alone: 50/s × 2 s
    assert fresh_target.stats()["requests"] == 200
    assert results["measuredFrom"] == 2.0                          # ⌈1 s⌉ + 1 s grace
    phases = [(b["t"], b["phase"]) for b in results["buckets"]]
    assert phases[0] == (0, "warmup")
    assert (2, "steady") in phases and (3, "steady") in phases
    assert all(p == "warmup" for t, p in phases if t < 2)
    assert results["scenarioWindows"]["api"]["start"] == 2.0
