"""`lunge-mp selftest`: what this machine can deliver, measured in about 10 s (seed 002's
self-test), against the embedded target on this machine.

- closed loop: 50 VUs on one worker (one core) for a couple of seconds: requests/s a core;
- open model: constant-arrival-rate at doubling rates (2,500/s, 5,000/s, ...) with the given
  workers, one short run each, until efficiency falls below 99%, then once between the last
  rate held and the first missed: the highest rate held.

Each run is a real run (coordinator, workers, the fast transport) through `cli_run.execute_plan`,
results read back from its results.json. The figures are stored beside the history store
(capacity.py), where `run` and `validate` read them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import tempfile
from pathlib import Path

HELD = 0.99
START_RATE = 2_500
MAX_RATE = 160_000


def _plan(url: str, scenario: dict):
    from lunge_mp.config.validate import plan_from_dict
    return plan_from_dict({"name": "selftest", "settings": {"baseUrl": url},
                           "scenarios": {"s": {**scenario, "requests": [{"url": "/"}]}}}, source="selftest")


def _run(plan, workers: int, tmp: Path, name: str) -> dict:
    from lunge_mp.cli_run import execute_plan
    out = tmp / f"{name}.json"
    execute_plan(plan, workers, True, {"json": str(out)}, record=False)
    return json.loads(out.read_text())


def measure(workers: int, seconds: float = 1.0, log=print) -> dict:
    """Run the self-test; returns the figures (also what `capacity.save` stores)."""
    from lunge_mp.target import start_target

    tried = []
    with start_target(port=0, workers=1) as target, tempfile.TemporaryDirectory(prefix="lunge-selftest-") as d:
        tmp = Path(d)
        closed = _run(_plan(target.url, {"executor": "constant-vus", "vus": 50, "duration": f"{2 * seconds}s",
                                         "gracefulStop": "1s"}), 1, tmp, "closed")
        per_core = closed["metrics"]["http_reqs"]["rate"]
        log(f"closed loop, 50 VUs on 1 worker: {per_core:,.0f} requests/s")
        def holds(rate: int) -> bool:
            pre = max(10, rate // 100)
            doc = _run(_plan(target.url, {"executor": "constant-arrival-rate", "rate": rate,
                                          "duration": f"{seconds}s", "preAllocatedVUs": pre,
                                          "maxVUs": pre * 4, "gracefulStop": "1s"}), workers, tmp, f"open-{rate}")
            eff = doc["efficiency"]["overall"] or 0.0
            tried.append({"rate": rate, "efficiency": eff})
            log(f"open model, {rate:,}/s on {workers} worker(s): efficiency {eff:.2%}")
            return eff >= HELD

        rate, held = START_RATE, None
        while rate <= MAX_RATE and holds(rate):
            held = rate
            rate *= 2
        if held and rate <= MAX_RATE and holds((held + rate) // 2):
            held = (held + rate) // 2
    held = held or 0
    return {"measuredAt": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(), "cpus": os.cpu_count(), "workers": workers,
            "openRateHeld": held, "openRatePerWorker": held / workers if held else 0,
            "closedRequestsPerSecondPerCore": per_core, "tried": tried,
            "note": "against the embedded target on this machine; a slower target or more work per "
                    "iteration holds less"}
