"""Ramping executors end to end: the exact integral for arrival rates, stage targets for VUs."""

from __future__ import annotations

from tests.support import cli, read_json, write_config


def test_ramping_arrival_rate_sends_the_integral_of_its_stages(tmp_path, fresh_target):
    # H = ½·200·2 s + 200·1 s + ½·200·1 s = 500 arrivals, exactly
    config = write_config(tmp_path, f"""
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
        """)
    out = tmp_path / "results.json"
    proc = cli("run", str(config), "--out", str(out), "--workers", "2", "-q")
    assert proc.returncode == 0, proc.stderr
    results = read_json(out)
    assert fresh_target.stats()["requests"] == results["metrics"]["http_reqs"]["count"] == 500
    by_second = {b["t"]: b for b in results["buckets"]}
    # second 0 holds ∫₀¹ 100t dt = 50 arrivals, second 2 holds 200
    assert abs(by_second[0]["iterations"] - 50) <= 2
    assert abs(by_second[2]["iterations"] - 200) <= 4
    assert by_second[2]["targetRate"] == 200


def test_ramping_vus_reaches_each_stage_target(tmp_path, fresh_target):
    config = write_config(tmp_path, f"""
        name: ramp-vus
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          ramp:
            executor: ramping-vus
            startVUs: 2
            gracefulRampDown: 1s
            stages: [{{duration: 1s, target: 8}}, {{duration: 2s, target: 8}}, {{duration: 1s, target: 0}}]
            requests: [{{url: "/delay/50"}}]
        """)
    out = tmp_path / "results.json"
    proc = cli("run", str(config), "--out", str(out), "--workers", "2", "-q")
    assert proc.returncode == 0, proc.stderr
    results = read_json(out)
    by_second = {b["t"]: b for b in results["buckets"]}
    assert by_second[1]["vus"] == 8 and by_second[2]["vus"] == 8
    assert by_second[2]["targetVUs"] == 8
    assert results["metrics"]["vus_max"] == 8
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"]
