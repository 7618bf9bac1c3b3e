"""The control plane's acceptance figures (issue 14), run once under the bench lock:

    flock /tmp/lunge-bench.lock .venv/bin/python benchmarks/serve_bench.py [--rate 50000] [--only timing]

The target is nginx when installed (benchmarks/serve_target.py: less CPU a request than the
embedded target, so the 2-core box can come nearer the rate), and the timed runs have one
worker per core. Every run's rate is counted at the target and printed beside the asked one.

1. Streaming cost: one open-model run at --rate arrivals/s, three ways: `lunge-mp run` (no API),
   `lunge-mp serve` with no stream client, and `serve` with 5 stream clients. For each, the
   CPU of the coordinator's process over the steady seconds; for serve, the server process
   and the test's coordinator process (api/child.py) together, and each apart
   (workers are other processes). A run is void, and gives no CPU figure, when a worker was
   lost, it sent nothing, or a measured process ended inside the window.
2. Message delay: with 5 clients, each metrics_update's arrival minus the moment the
   coordinator saw its second complete (`completeAt`: the last worker report of that second
   merged), split at `relayedAt` (the server had it), and minus the second's end
   (`secondEnd`: includes the workers' 1-second report cadence and the merge).
3. API latency: GET /api/v1/tests/{id} and GET /api/v1/tests, 20 a second during run 3.
4. Chart update: the dashboard in headless Chromium (Playwright, a 1400x900 window) during a
   run, 40 messages: from a message's receipt (performance.now() in onmessage) to the last
   chart it updates being drawn (the draw's promise: after plotly_afterplot for a redraw,
   after the frame for a moved trace; window.lungeDash.updateMs).
5. Memory (benchmarks/serve_memory.py; `--only memory` runs just this): `serve --max-concurrent 10`
   with 10 tests at once (one worker each, 20 it/s, one stream client each), workers apart.
   The figure: the server process's RSS beyond its idle RSS (after one short test) + the
   private memory (USS) of the 10 tests' coordinator processes + the fork server's USS (api/forkserver.py), summed at
   each half-second sample, its peak. PSS sums beside it (shared pages split among their
   sharers). Also with LUNGE_MP_FORK_SERVER=0: each coordinator spawned as a fresh
   interpreter (the way before the fork server), and with no stream clients. For the forked
   coordinators, at the window's end, how much of each one's private memory is copies of the
   fork server's pages (written after the fork: reference counts, mostly) and how much its own.

Writes benchmarks/results/serve-<time>.json and .md. The box is shared and noisy: quote medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from serve_target import bench_target  # noqa: E402


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))], 2)


def config(url: str, rate: int, duration: int, name: str) -> dict:
    pre, mx = max(50, rate // 20), max(500, (rate * 2) // 5)
    return {"name": name, "settings": {"timeout": "10s", "maxConnectionsPerHost": mx},
            "scenarios": {"s": {"executor": "constant-arrival-rate", "rate": rate, "duration": f"{duration}s",
                                "preAllocatedVUs": pre, "maxVUs": mx, "gracefulStop": "5s",
                                "requests": [{"url": url + "/"}]}}}


class ProcCpu:
    """CPU seconds (user + system) of one process, sampled over a window. A process that ended
    or was replaced (another pid, or the same pid reused) before the window's end voids the
    figure: psutil of a gone process has no CPU to read, and reading 0 for it made a
    negative figure once."""

    def __init__(self, proc: psutil.Process | None, what: str) -> None:
        self.proc, self.what, self.void = proc, what, None if proc is not None else f"no {what} process found"
        self.marks: list[tuple[float, float]] = []

    def mark(self) -> None:
        if self.void:
            return
        try:
            with self.proc.oneshot():
                t = self.proc.cpu_times()
                alive = self.proc.is_running() and self.proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            alive = False
        if not alive:
            self.void = f"the {self.what} process (pid {self.proc.pid}) ended inside the CPU window"
            return
        self.marks.append((t.user + t.system, time.monotonic()))

    def percent(self) -> float | None:
        if self.void or len(self.marks) < 2:
            return None
        (c0, t0), (c1, t1) = self.marks[0], self.marks[-1]
        return round(100 * (c1 - c0) / (t1 - t0), 2)


def void_reason(results: dict, *cpus: ProcCpu) -> str | None:
    """Why a run's figures mean nothing (None when they stand): its process ended inside the
    window, it ended in an internal error, a worker was lost, or it sent nothing."""
    for cpu in cpus:
        if cpu.void:
            return cpu.void
    if results.get("status") == "error":
        return f"the run ended in an error (exit {results.get('exitCode')})"
    for w in results.get("workers") or []:
        if w.get("lostAt") is not None:
            back = f", rejoined at {w['rejoinedAt']} s" if w.get("rejoinedAt") is not None else ""
            return f"worker {w.get('id')} was lost at {w['lostAt']} s ({(w.get('error') or '')[:80]}{back})"
    if not (results.get("metrics", {}).get("http_reqs", {}).get("count")):
        return "it sent no requests"
    return None


def run_figures(results: dict, counted: int, duration: int) -> dict:
    """The load the run put on the target: asked, achieved (counted at the target), efficiency."""
    return {"efficiency": (results.get("efficiency") or {}).get("overall"),
            "requests": results.get("metrics", {}).get("http_reqs", {}).get("count"),
            "countedAtTarget": counted, "achievedRate": round(counted / duration),
            "status": results.get("status"), "exitCode": results.get("exitCode"),
            "workersLost": sum(1 for w in results.get("workers") or [] if w.get("lostAt") is not None),
            "warnings": [w[:200] for w in (results.get("warnings") or [])[:3]]}


def coordinators(server: psutil.Process, module: str = "lunge_mp.api.child") -> list[psutil.Process]:
    """The server's descendants that run a test's coordinator (api/child.py): its children when
    spawned, its fork server's when forked (api/forkserver.py); or those running `module`."""
    found = []
    for p in server.children(recursive=True):
        try:
            if module in " ".join(p.cmdline()):
                found.append(p)
        except psutil.NoSuchProcess:
            pass
    return found


