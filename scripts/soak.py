"""Soak test: does memory stay flat over a long run? (`python scripts/soak.py [--minutes 10]`)

Starts the embedded target (one process, 127.0.0.1, a free port), then one
`lunge-mp run` of `constant-arrival-rate` at `--rate` iterations/s (default 1,000) against
`/` for `--minutes` (default 10). Every `--every` seconds (default 10) it samples the RSS
and CPU of every process involved: the coordinator, each worker, the target. It prints one
line per sample, and at the end a table per process: first, last and peak RSS, the growth
from the first sample after the warm-up (`--settle`, default 60 s) to the end, and the slope
(least squares, MB per minute over the same span). Bar: every lunge-mp process stays under
`--max-mb` (default 100 MB).

Writes `<out-dir>/soak-<UTC timestamp>.csv` (one row per process per sample) and `.json`
(samples, summary, the run's exit code, the requests lunge-mp counted and the server saw,
efficiency, machine). Exit code: 0 when the run completed and every lunge-mp process
stayed under the bar, 1 otherwise, 130 on Ctrl-C (forwarded to lunge-mp as a graceful stop).
Never run it beside a benchmark: both measure the same box.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lunge_mp.target import start_target  # noqa: E402

CONFIG = """\
name: "soak {rate}/s for {minutes:g} min"
settings: {{baseUrl: "{url}"}}
scenarios:
  soak:
    executor: constant-arrival-rate
    rate: {rate}
    duration: {seconds}s
    preAllocatedVUs: 50
    maxVUs: 500
    gracefulStop: 5s
    requests:
      - name: root
        url: "/"
        assertions: [{{type: status, condition: eq, value: "200"}}]
