"""Start-up: seconds from starting `lunge-mp` to the first request at the target.

    .venv/bin/python benchmarks/startup.py [--repeat 5] [--workers 2] [--no-bytecode-cache]

The embedded target records the wall-clock time of the first request it counts (`firstAt` in
/__stats); the time before `Popen` is the start. Each repeat runs
`lunge-mp perf --url TARGET/ --vus 2 --duration 1s --workers N -q --no-history` (a process
from scratch: the interpreter, imports, config, workers, handshake, t0). Median of the repeats;
run it under the bench lock (`flock /tmp/lunge-bench.lock ...`).

An installed lunge-mp has its bytecode compiled (pip does it); a source tree run with
PYTHONDONTWRITEBYTECODE=1 (as some development shells set) compiles every module of ours at
every start, ~0.1 s of CPU in the coordinator alone. So the runs get a private bytecode cache
(PYTHONPYCACHEPREFIX), filled by one untimed run first; `--no-bytecode-cache` measures the
compile-every-time case instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lunge_mp.target import start_target  # noqa: E402


def once(target, workers: int, python: str = sys.executable, env: dict | None = None) -> float | None:
    target.reset()
    started = time.time()
    proc = subprocess.run([python, "-m", "lunge_mp.cli", "perf", "--url", target.url + "/", "--vus", "2",
                           "--duration", "1s", "--workers", str(workers), "-q", "--no-history"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    first = target.stats().get("firstAt")
    if proc.returncode != 0 or first is None:
        sys.stderr.write(proc.stderr[-2000:])
        return None
    return first - started


def measure(target, repeat: int = 5, workers: int = 2, bytecode_cache: bool = True) -> dict:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="lunge-startup-pyc-") as cache:
        if bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = cache
            once(target, workers, env=env)          # untimed: compiles into the cache
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"    # a tree without __pycache__: ours compiled each time
        times = [t for t in (once(target, workers, env=env) for _ in range(repeat)) if t is not None]
    return {"workers": workers, "repeat": repeat, "bytecodeCache": bytecode_cache,
            "seconds": [round(t, 3) for t in times],
            "medianSeconds": round(statistics.median(times), 3) if times else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-bytecode-cache", action="store_true",
                   help="compile every module at every start (PYTHONDONTWRITEBYTECODE=1)")
    a = p.parse_args()
    with start_target(port=0, workers=1) as target:
        r = measure(target, a.repeat, a.workers, bytecode_cache=not a.no_bytecode_cache)
    cache = "with bytecode cache" if r["bytecodeCache"] else "compiling every module"
    print(f"start-up to the first request ({r['workers']} workers, {cache}): median {r['medianSeconds']} s "
          f"of {r['seconds']}")


if __name__ == "__main__":
    main()
