"""The control plane's acceptance figures (issue 14), run once under the bench lock:

    flock /tmp/lunge-bench.lock .venv/bin/python benchmarks/serve_bench.py [--rate 50000]

1. Streaming cost: one open-model run at --rate arrivals/s, three ways: `lunge-mp run` (no API),
   `lunge-mp serve` with no stream client, and `serve` with 5 stream clients. For each, the
   CPU of the coordinator's process over the steady seconds; for serve, the server process
   and the test's coordinator process (its child, api/child.py) together, and each apart
   (workers are other processes).
2. Message delay: with 5 clients, each metrics_update's arrival minus the moment the
   coordinator saw its second complete (`completeAt`: the last worker report of that second
   merged), and minus the second's end (`secondEnd`: includes the workers' 1-second report
   cadence and the merge).
3. API latency: GET /api/v1/tests/{id} and GET /api/v1/tests, 20 a second during run 3.
4. Chart update: the dashboard in headless Chromium (Playwright, a 1400x900 window) during a
   run, 40 messages: from a message's receipt (performance.now() in onmessage) to the last
   chart it updates being drawn (the draw's promise: after plotly_afterplot for a redraw,
   after the frame for a moved trace; window.lungeDash.updateMs).
5. Memory (`--only memory` runs just this): `serve --max-concurrent 10` with 10 tests at once
   (one worker each, 20 it/s, one stream client each), workers apart. The figure: the server
   process's RSS beyond its idle RSS (after one short test) + the private memory (USS) of the
   10 tests' coordinator processes + the fork server's USS (api/forkserver.py), summed at
   each half-second sample, its peak. PSS sums beside it (shared pages split among their
   sharers). Also with LUNGE_MP_FORK_SERVER=0: each coordinator spawned as a fresh
   interpreter (the way before the fork server), and with no stream clients.

Writes benchmarks/results/serve-<time>.json and .md. The box is shared and noisy: quote medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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

from lunge_mp.target import start_target  # noqa: E402


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


def cpu_s(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    try:
        t = proc.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return t.user + t.system


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


async def watch(session, base: str, tid: str, delays: list, ends: list, stop_at: float) -> int:
    """One stream client: records the delay of every metrics_update; returns messages seen."""
    n = 0
    async with session.ws_connect(f"{base.replace('http', 'ws')}/api/v1/load-test/stream/{tid}") as ws:
        async for msg in ws:
            now = time.time()
            m = json.loads(msg.data)
            n += 1
            if m["type"] == "metrics_update" and m.get("completeAt"):
                delays.append((now - m["completeAt"]) * 1000)
                ends.append((now - m["secondEnd"]) * 1000)
            if m["type"] == "completion" or time.monotonic() > stop_at:
                break
    return n


async def serve_run(base: str, proc: psutil.Process, cfg: dict, clients: int, window: tuple[float, float],
                    duration: int) -> dict:
    async with aiohttp.ClientSession() as session:
        r = await session.post(f"{base}/api/v1/tests", json=cfg)
        tid = (await r.json())["id"]
        t0 = time.monotonic()
        delays: list[float] = []
        ends: list[float] = []
        watchers = [asyncio.create_task(watch(session, base, tid, delays, ends, t0 + duration + 20))
                    for _ in range(clients)]
        api_ms: list[float] = []
        cpu0 = cpu1 = None
        child = None
        while time.monotonic() - t0 < duration + 1:
            el = time.monotonic() - t0
            child = child or next(iter(coordinators(proc)), None)
            if cpu0 is None and el >= window[0]:
                cpu0 = (cpu_s(proc), cpu_s(child), time.monotonic())
            if cpu1 is None and el >= window[1]:
                cpu1 = (cpu_s(proc), cpu_s(child), time.monotonic())
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
    span = cpu1[2] - cpu0[2]
    return {"cpuPercent": round(100 * (cpu1[0] + cpu1[1] - cpu0[0] - cpu0[1]) / span, 2),
            "serverCpuPercent": round(100 * (cpu1[0] - cpu0[0]) / span, 2),
            "coordinatorCpuPercent": round(100 * (cpu1[1] - cpu0[1]) / span, 2),
            "efficiency": results["efficiency"]["overall"], "requests": results["metrics"]["http_reqs"]["count"],
            "status": results.get("status"), "exitCode": results.get("exitCode"),
            "warnings": [w[:200] for w in (results.get("warnings") or [])[:3]],
            "messageDelayMs": {"p50": pct(delays, 50), "p95": pct(delays, 95), "n": len(delays)},
            "sinceSecondEndMs": {"p50": pct(ends, 50), "p95": pct(ends, 95)},
            "apiMs": {"p50": pct(api_ms, 50), "p99": pct(api_ms, 99), "n": len(api_ms)}}


def cli_run(tmp: Path, cfg: dict, window: tuple[float, float], duration: int) -> dict:
    path = tmp / "cli.json"
    path.write_text(json.dumps(cfg))
    env = dict(os.environ, LUNGE_MP_STORE=str(tmp / "history.db"))
    p = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "run", str(path), "-q", "--no-history",
                          "--workers", "1", "--out", str(tmp / "cli-results.json")], env=env)
    proc = psutil.Process(p.pid)
    t0 = time.monotonic()
    marks = []
    for at in window:
        while time.monotonic() - t0 < at:
            time.sleep(0.02)
        marks.append((cpu_s(proc), time.monotonic()))
    p.wait(duration + 60)
    results = json.loads((tmp / "cli-results.json").read_text())
    return {"cpuPercent": round(100 * (marks[1][0] - marks[0][0]) / (marks[1][1] - marks[0][1]), 2),
            "efficiency": results["efficiency"]["overall"]}


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
        per_chart = page.evaluate("window.lungeDash.chartMs")
        b.close()
    post(f"/api/v1/tests/{tid}/stop", {})
    while json.loads(urllib.request.urlopen(f"{base}/api/v1/tests/{tid}").read())["status"] in ("running", "stopping"):
        time.sleep(0.2)
    return {"p50": pct(ms, 50), "p95": pct(ms, 95), "max": round(max(ms), 1) if ms else None, "n": len(ms),
            "perChart": {"p50": pct(per_chart, 50), "p95": pct(per_chart, 95), "n": len(per_chart)}}


def _uss_pss_rss(procs: list[psutil.Process]) -> tuple[int, int, int]:
    uss = pss = rss = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            full = p.memory_full_info()
            uss, pss, rss = uss + full.uss, pss + full.pss, rss + full.rss
    return uss, pss, rss


async def _ten(session, base: str, proc: psutil.Process, url: str, clients: bool, idle: int) -> dict:
    """Samples every 0.5 s while 10 tests run at once (with one stream client each, or none):
    the peak of the figure and its parts at that sample."""
    ids = []
    for i in range(10):
        r = await session.post(f"{base}/api/v1/tests", json=config(url, 20, 20, f"mem {i}"))
        ids.append((await r.json())["id"])
    stop_at = time.monotonic() + 40
    watchers = [asyncio.create_task(watch(session, base, tid, [], [], stop_at)) for tid in ids] if clients else []
    best: dict = {"figure": -1}
    t0 = time.monotonic()
    while time.monotonic() - t0 < 15:
        server = proc.memory_info().rss
        children = coordinators(proc)
        uss, pss, rss = _uss_pss_rss(children)
        fuss, fpss, frss = _uss_pss_rss(coordinators(proc, "lunge_mp.api.forkserver"))
        figure = server - idle + uss + fuss
        if figure > best["figure"]:
            best = {"figure": figure, "server": server, "children": len(children), "uss": uss, "pss": pss, "rss": rss,
                    "forkUss": fuss, "forkPss": fpss, "forkRss": frss}
        await asyncio.sleep(0.5)
    for tid in ids:
        await session.post(f"{base}/api/v1/tests/{tid}/stop")
    await asyncio.gather(*watchers, return_exceptions=True)
    for tid in ids:
        while (await (await session.get(f"{base}/api/v1/tests/{tid}")).json())["status"] in ("running", "stopping"):
            await asyncio.sleep(0.2)
    return best


async def memory_10(base: str, proc: psutil.Process, url: str, clients: bool) -> dict:
    """A fresh server: one short test first (lazy imports belong to the idle figure), then 10 at once."""
    async with aiohttp.ClientSession() as session:
        r = await session.post(f"{base}/api/v1/tests", json=config(url, 20, 2, "warm"))
        tid = (await r.json())["id"]
        while (await (await session.get(f"{base}/api/v1/tests/{tid}")).json())["status"] in ("running", "stopping"):
            await asyncio.sleep(0.2)
        idle = proc.memory_info().rss
        best = await _ten(session, base, proc, url, clients, idle)
    mb = 2**20
    return {"idleMB": round(idle / mb, 1), "beyondIdleMB": round((best["server"] - idle) / mb, 1),
            "figureMB": round(best["figure"] / mb, 1), "coordinators": best["children"],
            "coordinatorsUssMB": round(best["uss"] / mb, 1), "coordinatorsPssMB": round(best["pss"] / mb, 1),
            "coordinatorsRssMB": round(best["rss"] / mb, 1), "forkServerUssMB": round(best["forkUss"] / mb, 1),
            "forkServerPssMB": round(best["forkPss"] / mb, 1), "forkServerRssMB": round(best["forkRss"] / mb, 1),
            "pssFigureMB": round((best["server"] - idle + best["pss"] + best["forkPss"]) / mb, 1)}


MEMORY_RUNS = (("memory10", True, {}), ("memory10Spawned", True, {"LUNGE_MP_FORK_SERVER": "0"}),
               ("memory10NoClients", False, {}))


def memory_runs(tmp: Path, url: str, out: dict, only: bool) -> None:
    for key, clients, env in MEMORY_RUNS[:2] if only else MEMORY_RUNS:
        serve, base = start_serve(tmp, "--workers", "1", "--max-concurrent", "10", env_extra=env)
        try:
            out[key] = asyncio.run(memory_10(base, psutil.Process(serve.pid), url, clients))
            print(key, out[key], flush=True)
        finally:
            stop(serve)


def memory_md(out: dict) -> str:
    m, sp = out["memory10"], out["memory10Spawned"]
    rows = f"""| memory, 10 streamed tests at once, workers apart: server RSS beyond idle + coordinators' USS + fork server's USS (peak) | {m['figureMB']} MB = {m['beyondIdleMB']} + {m['coordinatorsUssMB']} ({m['coordinators']} processes) + {m['forkServerUssMB']} (server idle {m['idleMB']}) | < 100 MB |
