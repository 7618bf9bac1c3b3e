"""One lunge-mp run of the self-benchmark and its figures (counted at the target), and the
median row over repeats."""

from __future__ import annotations

import json
import os
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from selfbench.configs import LG_CPU, RUN_TIMEOUT_EXTRA_S, TARGET_CPU
from selfbench.procs import busy_box, busy_cpu, lunge_cmd, lunge_env, pin, run_command, settle, tree_cpu

def target_rate(per_second: dict[str, int]) -> tuple[float | None, list[int]]:
    """Mean of the target's per-second counts over the whole seconds strictly between the
    first and the last second in which it saw any request (gaps count as 0)."""
    if not per_second:
        return None, []
    secs = sorted(int(k) for k in per_second)
    series = [int(per_second.get(str(s), 0)) for s in range(secs[0], secs[-1] + 1)]
    interior = series[1:-1]
    if not interior:
        return None, series
    return sum(interior) / len(interior), series


def _m(metrics: dict, name: str, field: str):
    v = metrics.get(name)
    if isinstance(v, dict):
        return v.get(field)
    return v if field == "count" else None


def steady_cores(resources: list[dict], duration: float) -> tuple[float | None, float | None]:
    """(load generator cores, coordinator cores): mean of results.json's per-second CPU samples
    over the seconds strictly inside the schedule (start-up, the first and the last second left out)."""
    inner = [r for r in resources if 1 <= (r.get("t") or 0) <= duration - 1]
    if not inner:
        return None, None
    lg = [(r.get("coordinator") or {}).get("cpuPercent", 0.0)
          + sum((w or {}).get("cpuPercent", 0.0) for w in (r.get("workers") or {}).values()) for r in inner]
    co = [(r.get("coordinator") or {}).get("cpuPercent", 0.0) for r in inner]
    return round(statistics.mean(lg) / 100, 3), round(statistics.mean(co) / 100, 4)


def phase_efficiency(buckets: list[dict]) -> dict[str, dict]:
    """Per bucket phase: started ÷ due (due = `scheduled`, started = scheduled − dropped) and
    achieved ÷ target (the buckets' `achievedRate` and `targetRate` summed)."""
    out: dict[str, dict] = {}
    for b in buckets:
        ph = b.get("phase") or "?"
        if ph in ("idle", "warmup"):
            continue
        o = out.setdefault(ph, {"seconds": 0, "due": 0, "dropped": 0, "target": 0.0, "achieved": 0.0})
        o["seconds"] += 1
        o["due"] += b.get("scheduled") or 0
        o["dropped"] += b.get("dropped") or 0
        o["target"] += b.get("targetRate") or 0.0
        o["achieved"] += b.get("achievedRate") or 0.0
    for o in out.values():
        o["efficiency"] = round((o["due"] - o["dropped"]) / o["due"], 6) if o["due"] else None
        o["achievedOverTarget"] = round(o["achieved"] / o["target"], 6) if o["target"] else None
    return out


@dataclass
class Spec:
    """One configuration to measure."""
    label: str
    section: str
    kind: str                       # open | closed
    config: str
    info: dict
    duration: int
    rate: int | None = None
    pinned: bool = False            # LG on CPU 0, target on CPU 1
    workers: int | None = None
    extra: dict = field(default_factory=dict)


