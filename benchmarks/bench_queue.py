"""The queue section of the self-benchmark (`make bench`, `bench.py --only queue`), or alone:

    .venv/bin/python benchmarks/bench_queue.py [--duration 10] [--repeat 3] [--quick]

A private redis-server (no persistence) pinned to CPU 1; in the same run, one after another:

* anchor  - `redis-benchmark -t lpush -c 50 -n 1000000` pinned to CPU 0: its LPUSH/s, no pipelining.
* closed  - lunge_mp `constant-vus`, 50 VUs, one worker and the coordinator pinned to CPU 0, an
            LPUSH of a templated JSON job (`{"id":"<iteration>","kind":"bench"}`). Enqueues/s
            counted at the server (LLEN ÷ the run's measured seconds) and by lunge_mp.
            Bar: per worker core >= 50% of the anchor's rate.
* open    - `constant-arrival-rate` 10,000 jobs/s on the whole box (default workers), the server
            still on CPU 1. Bar: efficiency >= 99.5%, and the list holds exactly the jobs scheduled.

Figures are medians over `--repeat` runs. The machine is shared and noisy: compare within a run.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(ROOT / "benchmarks")):
    if p not in sys.path:
        sys.path.insert(0, p)

from lunge_mp.formatting import num as _f  # noqa: E402
from selfbench.configs import LG_CPU, TARGET_CPU  # noqa: E402
from selfbench.procs import lunge_env, run_command  # noqa: E402
from lunge_mp.target.redis_server import available, start_redis  # noqa: E402

CLOSED_SHARE_BAR = 0.5
OPEN_RATE, OPEN_EFF_BAR = 10_000, 0.995
_RPS = re.compile(r"LPUSH:\s*([\d.]+)\s+requests per second")


def _config(url: str, executor: str, duration: int) -> str:
    return f"""\
name: queue bench
settings:
  redis: {{url: "{url}", poolSize: 100}}
scenarios:
  jobs:
    {executor}
    duration: {duration}s
    requests:
      - name: enqueue
        redis: {{command: LPUSH, key: jobs, payload: {{id: "{{{{iteration}}}}", kind: bench}}}}