| ... the same with PSS (shared pages split among their sharers) | {m['pssFigureMB']} MB (coordinators {m['coordinatorsPssMB']}, fork server {m['forkServerPssMB']}; RSS {m['coordinatorsRssMB']} and {m['forkServerRssMB']}) | |
| ... each coordinator spawned fresh (LUNGE_MP_FORK_SERVER=0) | {sp['figureMB']} MB = {sp['beyondIdleMB']} + {sp['coordinatorsUssMB']} ({sp['coordinators']} processes); PSS {sp['pssFigureMB']}, RSS {sp['coordinatorsRssMB']} | |
"""
    if "memory10NoClients" in out:
        rows += f"| ... fork server, no stream clients | {out['memory10NoClients']['figureMB']} MB | |\n"
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=50_000)
    ap.add_argument("--duration", type=int, default=16)
    ap.add_argument("--only", choices=["memory"], help="run only this part (5. Memory)")
    args = ap.parse_args()
    if args.only == "memory":
        return memory_only()
    window = (4.0, args.duration - 2.0)
    out: dict = {"rate": args.rate, "duration": args.duration, "steadyWindow": window,
                 "cpus": os.cpu_count(), "loadavg": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as d, start_target(port=0, workers=1) as target:
        tmp = Path(d)
        cfg = config(target.url, args.rate, args.duration, "stream bench")
        out["cli"] = cli_run(tmp, cfg, window, args.duration)
        print("cli", out["cli"], flush=True)
        serve, base = start_serve(tmp, "--workers", "1")
        try:
            proc = psutil.Process(serve.pid)
            out["serve0"] = asyncio.run(serve_run(base, proc, cfg, 0, window, args.duration))
            print("serve, no client", out["serve0"], flush=True)
            out["serve5"] = asyncio.run(serve_run(base, proc, cfg, 5, window, args.duration))
            print("serve, 5 clients", out["serve5"], flush=True)
            out["chartUpdateMs"] = chart_update(base, target.url)
            print("chart", out["chartUpdateMs"], flush=True)
        finally:
            stop(serve)
        memory_runs(tmp, target.url, out, only=False)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    res = ROOT / "benchmarks" / "results"
    (res / f"serve-{stamp}.json").write_text(json.dumps(out, indent=2))
    s0, s5 = out["serve0"], out["serve5"]
    md = f"""# Control plane figures ({stamp}, {out['cpus']} cores shared with other work: load {out['loadavg'][0]:.1f})

