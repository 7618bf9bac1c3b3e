"""The self-benchmark's tables (text and Markdown) and its acceptance bars."""

from __future__ import annotations

from lunge_mp import formatting as fmt
from selfbench.configs import (CLOSED_BARS, COORD_BAR, COORD_RATE, LATENCY_BAR_MS, OPEN_CORES_BAR,
                               OPEN_EFF_BARS, SEARCH_EFF)

COLUMNS = ["run", "target /s", "achieved /s (target)", "eff", "reqs lunge", "reqs target", "match",
           "svc p50 ms", "svc p99 ms", "resp p99 ms", "coord CPU s", "workers CPU s", "target CPU s",
           "LG cores", "worker µs/req", "req/CPU-s (LG)", "dropped", "failed"]


def table_rows(rows: list[dict]) -> list[list[str]]:
    out = []
    for r in rows:
        if r.get("error") and "requestsLunge" not in r:
            out.append([r["label"], fmt.num(r.get("rate"), ",d", "max"), "ERROR"] + [""] * (len(COLUMNS) - 3))
            continue
        run = r["label"] + (" ERROR" if r.get("error") else "") + (" (busy box)" if r.get("busyBox") else "")
        eff = r.get("efficiency")
        out.append([
            run, fmt.num(r.get("rate"), ",.0f", "max"), fmt.num(r.get("achievedRateTarget"), ",.0f"),
            "-" if eff is None else f"{eff * 100:.2f}%",
            fmt.num(r.get("requestsLunge"), ",.0f"), fmt.num(r.get("requestsTarget"), ",.0f"),
            "yes" if r.get("countsMatch") else f"NO ({fmt.num(r.get('countsDelta'), '+,.0f', '?')})",
            fmt.num(r.get("serviceP50Ms"), ".2f"), fmt.num(r.get("serviceP99Ms"), ".2f"), fmt.num(r.get("responseP99Ms"), ".2f"),
            fmt.num(r.get("coordinatorCpuSeconds"), ".2f"), fmt.num(r.get("workersCpuSeconds"), ".2f"),
            fmt.num(r.get("targetCpuSeconds"), ".2f"), fmt.num(r.get("loadGenCoresSteady"), ".2f"),
            fmt.num(r.get("workerCpuMicrosPerRequest"), ".1f"),
            fmt.num(r.get("requestsPerLoadGenCpuSecond"), ",.0f"),
            fmt.num(r.get("droppedIterations"), ",.0f"), fmt.num(r.get("failures"), ",.0f"),
        ])
    return out


PEER_COLUMNS = ["tool", "run", "req/s (target)", "eff", "p50 ms", "p99 ms", "cores", "lunge_mp ÷ tool"]


def peer_rows(peers: list[dict], lunge: dict[str, dict]) -> list[list[str]]:
    out = []
    for p in peers:
        if p.get("error") and p.get("requestsTarget") is None:
            out.append([p["tool"], p["label"], "ERROR"] + [""] * (len(PEER_COLUMNS) - 3))
            continue
        mine = lunge.get(p["label"]) or {}
        if p["label"].startswith("latency"):
            ratio = (f"added p99 {mine['addedP99Ms'] - (p['p99Ms'] - 10):+.2f} ms"
                     if mine.get("addedP99Ms") is not None and p.get("p99Ms") is not None else "-")
        elif p["label"].startswith("open"):
            ratio = (f"cores ×{mine['loadGenCoresSteady'] / p['coresSteady']:.2f}"
                     if mine.get("loadGenCoresSteady") and p.get("coresSteady") else "-")
        else:
            ratio = (f"req/s ×{mine['achievedRateTarget'] / p['achievedRateTarget']:.2f}"
                     if mine.get("achievedRateTarget") and p.get("achievedRateTarget") else "-")
        eff = p.get("efficiency")
        out.append([p["tool"], p["label"], fmt.num(p.get("achievedRateTarget"), ",.0f"),
                    "-" if eff is None else f"{eff * 100:.2f}%",
                    fmt.num(p.get("p50Ms"), ".2f"), fmt.num(p.get("p99Ms"), ".2f"),
                    fmt.num(p.get("coresSteady"), ".2f"), ratio])
    return out


def text_table(columns: list[str], cells_rows: list[list[str]]) -> str:
    return "\n".join(fmt.table([columns] + cells_rows))


def md_table(columns: list[str], cells_rows: list[list[str]]) -> str:
    return fmt.md_table([columns] + cells_rows)


