"""Many worker processes at a low rate each (coordinator/dealing.py batches: an Assign carries
~16 arrivals, up to 0.75 s ahead; past 8 workers each sends counter reports 5 times a second,
not 10): the counts stay exact at the server and the arrivals balanced over the workers."""

from __future__ import annotations

from tests.support import run_config


def test_twelve_workers_at_ten_arrivals_a_second_each_run_every_arrival_once(tmp_path, fresh_target):
    proc, results = run_config(tmp_path, f"""
        name: batches
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 120
            duration: 2s
            preAllocatedVUs: 2
            maxVUs: 8
            requests: [{{url: "/"}}]
        """, "-q", workers=12, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert results["arrivalsSent"] == {"open": 240}
    assert sorted(w["arrivalsAssigned"] for w in results["workers"]) == [20] * 12
    done = results["metrics"]["iterations"]["count"]
    dropped = results["metrics"]["dropped_iterations"]["count"]
    assert fresh_target.stats()["requests"] == results["metrics"]["http_reqs"]["count"] == done
    assert done + dropped == 240, (done, dropped)   # dropped only if this box is far behind