Open model at {args.rate:,} arrivals/s, {args.duration} s, 1 worker; CPU over seconds {window[0]:g}-{window[1]:g}.

| figure | value | bar |
|---|---|---|
| coordinator process CPU, `lunge-mp run` (no API) | {out['cli']['cpuPercent']}% of a core (efficiency {out['cli']['efficiency']}) | |
| server + coordinator process CPU, `serve`, no stream client | {s0['cpuPercent']}% (server {s0['serverCpuPercent']}%, coordinator {s0['coordinatorCpuPercent']}%; efficiency {s0['efficiency']}) | |
| server + coordinator process CPU, `serve`, 5 stream clients | {s5['cpuPercent']}% (server {s5['serverCpuPercent']}%, coordinator {s5['coordinatorCpuPercent']}%; efficiency {s5['efficiency']}) | |
| streaming cost (5 clients − none) | {round(s5['cpuPercent'] - s0['cpuPercent'], 2)} points of a core (coordinator {round(s5['coordinatorCpuPercent'] - s0['coordinatorCpuPercent'], 2)}) | < 2 |
| message delay after the second was complete, p50 / p95 | {s5['messageDelayMs']['p50']} / {s5['messageDelayMs']['p95']} ms (n {s5['messageDelayMs']['n']}) | p95 < 10 ms |
| message delay after the second ended, p50 / p95 | {s5['sinceSecondEndMs']['p50']} / {s5['sinceSecondEndMs']['p95']} ms | |
| API GET latency during the run, p50 / p99 | {s5['apiMs']['p50']} / {s5['apiMs']['p99']} ms (n {s5['apiMs']['n']}) | p99 < 50 ms |
| dashboard: message receipt to its last chart's plotly_afterplot (Chromium), p50 / p95 | {(out['chartUpdateMs'] or {}).get('p50')} / {(out['chartUpdateMs'] or {}).get('p95')} ms (n {(out['chartUpdateMs'] or {}).get('n')}) | < 50 ms |
| dashboard: receipt to one chart's plotly_afterplot, p50 / p95 | {((out['chartUpdateMs'] or {}).get('perChart') or {}).get('p50')} / {((out['chartUpdateMs'] or {}).get('perChart') or {}).get('p95')} ms | |
{memory_md(out)}"""
    (res / f"serve-{stamp}.md").write_text(md)
    (res / "latest-serve.md").write_text(md)
    print(md)
    return 0


def memory_only() -> int:
    out: dict = {"cpus": os.cpu_count(), "loadavg": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as d, start_target(port=0, workers=1) as target:
        memory_runs(Path(d), target.url, out, only=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    res = ROOT / "benchmarks" / "results"
    (res / f"serve-memory-{stamp}.json").write_text(json.dumps(out, indent=2))
    md = f"""# Control plane memory ({stamp}, {out['cpus']} cores shared with other work: load {out['loadavg'][0]:.1f})

| figure | value | bar |
|---|---|---|
{memory_md(out)}"""
    (res / f"serve-memory-{stamp}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
