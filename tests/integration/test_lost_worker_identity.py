"""Issue 12, finding 2: after a worker is lost, every scheduled arrival is accounted for, exactly,
and what could still run does. A worker is killed (SIGKILL) at a random instant in each of
several short runs against a target that answers in 50 ms and counts what it receives:

    completed + interrupted + dropped + arrivalsUnaccounted = arrivalsSent   (exactly)

the arrivals the lost worker held that were not yet due are dealt again and reach the target,
and what stays unknown is at most about 0.25 s of its share."""

from __future__ import annotations

import random
import signal
import time

from tests.integration.test_fault_tolerance import _wait_requests, _workers
from tests.support import cli_popen, read_json, write_config

RATE, SECONDS, DELAY_MS, RUNS = 1000, 4, 50, 5
SHARE = RATE / 2                  # the lost worker's arrivals per second


def _config(tmp_path, url: str):
    return write_config(tmp_path, f"""
        name: identity
        settings: {{baseUrl: "{url}"}}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: {RATE}
            duration: {SECONDS}s
            preAllocatedVUs: 100
            maxVUs: 300
            gracefulStop: 2s
            requests: [{{url: "/delay/{DELAY_MS}"}}]
        """)


def test_every_arrival_is_accounted_for_when_a_worker_dies_at_a_random_instant(tmp_path, target):
    rng = random.Random(12)
    config = _config(tmp_path, target.url)
    for run in range(RUNS):
        target.reset()
        out = tmp_path / f"results-{run}.json"
        proc = cli_popen("run", str(config), "--out", str(out), "--workers", "2", "-q", "--no-history")
        try:
            workers = _workers(proc)
            _wait_requests(target, 1)
            time.sleep(rng.uniform(0.3, SECONDS - 1.0))     # a random instant of the schedule
            workers[1].send_signal(signal.SIGKILL)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        results = read_json(out)
        seen = target.stats()["requests"]
        s = results["scenarios"]["open"]
        completed, interrupted = s["iterations"]["count"], s["interrupted_iterations"]["count"]
        dropped = s["dropped_iterations"]["count"]
        unaccounted = results["arrivalsUnaccounted"].get("open", 0)
        sent = results["arrivalsSent"]["open"]
        lost = results["workers"][1]
        context = (run, lost, completed, interrupted, dropped, unaccounted, sent, seen, stderr[-2000:])
        assert lost["error"] == "killed by SIGKILL", context
        assert sent == RATE * SECONDS, context
        assert completed + interrupted + dropped + unaccounted == sent, context
        assert lost["arrivalsUnaccounted"] == unaccounted, context
        # what it held and was not yet due ran elsewhere: the server saw every completed one
        assert completed <= seen <= completed + interrupted + unaccounted, context
        if lost["lostAt"] < SECONDS - 0.3:
            assert lost["arrivalsRedealt"] > 0, context
        # unknown: at most ~0.25 s of its share, plus what was in flight (50 ms) at its last report
        assert unaccounted <= SHARE * (0.25 + DELAY_MS / 1000) + 10, context
        assert results["efficiency"]["overall"] < 1.0 or unaccounted == 0, context
