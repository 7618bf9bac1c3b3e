"""The load generator chart's data: CPU and memory of the coordinator, of every worker and
of the box, from `results["resources"]`. Pure.

A resource sample `t` is taken t seconds after t0 and measures the second before it, so
it is drawn over second t-1 (x = t-0.5, the same place as that second's bucket). Runs
longer than MAX_POINTS seconds are binned like the other time charts, each point the
worst (highest) second of its bin.

Saturated seconds (analysis/saturation.py, the test the coordinator warns with live) are
returned as spans to shade and as one line per worker and kind for the chart's note.
"""

from __future__ import annotations

import math

from lunge_mp.analysis.saturation import CPU_WARN_PERCENT, LOOP_LAG_WARN_MS, joined, saturation, sort_worker_id
from lunge_mp.report.html.fmt import plot_label
from lunge_mp.report.html.series import bin_width

MAX_WORKER_LINES = 8     # beyond this, per-worker lines start hidden; max/mean/total shown
MAX_SPANS = 200          # shaded saturation spans at most (the note counts them all)


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


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
    worker_ids = sorted({str(w) for s in samples for w in (s.get("workers") or {})}, key=sort_worker_id)

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
    spans = [{"x0": a, "x1": z} for a, z in joined([x for e in sat for a, z in e["spans"]
                                                      for x in range(a, z)])][:MAX_SPANS]
    return {"t": xs, "xRange": [first, xs[-1] + width / 2], "bin": width,
            "series": {k: v for k, v in cols.items() if any(x is not None for x in v)},
            "workers": [[w, plot_label(f"worker {w}")] for w in worker_ids], "many": many,
            "saturation": [{k: v for k, v in e.items() if k != "spans"} for e in sat],
            "spans": spans, "present": True, "cpuWarn": CPU_WARN_PERCENT, "lagWarn": LOOP_LAG_WARN_MS}
