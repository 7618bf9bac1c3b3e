"""The load generator's resource samples cover the whole run, the graceful stop included: a run
stopped early (a guardrail at 1 s) whose last iterations take 4 s more to finish still has a
CPU/memory sample for each of those seconds, with the workers that were still running."""

from __future__ import annotations

from tests.support import run_config


def test_every_second_of_the_graceful_stop_has_a_resource_sample(tmp_path, fresh_target):
    proc, r = run_config(tmp_path, f"""
        name: slow finish
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          s:
            executor: constant-vus
            vus: 2
            duration: 30s
            gracefulStop: 8s
            requests: [{{url: "/delay/4000", timeout: 10s}}]
        guardrails: {{maxDuration: 1s}}
        """, "-q", workers=2)
    assert proc.returncode == 111, proc.stderr
    # the two iterations started at 0 s ran to their end at ~4 s, inside the graceful stop
    assert r["metrics"]["iterations"]["count"] == 2 and r["metrics"]["interrupted_iterations"]["count"] == 0
    seconds = [b["t"] for b in r["buckets"]]
    assert max(seconds) >= 4
    sampled = [s["t"] for s in r["resources"]]
    assert sampled == sorted(set(sampled))                  # one sample a second, in order
    assert set(range(1, max(seconds) + 1)) <= set(sampled), (seconds, sampled)
    # while they finished, the workers were sampled too (from their heartbeats)
    finishing = [s for s in r["resources"] if 2 <= s["t"] <= 3]
    assert finishing and all(set(s["workers"]) == {"0", "1"} for s in finishing)