def one_run(spec: Spec, target, tmp: Path, n: int) -> dict:
    safe = re.sub(r"[^A-Za-z0-9]+", "_", spec.label) + f"_{n}"
    cfg, out, errp = tmp / f"{safe}.yaml", tmp / f"{safe}.results.json", tmp / f"{safe}.stderr"
    cfg.write_text(spec.config)
    row: dict = {"label": spec.label, "section": spec.section, "kind": spec.kind, "rate": spec.rate,
                 "config": spec.info, "pinned": spec.pinned, "loadavgBefore": os.getloadavg(), "error": None}
    pin(target.pid, {TARGET_CPU} if spec.pinned else None)
    settle(target)
    target.reset()
    before = target.stats()
    tcpu0 = tree_cpu(target.pid)
    busy0, steal0 = busy_cpu()
    code, wall, rusage_cpu, _ = run_command(
        lunge_cmd(cfg, out, target.url, spec.workers), errp, spec.duration + RUN_TIMEOUT_EXTRA_S,
        {LG_CPU} if spec.pinned else None, env=lunge_env())
    tcpu1 = tree_cpu(target.pid)
    busy1, steal1 = busy_cpu()
    if not target.alive:
        raise RuntimeError(f"the target died during {spec.label} (exit {target.returncode}):\n{target.log()[-2000:]}")
    after = target.stats()
    stderr = errp.read_text(errors="replace")
    row.update(exitCode=code, wallSeconds=round(wall, 3), stderrTail=stderr[-4000:])
    if code not in (0, 99, 113):        # 113: below minEfficiency, a figure like any other here
        row["error"] = f"lunge-mp exited {code}"
    if not out.exists():
        row["error"] = f"lunge-mp exited {code} and wrote no results.json"
        return row
    res = json.loads(out.read_text())
    metrics = res.get("metrics", {})
    t_count = after["requests"] - before["requests"]
    achieved, series = target_rate(after.get("perSecond", {}))
    lg_reqs = _m(metrics, "http_reqs", "count")
    coord_cpu = (res.get("coordinator") or {}).get("cpuSeconds")
    workers_info = res.get("workers") or []
    workers_cpu = sum((w.get("cpuUserSeconds") or 0) + (w.get("cpuSystemSeconds") or 0) for w in workers_info)
    lg_cpu = (coord_cpu or 0) + workers_cpu
    dropped = metrics.get("dropped_iterations")
    dropped_count = dropped.get("count") if isinstance(dropped, dict) else dropped
    buckets = res.get("buckets") or []
    duration = res.get("durationSeconds") or spec.duration
    lg_cores, coord_cores = steady_cores(res.get("resources") or [], spec.duration)
    p99 = _m(metrics, "http_req_duration", "p99")
    row.update(
        status=res.get("status"), abortReason=res.get("abortReason"), durationSeconds=duration,
        transport=res.get("transport"),
        efficiency=(res.get("efficiency") or {}).get("overall"),
        iterations=_m(metrics, "iterations", "count"),
        droppedIterations=dropped_count,
        droppedByCause=dropped.get("byCause") if isinstance(dropped, dict) else None,
        failures=_m(metrics, "http_req_failed", "count"),
        failuresByClass=(metrics.get("http_req_failed") or {}).get("byClass"),
        firstError=(metrics.get("http_req_failed") or {}).get("firstError"),
        requestsLunge=lg_reqs, requestsTarget=t_count, countsMatch=(lg_reqs == t_count),
        countsDelta=(lg_reqs - t_count) if lg_reqs is not None else None,
        interruptedIterations=_m(metrics, "interrupted_iterations", "count"),
        achievedRateTarget=achieved, targetPerSecond=series,
        lungeBucketRequests=[b.get("requests") for b in buckets],
        serviceP50Ms=_m(metrics, "http_req_duration", "p50"), serviceP99Ms=p99,
        serviceMaxMs=_m(metrics, "http_req_duration", "max"),
        responseP50Ms=_m(metrics, "http_req_response_time", "p50"),
        responseP99Ms=_m(metrics, "http_req_response_time", "p99"),
        scheduleLagP99Ms=_m(metrics, "schedule_lag", "p99"),
        vusMax=metrics.get("vus_max"),
        coordinatorCpuSeconds=coord_cpu, workersCpuSeconds=round(workers_cpu, 3),
        workers=[{k: w.get(k) for k in ("id", "cpuUserSeconds", "cpuSystemSeconds", "rssMB", "lostAt", "error")}
                 for w in workers_info],
        loadGenCpuSeconds=round(lg_cpu, 3), loadGenCpuSecondsRusage=round(rusage_cpu, 3),
        # cores: whole processes (start-up, imports and shutdown included) over the run's
        # duration, and steady (per-second samples inside the schedule)
        loadGenCoresWhole=round(rusage_cpu / duration, 3) if duration else None,
        loadGenCoresSteady=lg_cores,
        coordinatorCoresWhole=round(coord_cpu / duration, 4) if (coord_cpu and duration) else None,
        coordinatorCoresSteady=coord_cores,
        workerCpuMicrosPerRequest=round(workers_cpu / lg_reqs * 1e6, 2) if lg_reqs else None,
        targetCpuSeconds=round(tcpu1 - tcpu0, 3),
        boxBusyCpuSeconds=round(busy1 - busy0, 3),
        otherCpuSecondsApprox=round((busy1 - busy0) - rusage_cpu - (tcpu1 - tcpu0), 3),
        stealCpuSeconds=round(steal1 - steal0, 3),
        busyBox=busy_box((busy1 - busy0) - rusage_cpu - (tcpu1 - tcpu0), wall),
        requestsPerLoadGenCpuSecond=(lg_reqs / lg_cpu) if (lg_reqs and lg_cpu) else None,
        phases=phase_efficiency(buckets) if spec.info.get("executor") == "ramping-arrival-rate" else None,
        warnings=res.get("warnings"), reportGaps=res.get("reportGaps"),
    )
    if p99 is not None and spec.info.get("path", "").startswith("/delay/"):
        row["addedP99Ms"] = round(p99 - int(spec.info["path"].rsplit("/", 1)[1]), 3)
    return row


def median_row(runs: list[dict]) -> dict:
    """A row holding the median of every numeric figure of `runs` (the raw runs are kept)."""
    ok = [r for r in runs if not r.get("error") and "requestsLunge" in r] or runs
    row = dict(ok[len(ok) // 2])
    for k, v in list(row.items()):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            vals = [r[k] for r in ok if isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)]
            if vals:
                row[k] = statistics.median(vals)
    if any("countsMatch" in r for r in ok):
        row["countsMatch"] = all(r.get("countsMatch") for r in ok)
        deltas = [r["countsDelta"] for r in ok if r.get("countsDelta") is not None]
        row["countsDelta"] = max(deltas, key=abs) if deltas else None     # the worst repeat
    row["busyBox"] = any(r.get("busyBox") for r in ok)
    if ok and ok[0].get("phases"):
        row["phases"] = {ph: {k: statistics.median([r["phases"][ph][k] for r in ok
                                                    if ph in (r.get("phases") or {}) and r["phases"][ph].get(k) is not None] or [None])
                              for k in ok[0]["phases"][ph]}
                         for ph in ok[0]["phases"]}
    row["repeats"] = len(runs)
    row["errors"] = [r["error"] for r in runs if r.get("error")]
    row["error"] = None if len(ok) and not ok[0].get("error") else (runs[0].get("error") if runs else "no run")
    return row