"""


def anchor(server, tmp: Path, requests: int) -> dict:
    out = tmp / "redis-benchmark.out"
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-t", "lpush", "-c", "50",
           "-n", str(requests), "-q"]
    code, wall, _, _ = run_command(cmd, tmp / "redis-benchmark.err", 300, {LG_CPU}, stdout_path=out)
    text = out.read_text(errors="replace").replace("\r", "\n")
    rates = _RPS.findall(text)
    server.command("DEL", "mylist")
    if code != 0 or not rates:
        return {"error": f"redis-benchmark exited {code}: {text[-300:]}"}
    return {"rate": float(rates[-1]), "wallSeconds": round(wall, 2), "requests": requests}


def lunge_run(server, tmp: Path, executor: str, duration: int, workers: int | None, pinned: bool) -> dict:
    server.command("DEL", "jobs")
    cfg = tmp / "queue.yaml"
    cfg.write_text(_config(server.url, executor, duration))
    out = tmp / "queue-results.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "lunge_mp.cli", "run", str(cfg), "--out", str(out), "-q"]
    if workers:
        cmd += ["--workers", str(workers)]
    code, wall, cpu, _ = run_command(cmd, tmp / "queue.err", duration + 60, {LG_CPU} if pinned else None,
                                     env=lunge_env())
    if not out.exists():
        return {"error": f"lunge-mp exited {code}: " + (tmp / "queue.err").read_text(errors="replace")[-300:]}
    r = json.loads(out.read_text())
    m = r["metrics"]
    at_server = server.command("LLEN", "jobs")
    seconds = r["durationSeconds"]
    return {"exitCode": code, "lungeRate": m["redis_cmds"]["rate"], "serverCount": at_server,
            "succeeded": m["redis_cmds"]["count"] - m["redis_cmd_failed"]["count"],
            "serverRate": round(at_server / seconds, 1) if seconds else None,
            "failed": m["redis_cmd_failed"]["count"], "scheduled": m["iterations"]["count"]
            + m["dropped_iterations"]["count"], "efficiency": (r.get("efficiency") or {}).get("overall"),
            "p99Ms": m["redis_cmd_duration"].get("p99"), "rtP99Ms": m["redis_cmd_response_time"].get("p99"),
            "cpuSeconds": round(cpu, 2), "wallSeconds": round(wall, 2)}


def _median(runs: list[dict]) -> dict:
    ok = [r for r in runs if not r.get("error")]
    if not ok:
        return {"error": runs[-1].get("error") if runs else "no run"}
    out = {}
    for k in ok[0]:
        vals = [r[k] for r in ok if isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)]
        out[k] = statistics.median(vals) if vals else ok[0][k]
    out["runs"] = runs
    return out


def queue_section(duration: int, repeat: int, quick: bool, workers: int | None = None) -> dict:
    """Run the section; returns {"rows", "bars", "md"} (bars in bench.py's format)."""
    if not available():
        return {"rows": [], "bars": [], "md": "Queue: skipped (redis-server is not installed)", "error": "no redis"}
    n = 200_000 if quick else 1_000_000
    anchors, closed, opened = [], [], []
    with tempfile.TemporaryDirectory(prefix="lunge-bench-queue-") as d, start_redis(cpu=TARGET_CPU) as server:
        tmp = Path(d)
        for i in range(repeat):
            print(f"bench: queue anchor redis-benchmark lpush -c 50 -n {n:,} [{i + 1}/{repeat}] ...", end="", flush=True)
            anchors.append(anchor(server, tmp, n))
            print(f" {_f(anchors[-1].get('rate'), ',.0f')}/s", flush=True)
            print(f"bench: queue closed 50 VUs (1 core) [{i + 1}/{repeat}] ...", end="", flush=True)
            closed.append(lunge_run(server, tmp, "executor: constant-vus\n    vus: 50", duration, 1, True))
            print(f" {_f(closed[-1].get('serverRate'), ',.0f')}/s at the server", flush=True)
            print(f"bench: queue open {OPEN_RATE:,}/s [{i + 1}/{repeat}] ...", end="", flush=True)
            opened.append(lunge_run(server, tmp, f"executor: constant-arrival-rate\n    rate: {OPEN_RATE}\n"
                                                 f"    preAllocatedVUs: 100\n    maxVUs: 2000", duration, workers, False))
            e = opened[-1].get("efficiency")
            print(f" efficiency {'-' if e is None else f'{e:.2%}'}, {opened[-1].get('serverCount', '-')} jobs at the server",
                  flush=True)
    a, c, o = _median(anchors), _median(closed), _median(opened)
    # the ratio of each repeat's back-to-back pair, then the median (the box's load moves)
    ratios = [cr["serverRate"] / ar["rate"] for ar, cr in zip(anchors, closed)
              if ar.get("rate") and cr.get("serverRate")]
    share = statistics.median(ratios) if ratios else None
    c["ratios"] = [round(x, 3) for x in ratios]
    # every job lunge_mp counted as enqueued is in the list, and nothing else
    exact = all(r.get("serverCount") == r.get("succeeded") for r in opened if not r.get("error"))
    bars = [
        {"bar": f"queue closed: lunge_mp LPUSH/s per worker core >= {CLOSED_SHARE_BAR:.0%} of redis-benchmark's "
                f"(medians: lunge_mp {_f(c.get('serverRate'), ',.0f')}/s, redis-benchmark {_f(a.get('rate'), ',.0f')}/s; "
                f"median of the per-repeat ratios {', '.join(f'{x:.0%}' for x in ratios) or '-'})",
         "value": share, "pass": None if share is None else share >= CLOSED_SHARE_BAR,
         "shown": "-" if share is None else f"{share:.0%}"},
        {"bar": f"queue open {OPEN_RATE:,} jobs/s efficiency >= {OPEN_EFF_BAR:.1%} (list holds exactly the jobs "
                f"enqueued: {'yes' if exact else 'NO'})",
         "value": o.get("efficiency"), "pass": None if o.get("efficiency") is None else
         (o["efficiency"] >= OPEN_EFF_BAR and exact), "shown": "-" if o.get("efficiency") is None else f"{o['efficiency']:.2%}"},
    ]
    rows = [{"label": "queue anchor redis-benchmark", **a}, {"label": "queue closed 50 VUs (1 core)", **c},
            {"label": f"queue open {OPEN_RATE}/s", **o}]
    md = "\n".join([
        "Queue (redis-server pinned to CPU 1; redis-benchmark and the closed run on CPU 0):", "",
        "| run | enqueues/s at the server | lunge_mp's count/s | efficiency | p99 ms | failed |",
        "|---|---:|---:|---:|---:|---:|",
        f"| redis-benchmark -t lpush -c 50 -n {n:,} | {_f(a.get('rate'), ',.0f')} | - | - | - | - |",
        f"| closed 50 VUs, 1 worker core | {_f(c.get('serverRate'), ',.0f')} | {_f(c.get('lungeRate'), ',.0f')} | - | "
        f"{_f(c.get('p99Ms'), '.2f')} | {_f(c.get('failed'), ',.0f')} |",
        f"| open {OPEN_RATE:,}/s, whole box | {_f(o.get('serverRate'), ',.0f')} | {_f(o.get('lungeRate'), ',.0f')} | "
        f"{'-' if o.get('efficiency') is None else format(o['efficiency'], '.2%')} | {_f(o.get('rtP99Ms'), '.2f')} "
        f"(from schedule) | {_f(o.get('failed'), ',.0f')} |",
    ])
    return {"rows": rows, "bars": bars, "md": md}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=None)
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--workers", type=int, default=None)
    a = p.parse_args(argv)
    duration = a.duration or (3 if a.quick else 10)
    repeat = a.repeat or (1 if a.quick else 3)
    result = queue_section(duration, repeat, a.quick, a.workers)
    print()
    print(result["md"])
    for b in result["bars"]:
        verdict = "n/a " if b["pass"] is None else ("PASS" if b["pass"] else "FAIL")
        print(f"  {verdict}  {b['bar']}: {b['shown']}")
    return 1 if result.get("error") and result["error"] != "no redis" else 0


if __name__ == "__main__":
    sys.exit(main())