def start_serve(tmp: Path, *extra: str, env_extra: dict | None = None) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, LUNGE_MP_STORE=str(tmp / "history.db"), LUNGE_MP_AUDIT_LOG=str(tmp / "audit.log"),
               **(env_extra or {}))
    err = open(tmp / f"serve-{time.time_ns()}.err", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "serve", "--port", "0", "--no-history",
                             "--data-dir", str(tmp / "runs"), *extra], stderr=err, stdout=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while True:
        err.seek(0)
        found = re.search(r"on (http://127\.0\.0\.1:\d+)/", err.read())
        if found:
            return proc, found.group(1)
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("serve did not start")
        time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def watch(session, base: str, tid: str, delays: list, ends: list, stop_at: float,
                hops: tuple[list, list] = ([], [])) -> int:
    """One stream client: records the delay of every metrics_update (and its two hops: the
    coordinator's process to the server's, the server's to this client); returns messages seen."""
    n = 0
    async with session.ws_connect(f"{base.replace('http', 'ws')}/api/v1/load-test/stream/{tid}") as ws:
        async for msg in ws:
            now = time.time()
            m = json.loads(msg.data)
            n += 1
            if m["type"] == "metrics_update" and m.get("completeAt"):
                delays.append((now - m["completeAt"]) * 1000)
                ends.append((now - m["secondEnd"]) * 1000)
                if m.get("relayedAt"):
                    hops[0].append((m["relayedAt"] - m["completeAt"]) * 1000)
                    hops[1].append((now - m["relayedAt"]) * 1000)
            if m["type"] == "completion" or time.monotonic() > stop_at:
                break
    return n


