"""Start-up: seconds from starting `lunge-mp` to the first request at the target.

    .venv/bin/python benchmarks/startup.py [--repeat 5] [--workers 2]

The embedded target records the wall-clock time of the first request it counts (`firstAt` in
/__stats); the time before `Popen` is the start. Each repeat runs
`lunge-mp perf --url TARGET/ --vus 2 --duration 1s --workers N -q --no-history` (a process
from scratch: the interpreter, imports, config, workers, handshake, t0). Median of the repeats;
run it under the bench lock (`flock /tmp/lunge-bench.lock ...`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lunge_mp.target import start_target  # noqa: E402


def once(target, workers: int, python: str = sys.executable) -> float | None:
    target.reset()
    started = time.time()
    proc = subprocess.run([python, "-m", "lunge_mp.cli", "perf", "--url", target.url + "/", "--vus", "2",
                           "--duration", "1s", "--workers", str(workers), "-q", "--no-history"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    first = target.stats().get("firstAt")
    if proc.returncode != 0 or first is None:
        sys.stderr.write(proc.stderr[-2000:])
        return None
    return first - started


def measure(target, repeat: int = 5, workers: int = 2) -> dict:
    times = [t for t in (once(target, workers) for _ in range(repeat)) if t is not None]
    return {"workers": workers, "repeat": repeat, "seconds": [round(t, 3) for t in times],
            "medianSeconds": round(statistics.median(times), 3) if times else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    with start_target(port=0, workers=1) as target:
        r = measure(target, a.repeat, a.workers)
    print(f"start-up to the first request ({r['workers']} workers): median {r['medianSeconds']} s "
          f"of {r['seconds']}")


if __name__ == "__main__":
    main()
