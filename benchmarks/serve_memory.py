"""The memory part of the control plane's figures (benchmarks/serve_bench.py, item 5 of its
docstring; `serve_bench.py --only memory` runs just this): 10 streamed tests at once, workers
apart, the server's RSS beyond idle + the coordinators' USS + the fork server's USS, and for
the forked coordinators how much of their private memory is copies of the fork server's pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

from pagemap_split import private_split
from serve_bench import ROOT, config, coordinators, start_serve, stop, watch

from lunge_mp.target import start_target


def _uss_pss_rss(procs: list[psutil.Process]) -> tuple[int, int, int]:
    uss = pss = rss = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            full = p.memory_full_info()
            uss, pss, rss = uss + full.uss, pss + full.pss, rss + full.rss
    return uss, pss, rss


def _split_mean(children: list[psutil.Process], parent: int) -> tuple[float, float] | None:
    """The mean (copied, own) over the coordinators, or None where pagemap cannot be read."""
    splits = []
    for child in children:
        with contextlib.suppress(OSError, psutil.NoSuchProcess):
            splits.append(private_split(child.pid, parent))
    if not splits:
        return None
    return sum(c for c, _ in splits) / len(splits), sum(o for _, o in splits) / len(splits)


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
    forks = coordinators(proc, "lunge_mp.api.forkserver")
    if forks:
        best["split"] = _split_mean(coordinators(proc), forks[0].pid)
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
            "pssFigureMB": round((best["server"] - idle + best["pss"] + best["forkPss"]) / mb, 1),
            "coordinatorCopiedMB": round(best["split"][0] / mb, 2) if best.get("split") else None,
            "coordinatorOwnMB": round(best["split"][1] / mb, 2) if best.get("split") else None}


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
    if m.get("coordinatorCopiedMB") is not None:
        rows += (f"| ... one forked coordinator's private memory at the window's end (mean of {m['coordinators']}): "
                 f"copies of the fork server's pages + its own (/proc/PID/pagemap) | {m['coordinatorCopiedMB']} + "
                 f"{m['coordinatorOwnMB']} MB | |\n")
    if "memory10NoClients" in out:
        rows += f"| ... fork server, no stream clients | {out['memory10NoClients']['figureMB']} MB | |\n"
    return rows


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