async def serve_run(base: str, proc: psutil.Process, cfg: dict, clients: int, window: tuple[float, float],
                    duration: int, target) -> dict:
    async with aiohttp.ClientSession() as session:
        counted0 = target.count()
        r = await session.post(f"{base}/api/v1/tests", json=cfg)
        tid = (await r.json())["id"]
        t0 = time.monotonic()
        delays: list[float] = []
        ends: list[float] = []
        hops: tuple[list, list] = ([], [])
        watchers = [asyncio.create_task(watch(session, base, tid, delays, ends, t0 + duration + 20, hops))
                    for _ in range(clients)]
        api_ms: list[float] = []
        server = ProcCpu(proc, "server")
        child: ProcCpu | None = None
        marks = 0
        while time.monotonic() - t0 < duration + 1:
            el = time.monotonic() - t0
            if marks < 2 and el >= window[marks]:
                if child is None:    # the test's coordinator, as it is at the window's start
                    child = ProcCpu(next(iter(coordinators(proc)), None), "test's coordinator")
                server.mark()
                child.mark()
                marks += 1
            for path in (f"/api/v1/tests/{tid}", "/api/v1/tests"):   # both runs: the CPU difference is the stream's
                a = time.perf_counter()
                async with session.get(base + path) as resp:
                    await resp.read()
                api_ms.append((time.perf_counter() - a) * 1000)
            await asyncio.sleep(0.1)
        while True:
            async with session.get(f"{base}/api/v1/tests/{tid}") as resp:
                view = await resp.json()
            if view["status"] not in ("running", "paused", "stopping"):
                break
            await asyncio.sleep(0.2)
        await asyncio.gather(*watchers, return_exceptions=True)
        async with session.get(f"{base}/api/v1/tests/{tid}/results") as resp:
            results = await resp.json()
    child = child or ProcCpu(None, "test's coordinator")
    void = void_reason(results, server, child)
    s_cpu, c_cpu = server.percent(), child.percent()
    return {"void": void,
            "cpuPercent": None if void else round(s_cpu + c_cpu, 2),
            "serverCpuPercent": None if void else s_cpu, "coordinatorCpuPercent": None if void else c_cpu,
            **run_figures(results, target.count() - counted0, duration),
            "messageDelayMs": {"p50": pct(delays, 50), "p95": pct(delays, 95), "n": len(delays)},
            "sinceSecondEndMs": {"p50": pct(ends, 50), "p95": pct(ends, 95)},
            "toServerMs": {"p50": pct(hops[0], 50), "p95": pct(hops[0], 95)},
            "serverToClientMs": {"p50": pct(hops[1], 50), "p95": pct(hops[1], 95)},
            "apiMs": {"p50": pct(api_ms, 50), "p99": pct(api_ms, 99), "n": len(api_ms)}}


def cli_run(tmp: Path, cfg: dict, window: tuple[float, float], duration: int, workers: int, target) -> dict:
    path = tmp / "cli.json"
    path.write_text(json.dumps(cfg))
    env = dict(os.environ, LUNGE_MP_STORE=str(tmp / "history.db"))
    counted0 = target.count()
    p = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "run", str(path), "-q", "--no-history",
                          "--workers", str(workers), "--out", str(tmp / "cli-results.json")], env=env)
    cpu = ProcCpu(psutil.Process(p.pid), "coordinator")
    t0 = time.monotonic()
    for at in window:
        while time.monotonic() - t0 < at:
            time.sleep(0.02)
        cpu.mark()
    p.wait(duration + 60)
    results = json.loads((tmp / "cli-results.json").read_text())
    void = void_reason(results, cpu)
    return {"void": void, "cpuPercent": None if void else cpu.percent(),
            **run_figures(results, target.count() - counted0, duration)}


