"""The coordinator with many remote workers: 64 worker processes over tcp with CurveZMQ, from
two network namespaces (two "hosts" on a bridge), at 2,000 arrivals/s against the embedded
target. Prints the coordinator's CPU while the load runs (its start-up and the workers'
joining left out) as a share of one core, and the counts at the server.

    flock /tmp/lunge-bench.lock .venv/bin/python benchmarks/cluster_bench.py [--workers 64] [--rate 2000]

Root only (namespaces); without it, or without iproute2, it says why and exits 0. Figures go
to benchmarks/results/cluster.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lunge_mp.remote import keys as key_files  # noqa: E402
from lunge_mp.target import start_target  # noqa: E402
from tests.netns_hosts import HOST_IP, Hosts, why_not  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cluster.json"


def run(workers: int, rate: int, seconds: int, hosts_count: int = 2) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="lunge-cluster-"))
    keys = tmp / "keys"
    key_files.generate(keys)
    out = tmp / "results.json"
    per_host = [workers // hosts_count + (1 if i < workers % hosts_count else 0) for i in range(hosts_count)]
    with Hosts(count=hosts_count) as hosts, start_target(port=0, workers=1, host=HOST_IP) as target:
        config = tmp / "test.yaml"
        config.write_text(textwrap.dedent(f"""\
            name: cluster
            settings: {{baseUrl: "{target.url}"}}
            guardrails: {{allowedHosts: ["{HOST_IP}"]}}
            scenarios:
              open:
                executor: constant-arrival-rate
                rate: {rate}
                duration: {seconds}s
                preAllocatedVUs: 4
                maxVUs: 40
                requests: [{{url: "/"}}]
            """))
        port = 20000 + os.getpid() % 20000
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        coordinator = subprocess.Popen(
            [sys.executable, "-m", "lunge_mp.cli", "run", str(config), "--listen", f"tcp://{HOST_IP}:{port}",
             "--remote-workers", str(workers), "--keys", str(keys), "--wait", "300s", "--out", str(out),
             "--no-history", "-q"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(tmp / "coordinator.err", "w"), env=env)
        procs = [subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "lunge_mp.cli", "worker", "--connect",
             f"tcp://{HOST_IP}:{port}", "--keys", str(keys), "--workers", str(n), "--id", f"host{i}",
             "--wait", "300s"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env)
            for i, (ns, n) in enumerate(zip(hosts.names, per_host))]
        me = psutil.Process(coordinator.pid)
        try:
            deadline = time.monotonic() + 300
            while target.stats()["requests"] == 0:           # the run has started
                if time.monotonic() > deadline or coordinator.poll() is not None:
                    raise RuntimeError("the run did not start: " + (tmp / "coordinator.err").read_text()[-2000:])
                time.sleep(0.05)
            time.sleep(1.0)                                   # past the first second
            cpu0, t0 = sum(me.cpu_times()[:2]), time.monotonic()
            time.sleep(max(1.0, seconds - 3.0))               # the steady part of the schedule
            cpu1, t1 = sum(me.cpu_times()[:2]), time.monotonic()
            coordinator.wait(timeout=120)
            for p in procs:
                p.wait(timeout=60)
        finally:
            for p in [coordinator, *procs]:
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=15)
        seen = target.stats()["requests"]
    results = json.loads(out.read_text())
    offsets = [abs(w["clockOffsetMs"]) for w in results["workers"]]
    return {"workers": workers, "hosts": hosts_count, "rate": rate, "seconds": seconds,
            "coordinator_cpu_share_of_a_core": round((cpu1 - cpu0) / (t1 - t0), 4),
            "requests_reported": results["metrics"]["http_reqs"]["count"], "requests_seen": seen,
            "scheduled": rate * seconds, "exit_code": coordinator.returncode,
            "max_abs_clock_offset_ms": round(max(offsets), 3), "load_average": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=64)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--duration", type=int, default=10)
    args = ap.parse_args()
    why = why_not()
    if why:
        print(f"cluster: skipped ({why})")
        return
    r = run(args.workers, args.rate, args.duration)
    print(f"cluster: {r['workers']} remote workers (Curve, {r['hosts']} namespaces) at {r['rate']:,}/s: "
          f"coordinator {r['coordinator_cpu_share_of_a_core']:.1%} of a core; requests "
          f"{r['requests_reported']:,} reported, {r['requests_seen']:,} seen, {r['scheduled']:,} "
          f"scheduled; exit {r['exit_code']}; max |clock offset| {r['max_abs_clock_offset_ms']} ms "
          f"(load {r['load_average']:.1f})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(r, indent=2) + "\n")


if __name__ == "__main__":
    main()
