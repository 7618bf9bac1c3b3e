"""What the results say about a real run: max VUs as planned and reached, and the anomalies a
reader must not miss (dropped arrivals, failures all along)."""

from __future__ import annotations

from tests.support import cli, read_json, write_config


def run(tmp_path, text: str) -> dict:
    out = tmp_path / "r.json"
    proc = cli("run", str(write_config(tmp_path, text)), "-q", "-w", "2", "--out", str(out), "--no-history")
    assert proc.returncode in (0, 99, 113), proc.stderr
    return read_json(out)


def test_max_vus_counts_a_ramps_last_step_and_a_run_shorter_than_a_report(tmp_path, fresh_target):
    r = run(tmp_path, f"""
name: vus
settings: {{baseUrl: "{fresh_target.url}"}}
options: {{sequential: true}}
scenarios:
  ramp:
    executor: ramping-vus
    stages: [{{duration: 2s, target: 3}}]
    requests: [{{url: /delay/20}}]
  smoke:
    executor: shared-iterations
    vus: 4
    iterations: 4
    requests: [{{url: /}}]
""")
    assert r["scenarios"]["ramp"]["vus_max"] == 3          # reached only at the ramp's last instant
    assert r["scenarios"]["smoke"]["vus_max"] == 4         # over before any per-second report
    assert r["metrics"]["vus_max"] == 4


def test_drops_and_failures_all_along_are_anomalies(tmp_path, fresh_target):
    r = run(tmp_path, f"""
name: anomalies
settings: {{baseUrl: "{fresh_target.url}"}}
options: {{minEfficiency: 0}}
scenarios:
  starved:
    executor: constant-arrival-rate
    rate: 100
    duration: 3s
    preAllocatedVUs: 1
    maxVUs: 1
    requests: [{{url: /delay/50}}]
  half:
    executor: constant-vus
    vus: 2
    duration: 3s
    requests:
      - {{url: /}}
      - {{url: /status/500}}
""")
    kinds = {a["kind"] for a in r["anomalies"]}
    assert {"drops", "failures"} <= kinds, r["anomalies"]