def chart_update(base: str, url: str, messages: int = 40) -> dict | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    import urllib.request

    def post(path: str, body: dict) -> dict:
        req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        return json.loads(urllib.request.urlopen(req).read())
    tid = post("/api/v1/tests", config(url, 200, messages + 20, "chart"))["id"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update"])
        page = b.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base + "/")
        deadline = time.monotonic() + messages + 40
        while page.evaluate("window.lungeDash.updateMs.length") < messages and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        ms = page.evaluate("window.lungeDash.updateMs")
        redrew = page.evaluate("window.lungeDash.redrew")
        per_chart = page.evaluate("window.lungeDash.chartMs")
        b.close()
    post(f"/api/v1/tests/{tid}/stop", {})
    while json.loads(urllib.request.urlopen(f"{base}/api/v1/tests/{tid}").read())["status"] in ("running", "stopping"):
        time.sleep(0.2)
    return {"p50": pct(ms, 50), "p95": pct(ms, 95), "max": round(max(ms), 1) if ms else None, "n": len(ms),
            "perChart": {"p50": pct(per_chart, 50), "p95": pct(per_chart, 95), "n": len(per_chart)},
            "redrawn": sum(redrew),
            "movedOnly": {"p50": pct([m for m, r in zip(ms, redrew) if not r], 50),
                          "p95": pct([m for m, r in zip(ms, redrew) if not r], 95)}}


def cpu_cell(run: dict) -> str:
    if run["void"]:
        return f"void: {run['void']}"
    text = f"{run['cpuPercent']}%"
    if "serverCpuPercent" in run:
        text += f" (server {run['serverCpuPercent']}%, coordinator {run['coordinatorCpuPercent']}%)"
    return text


def load_cell(run: dict, rate: int) -> str:
    eff = run["efficiency"]
    return (f"{run['achievedRate']:,}/s of {rate:,}/s counted at the target, efficiency "
            f"{'-' if eff is None else f'{eff:.3f}'}" + (f", {run['workersLost']} worker(s) lost" if run["workersLost"] else ""))


def streaming_cost(s0: dict, s5: dict) -> str:
    if s0["void"] or s5["void"]:
        return "void: " + "; ".join(f"{name} run: {r['void']}" for name, r in (("no-client", s0), ("5-client", s5))
                                     if r["void"])
    # the feed runs with or without clients; what clients add is the server's sending. The
    # coordinator's CPU follows the rate each run achieved, which differs between runs.
    return (f"{round(s5['cpuPercent'] - s0['cpuPercent'], 2)} points of a core (server "
            f"{round(s5['serverCpuPercent'] - s0['serverCpuPercent'], 2)}, coordinator "
            f"{round(s5['coordinatorCpuPercent'] - s0['coordinatorCpuPercent'], 2)} at {s5['achievedRate']:,} "
            f"against {s0['achievedRate']:,}/s)")