def bars(rows: list[dict], peers: list[dict], search: dict | None) -> list[dict]:
    by = {r["label"]: r for r in rows}
    out: list[dict] = []

    def bar(what: str, value, ok: bool | None, shown: str) -> None:
        out.append({"bar": what, "value": value, "pass": ok, "shown": shown})

    for transport, need in CLOSED_BARS.items():
        r = by.get(f"closed 50 VUs {transport} (1 core)")
        if r is not None:
            v = r.get("achievedRateTarget")
            bar(f"closed, 1 core, {transport} >= {need:,} req/s", v, None if v is None else v >= need,
                fmt.num(v, ",.0f"))
    for rate, need in OPEN_EFF_BARS.items():
        r = by.get(f"open {rate}/s")
        if r is not None:
            v = r.get("efficiency")
            bar(f"open {rate:,}/s efficiency >= {need:.1%}", v, None if v is None else v >= need,
                "-" if v is None else f"{v:.2%}")
    rate, need = OPEN_CORES_BAR
    r = by.get(f"open {rate}/s")
    if r is not None:
        v = r.get("loadGenCoresSteady")
        bar(f"open {rate:,}/s load generator < {need} core (steady; whole process "
            f"{fmt.num(r.get('loadGenCoresWhole'), '.2f')})", v, None if v is None else v < need, fmt.num(v, ".3f"))
    if search is not None:
        bar(f"open: highest rate held at >= {SEARCH_EFF:.0%} (searched {', '.join(f'{x:,}' for x in search['tried'])})",
            search.get("highest"), None, fmt.num(search.get("highest"), ",d", "none"))
    lat = by.get("latency 200 VUs /delay/10")
    if lat is not None:
        wrk = next((p for p in peers if p["tool"] == "wrk" and p["label"] == lat["label"]), None)
        mine = lat.get("addedP99Ms")
        if wrk is not None and wrk.get("p99Ms") is not None and mine is not None:
            diff = mine - (wrk["p99Ms"] - 10)
            bar(f"latency added at p99 on /delay/10, 200 VUs: within {LATENCY_BAR_MS} ms of wrk "
                f"(lunge_mp +{mine:.2f} ms, wrk +{wrk['p99Ms'] - 10:.2f} ms)", diff, diff <= LATENCY_BAR_MS,
                f"{diff:+.2f} ms")
        else:
            bar("latency added at p99 on /delay/10, 200 VUs: within 2 ms of wrk (wrk not run)", mine, None,
                f"lunge_mp +{fmt.num(mine, '.2f')} ms")
    r = by.get(f"coord {COORD_RATE // 1000}k/s")
    if r is not None:
        v = r.get("coordinatorCoresSteady")
        bar(f"coordinator at {COORD_RATE:,} arrivals/s < {COORD_BAR:.0%} of a core (steady; whole process "
            f"{fmt.num(r.get('coordinatorCoresWhole'), '.3f')})", v, None if v is None else v < COORD_BAR,
            "-" if v is None else f"{v:.1%}")
    ramp = next((r for r in rows if r.get("section") == "ramp"), None)
    if ramp is not None and ramp.get("phases"):
        for ph, o in ramp["phases"].items():
            e = o.get("efficiency")
            bar(f"ramp 1k->10k, phase {ph} ({o.get('seconds')} s): efficiency (achieved ÷ target "
                f"{fmt.num(o.get('achievedOverTarget'), '.4f')})", e, None, "-" if e is None else f"{e:.2%}")
    return out


def bars_md(items: list[dict]) -> str:
    verdict = {None: "n/a", True: "PASS", False: "FAIL"}
    return fmt.md_table([["bar", "figure", "verdict"]]
                        + [[b["bar"], b["shown"], verdict[b["pass"]]] for b in items], left=(0, 2))


def extra_lines(extra: dict) -> list[str]:
    """The start-up and aggregation-memory figures, one line each."""
    out = []
    s = extra.get("startup")
    if s:
        out.append(f"start-up to the first request ({s['workers']} workers, bytecode cached): median "
                   f"{fmt.num(s['medianSeconds'], '.3f')} s of {s['seconds']}")
    for mode, r in (extra.get("aggregationMemory") or {}).items():
        day = "" if r["per24hMB"] is None else (
            f"; over 24 h +{r['per24hMB']:,.1f} MB ("
            + (f"extrapolated from {r['hours']:g} h" if r["extrapolated"] else "measured") + ")")
        out.append(f"aggregation memory, {mode}: +{r['growthMB']:,.1f} MB RSS over {r['hours']:g} h of reports{day}")
    return out
