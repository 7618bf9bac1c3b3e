"""The load generator chart's data: CPU and memory of the coordinator, of every worker and
of the box, from `results["resources"]`. Pure.

A resource sample `t` is taken t seconds after t0 and measures the second before it, so
it is drawn over second t-1 (x = t-0.5, the same place as that second's bucket). Runs
longer than MAX_POINTS seconds are binned like the other time charts, each point the
worst (highest) second of its bin.

A worker is saturated in a second where its CPU is at least CPU_WARN_PERCENT or its event
loop ran LOOP_LAG_WARN_MS late (the coordinator's own test, coordinator/resources.py):
its latencies then include its own queueing. Those seconds are returned as spans to shade
and as one line per worker and kind for the chart's note.
"""

from __future__ import annotations

import math

from lunge_mp.coordinator.resources import CPU_WARN_PERCENT, LOOP_LAG_WARN_MS
from lunge_mp.report.html.fmt import plot_label
from lunge_mp.report.html.series import bin_width

MAX_WORKER_LINES = 8     # beyond this, per-worker lines start hidden; max/mean/total shown
MAX_SPANS = 200          # shaded saturation spans at most (the note counts them all)


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _joined(seconds: list[int]) -> list[tuple[int, int]]:
    """Consecutive seconds as [first, last + 1) spans: [3, 4, 9] → [(3, 5), (9, 10)]."""
    spans: list[tuple[int, int]] = []
    for s in sorted(set(seconds)):
        if spans and s == spans[-1][1]:
            spans[-1] = (spans[-1][0], s + 1)
        else:
            spans.append((s, s + 1))
    return spans


def saturation(samples: list[dict]) -> list[dict]:
    """Per worker and kind ("cpu" | "lag"): the seconds it was saturated, the first of
    them and the worst value seen: [{worker, kind, seconds, first, peak, spans}]."""
    found: dict[tuple[str, str], dict] = {}
    for s in samples:
        sec = max(0, int(s["t"]) - 1)
        for wid, w in (s.get("workers") or {}).items():
            for kind, key, limit in (("cpu", "cpuPercent", CPU_WARN_PERCENT),
                                     ("lag", "loopLagMs", LOOP_LAG_WARN_MS)):
                v = _num((w or {}).get(key))
                if v is not None and v >= limit:
                    e = found.setdefault((str(wid), kind), {"worker": str(wid), "kind": kind, "secs": [],
                                                            "peak": v})
                    e["secs"].append(sec)
                    e["peak"] = max(e["peak"], v)
    out = []
    for (_, _), e in sorted(found.items(), key=lambda kv: (_sort_id(kv[0][0]), kv[0][1])):
        secs = e.pop("secs")
        out.append({**e, "seconds": len(set(secs)), "first": min(secs), "spans": _joined(secs)})
    return out


def _sort_id(wid: str) -> tuple[int, int | str]:
    return (0, int(wid)) if wid.isdigit() else (1, wid)


def load_generator(results: dict, first: int | None, width: int | None) -> dict:
    """Columnar series on the time charts' grid (`first` second, `width` seconds a point;
    None when the run has no buckets: then the samples make their own grid)."""
    samples = sorted((s for s in results.get("resources") or []
                      if isinstance(s, dict) and _num(s.get("t")) is not None), key=lambda s: s["t"])
    sat = saturation(samples)
    if not samples:
        return {"t": [], "workers": [], "saturation": [], "spans": [], "present": False,
                "cpuWarn": CPU_WARN_PERCENT, "lagWarn": LOOP_LAG_WARN_MS}
    secs = [max(0, int(s["t"]) - 1) for s in samples]
    if first is None or width is None:
        first, width = min(secs), bin_width(min(secs), max(secs))
    elif min(secs) < first:     # samples before the first bucket: extend the grid back
        first -= math.ceil((first - min(secs)) / width) * width
    worker_ids = sorted({str(w) for s in samples for w in (s.get("workers") or {})}, key=_sort_id)

    def get(s: dict, *path: str) -> float | None:
        v: object = s
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        return _num(v)

    getters = {"coordinatorCpu": lambda s: get(s, "coordinator", "cpuPercent"),
               "coordinatorRss": lambda s: get(s, "coordinator", "rssMB"),
               "boxCpu": lambda s: get(s, "boxCpuPercent"),
               "boxMemory": lambda s: get(s, "boxMemoryPercent")}
    for wid in worker_ids:
        for key, name in (("cpuPercent", "cpu"), ("rssMB", "rss"), ("loopLagMs", "lag")):
            getters[f"w:{name}:{wid}"] = (lambda w, k: lambda s: get(s, "workers", w, k))(wid, key)
    many = len(worker_ids) > MAX_WORKER_LINES
    if many:
        def over_workers(key: str, how):
            def f(s: dict) -> float | None:
                vs = [v for w in (s.get("workers") or {}).values() if (v := _num((w or {}).get(key))) is not None]
                return round(how(vs), 1) if vs else None
            return f
        getters["workersMaxCpu"] = over_workers("cpuPercent", max)
        getters["workersMeanCpu"] = over_workers("cpuPercent", lambda vs: sum(vs) / len(vs))
        getters["workersTotalRss"] = over_workers("rssMB", sum)

    by_bin: dict[int, list[dict]] = {}
    for sec, s in zip(secs, samples):
        by_bin.setdefault((sec - first) // width, []).append(s)
    last = max(by_bin)
    xs = [first + i * width + width / 2 for i in range(last + 1)]
    cols: dict[str, list] = {k: [] for k in getters}
    for i in range(last + 1):
        group = by_bin.get(i, [])
        for k, f in getters.items():
            vals = [v for s in group if (v := f(s)) is not None]
            cols[k].append(max(vals) if vals else None)
    spans = [{"x0": a, "x1": z} for a, z in _joined([x for e in sat for a, z in e["spans"]
                                                      for x in range(a, z)])][:MAX_SPANS]
    return {"t": xs, "xRange": [first, xs[-1] + width / 2], "bin": width,
            "series": {k: v for k, v in cols.items() if any(x is not None for x in v)},
            "workers": [[w, plot_label(f"worker {w}")] for w in worker_ids], "many": many,
            "saturation": [{k: v for k, v in e.items() if k != "spans"} for e in sat],
            "spans": spans, "present": True, "cpuWarn": CPU_WARN_PERCENT, "lagWarn": LOOP_LAG_WARN_MS}