def timing_md(out: dict) -> str:
    cli, s0, s5, ch = out["cli"], out["serve0"], out["serve5"], out["chartUpdateMs"] or {}
    rate = out["rate"]
    note5 = f"; the run's CPU is void: {s5['void']}" if s5["void"] else ""   # the messages still came
    return f"""| coordinator process CPU, `lunge-mp run` (no API) | {cpu_cell(cli)} | |
| ... its load | {load_cell(cli, rate)} | |
| server + coordinator process CPU, `serve`, no stream client | {cpu_cell(s0)} | |
| ... its load | {load_cell(s0, rate)} | |
| server + coordinator process CPU, `serve`, 5 stream clients | {cpu_cell(s5)} | |
| ... its load | {load_cell(s5, rate)} | |
| streaming cost (5 clients − none) | {streaming_cost(s0, s5)} | < 2 |
| message delay after the second was complete, p50 / p95 | {s5['messageDelayMs']['p50']} / {s5['messageDelayMs']['p95']} ms (n {s5['messageDelayMs']['n']}{note5}) | p95 < 10 ms |
| ... of which coordinator's process to the server's loop, p50 / p95 | {(s5.get('toServerMs') or {}).get('p50')} / {(s5.get('toServerMs') or {}).get('p95')} ms | |
| ... of which server to the bench's client, p50 / p95 | {(s5.get('serverToClientMs') or {}).get('p50')} / {(s5.get('serverToClientMs') or {}).get('p95')} ms | |
| message delay after the second ended, p50 / p95 | {s5['sinceSecondEndMs']['p50']} / {s5['sinceSecondEndMs']['p95']} ms | |
| API GET latency during the run, p50 / p99 | {s5['apiMs']['p50']} / {s5['apiMs']['p99']} ms (n {s5['apiMs']['n']}) | p99 < 50 ms |
| dashboard: message receipt to its last chart drawn (Chromium), p50 / p95 | {ch.get('p50')} / {ch.get('p95')} ms (n {ch.get('n')}) | < 50 ms |
| ... messages whose charts were only moved (not redrawn with new ranges: {ch.get('redrawn')} of {ch.get('n')} were), p50 / p95 | {(ch.get('movedOnly') or {}).get('p50')} / {(ch.get('movedOnly') or {}).get('p95')} ms | |
| dashboard: receipt to one chart drawn, p50 / p95 | {(ch.get('perChart') or {}).get('p50')} / {(ch.get('perChart') or {}).get('p95')} ms | |
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=50_000)
    ap.add_argument("--duration", type=int, default=16)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="workers of the timed runs (default: one per core, as lunge-mp run)")
    ap.add_argument("--target", choices=("auto", "nginx", "embedded"), default="auto",
                    help="the HTTP target (auto: nginx when installed)")
    ap.add_argument("--only", choices=("timing", "memory"),
                    help="timing: only the CPU, message delay, API and chart figures; memory: only the memory part")
    args = ap.parse_args()
    from serve_memory import memory_md, memory_only, memory_runs     # that module imports this one

    if args.only == "memory":
        return memory_only()
    window = (4.0, args.duration - 2.0)
    out: dict = {"rate": args.rate, "duration": args.duration, "steadyWindow": window, "workers": args.workers,
                 "cpus": os.cpu_count(), "loadavg": os.getloadavg()}
    memory = args.only != "timing"
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as d, bench_target(args.target) as target:
        tmp = Path(d)
        out["target"] = target.kind
        cfg = config(target.url, args.rate, args.duration, "stream bench")
        out["cli"] = cli_run(tmp, cfg, window, args.duration, args.workers, target)
        print("cli", out["cli"], flush=True)
        serve, base = start_serve(tmp, "--workers", str(args.workers))
        try:
            proc = psutil.Process(serve.pid)
            out["serve0"] = asyncio.run(serve_run(base, proc, cfg, 0, window, args.duration, target))
            print("serve, no client", out["serve0"], flush=True)
            out["serve5"] = asyncio.run(serve_run(base, proc, cfg, 5, window, args.duration, target))
            print("serve, 5 clients", out["serve5"], flush=True)
            out["chartUpdateMs"] = chart_update(base, target.url)
            print("chart", out["chartUpdateMs"], flush=True)
        finally:
            stop(serve)
        if memory:
            memory_runs(tmp, target.url, out, only=False)
    out["loadavgAfter"] = os.getloadavg()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    res = ROOT / "benchmarks" / "results"
    (res / f"serve-{stamp}.json").write_text(json.dumps(out, indent=2))
    md = f"""# Control plane figures ({stamp}, {out['cpus']} cores shared with other work: load {out['loadavg'][0]:.1f} before, {out['loadavgAfter'][0]:.1f} after)

Open model at {args.rate:,} arrivals/s asked, {args.duration} s, {args.workers} worker(s), target {out['target']};
CPU over seconds {window[0]:g}-{window[1]:g}. A run whose worker was lost, that sent nothing, or whose
process ended inside the window is void: its CPU is not a figure.

| figure | value | bar |
|---|---|---|
{timing_md(out)}{memory_md(out) if memory else ''}"""
    (res / f"serve-{stamp}.md").write_text(md)
    if memory:
        (res / "latest-serve.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