"""


def _role(proc: psutil.Process, coordinator_pid: int) -> str:
    if proc.pid == coordinator_pid:
        return "coordinator"
    cmd = proc.cmdline()
    if "lunge_mp.worker" in cmd:
        return f"worker{cmd[cmd.index('--id') + 1] if '--id' in cmd else '?'}"
    return f"child-{proc.pid}"


def _sample(coordinator: psutil.Process, target: psutil.Process, cache: dict[int, psutil.Process]) -> list[dict]:
    """RSS (MB) and CPU % of the coordinator, its workers and the target (with its children)."""
    rows = []
    try:
        procs = [(p, _role(p, coordinator.pid)) for p in [coordinator, *coordinator.children(recursive=True)]]
    except psutil.Error:
        procs = []
    try:
        procs += [(target, "target")] + [(p, f"target-{p.pid}") for p in target.children(recursive=True)]
    except psutil.Error:
        pass
    for proc, role in procs:
        p = cache.setdefault(proc.pid, proc)     # the same object, so cpu_percent() measures an interval
        try:
            with p.oneshot():
                rows.append({"role": role, "pid": p.pid, "rssMB": round(p.memory_info().rss / 2**20, 1),
                             "cpuPercent": round(p.cpu_percent(), 1)})
        except psutil.Error:
            continue
    return rows


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB), as MB per minute."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    if den == 0:
        return None
    return 60 * sum((t - mx) * (v - my) for t, v in points) / den


def summarise(samples: list[dict], settle_s: float, max_mb: float) -> list[dict]:
    by_role: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        for row in s["processes"]:
            by_role.setdefault(row["role"], []).append((s["t"], row["rssMB"]))
    out = []
    for role, points in sorted(by_role.items()):
        settled = [p for p in points if p[0] >= settle_s] or points
        lunge = role == "coordinator" or role.startswith("worker")
        peak = max(v for _, v in points)
        out.append({"role": role, "samples": len(points), "firstMB": points[0][1], "lastMB": points[-1][1],
                    "peakMB": peak, "growthMB": round(settled[-1][1] - settled[0][1], 1),
                    "slopeMBPerMin": None if (s := _slope(settled)) is None else round(s, 3),
                    "underBar": (peak < max_mb) if lunge else None})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--settle", type=float, default=60.0, help="growth is measured from this second on")
    ap.add_argument("--max-mb", type=float, default=100.0, help="RSS bar per lunge-mp process")
    ap.add_argument("--workers", type=int, default=None, help="lunge-mp --workers (default: one per core)")
    ap.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    seconds = max(1, round(args.minutes * 60))
    settle = min(args.settle, seconds / 2)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="lunge-soak-"))
    interrupted = False

    def on_signal(signum, frame):
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    samples: list[dict] = []
    with start_target(port=0, workers=1) as target:
        config = tmp / "soak.yaml"
        config.write_text(CONFIG.format(rate=args.rate, minutes=args.minutes, seconds=seconds, url=target.url))
        results_path = tmp / "results.json"
        cmd = [sys.executable, "-m", "lunge_mp.cli", "run", str(config), "--out", str(results_path), "-q",
               "--no-history"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
        print(f"soak: {args.rate:,} it/s for {args.minutes:g} min against {target.url}; "
              f"a sample every {args.every:g}s", flush=True)
        with open(tmp / "lunge.log", "wb") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                    start_new_session=True)
        coordinator, target_proc = psutil.Process(proc.pid), psutil.Process(target.pid)
        cache: dict[int, psutil.Process] = {}
        started = time.monotonic()
        next_at = started + min(args.every, 2.0)   # a first sample once the workers are up
        forwarded = False
        while proc.poll() is None:
            if interrupted and not forwarded:
                forwarded = True
                os.killpg(proc.pid, signal.SIGINT)
            now = time.monotonic()
            if now >= next_at:
                t = round(now - started, 1)
                rows = _sample(coordinator, target_proc, cache)
                samples.append({"t": t, "processes": rows})
                print(f"[{t:7.1f}s] " + "  ".join(f"{r['role']} {r['rssMB']:.1f}MB" for r in rows), flush=True)
                next_at = started + args.every * (int((now - started) / args.every) + 1)
            time.sleep(0.2)
        code = proc.returncode
        seen = target.stats()["requests"]
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    summary = summarise(samples, settle, args.max_mb)
    counted = results.get("metrics", {}).get("http_reqs", {}).get("count")
    print()
    print(f"{'process':<12} {'first MB':>9} {'last MB':>8} {'peak MB':>8} {'growth MB':>10} {'MB/min':>8}  bar")
    for row in summary:
        bar = "" if row["underBar"] is None else ("PASS" if row["underBar"] else "FAIL")
        slope = "-" if row["slopeMBPerMin"] is None else f"{row['slopeMBPerMin']:.3f}"
        print(f"{row['role']:<12} {row['firstMB']:>9.1f} {row['lastMB']:>8.1f} {row['peakMB']:>8.1f} "
              f"{row['growthMB']:>10.1f} {slope:>8}  {bar}")
    print(f"\nlunge-mp exit code {code}; requests counted {counted}, seen by the target {seen}; "
          f"efficiency {results.get('efficiency', {}).get('overall')}")
    doc = {"startedAt": stamp, "rate": args.rate, "minutes": args.minutes, "everySeconds": args.every,
           "settleSeconds": settle, "maxMB": args.max_mb, "exitCode": code, "requestsCounted": counted,
           "requestsSeen": seen, "efficiency": results.get("efficiency", {}).get("overall"),
           "warnings": results.get("warnings"), "summary": summary, "samples": samples,
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}}
    json_path, csv_path = out_dir / f"soak-{stamp}.json", out_dir / f"soak-{stamp}.csv"
    json_path.write_text(json.dumps(doc, indent=2))
    with csv_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "role", "pid", "rssMB", "cpuPercent"])
        for s in samples:
            for r in s["processes"]:
                w.writerow([s["t"], r["role"], r["pid"], r["rssMB"], r["cpuPercent"]])
    print(f"wrote {json_path} and {csv_path}")
    if interrupted:
        return 130
    ok = code == 0 and all(r["underBar"] is not False for r in summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
