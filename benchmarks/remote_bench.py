"""Remote workers' cost to the coordinator: the same open-model run with W local workers (ipc)
and with W remote ones (tcp + CurveZMQ on 127.0.0.1), against the embedded target.

    .venv/bin/python benchmarks/remote_bench.py [--rate 2000] [--duration 10] [--workers 2] [--repeat 3]

Prints, per mode, the medians of: the coordinator's CPU (% of one core over the run, start-up
included), requests counted and seen by the target, p50/p99 of http_req_duration, and the
workers' clock uncertainty. Run it under the bench lock on a shared machine:
    flock /tmp/lunge-bench.lock .venv/bin/python benchmarks/remote_bench.py
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from lunge_mp.remote import keys as key_files
from lunge_mp.target import start_target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


def one_run(mode: str, config: Path, out: Path, workers: int, keys: Path) -> dict:
    if mode == "local":
        proc = _cli("run", str(config), "--workers", str(workers), "--out", str(out), "-q", "--no-history")
        _, err = proc.communicate(timeout=300)
    else:
        port = _free_port()
        proc = _cli("run", str(config), "--listen", f"tcp://127.0.0.1:{port}", "--remote-workers", str(workers),
                    "--keys", str(keys), "--out", str(out), "-q", "--no-history")
        remote = _cli("worker", "--connect", f"tcp://127.0.0.1:{port}", "--keys", str(keys),
                      "--workers", str(workers), "--id", "bench")
        _, err = proc.communicate(timeout=300)
        remote.communicate(timeout=60)
    if proc.returncode not in (0, 99, 113):
        raise SystemExit(f"{mode} run failed ({proc.returncode}): {err[-2000:]}")
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lunge-remote-bench-"))
    key_files.generate(work / "keys")
    rows = {}
    with start_target(port=0, workers=1) as target:
        config = work / "bench.yaml"
        config.write_text(textwrap.dedent(f"""
            name: remote bench
            settings: {{baseUrl: "{target.url}"}}
            options: {{defaultThresholds: false}}
            scenarios:
              open:
                executor: constant-arrival-rate
                rate: {args.rate}
                duration: {args.duration}s
                preAllocatedVUs: 50
                maxVUs: 500
                requests: [{{url: "/"}}]
            """))
        for mode in ("local", "remote"):
            samples = []
            for i in range(args.repeat):
                target.reset()
                r = one_run(mode, config, work / f"{mode}-{i}.json", args.workers, work / "keys")
                d = r["metrics"]["http_req_duration"]
                samples.append({
                    "coordinator_pct": 100 * r["coordinator"]["cpuSeconds"] / max(r["wallSeconds"], 1e-9),
                    "counted": r["metrics"]["http_reqs"]["count"], "seen": target.stats()["requests"],
                    "p50_ms": d.get("p50"), "p99_ms": d.get("p99"),
                    "uncertainty_ms": max(w["clockUncertaintyMs"] for w in r["workers"]),
                })
            rows[mode] = {k: statistics.median(s[k] for s in samples if s[k] is not None) for k in samples[0]}
    print(f"{args.rate} arrivals/s for {args.duration} s, {args.workers} workers, medians of {args.repeat}:")
    print(f"{'mode':8} {'coord CPU %':>11} {'counted':>8} {'seen':>8} {'p50 ms':>8} {'p99 ms':>8} {'clock ± ms':>10}")
    for mode, r in rows.items():
        print(f"{mode:8} {r['coordinator_pct']:11.1f} {r['counted']:8.0f} {r['seen']:8.0f} "
              f"{r['p50_ms']:8.3f} {r['p99_ms']:8.3f} {r['uncertainty_ms']:10.3f}")
    os.environ.get("KEEP") or __import__("shutil").rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
