"""Per-second time series for the time charts, from the results' 1-second buckets. Pure.

Runs longer than MAX_POINTS seconds are drawn in bins of several seconds: rates are
averaged over the bin, latency percentiles and VUs are the worst second of the bin. Each
point's `t` is the middle of the second(s) it covers. Seconds without any report are gaps
(None), not zeros. Fields older results files lack (`generatorErrors`, `dataExhausted`,
`checksPassed`, `checksFailed`) are simply absent from `series`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from lunge_mp.metrics.names import FAILURE_CLASSES, UNKNOWN_FAILURE
from lunge_mp.report.html.fmt import plot_label
from lunge_mp.warmup import PREFIX as WARMUP_PREFIX   # results.json names X's copy "warmup:X"

MAX_POINTS = 3600            # chart points per series before binning
PHASE_COLORS = {"warmup": "#94a3b8", "ramp-up": "#60a5fa", "steady": "#34d399",
                "ramp-down": "#fbbf24", "idle": "#e2e8f0", "cooldown": "#c4b5fd"}
_EXTRA_PHASE_COLORS = ("#f472b6", "#22d3ee", "#a3e635", "#fb923c")
# series that are gaps in the idle seconds after the schedule's end (see time_series)
TAIL_GAPS = frozenset(("targetRate", "openIterations", "activeVUs", "vus", "targetVUs", "closedVUs",
                       "scheduled"))


def bin_width(first: int, last: int) -> int:
    """Seconds per chart point so that first..last fits in MAX_POINTS points."""
    return max(1, math.ceil((last - first + 1) / MAX_POINTS))


def _scenario_names(buckets: list[dict]) -> list[str]:
    """Scenario names for the per-scenario series; a warmup scenario "warmup:X" is drawn
    as X's line (the warmup runs X's requests), unless X itself never reported."""
    names = {name for b in buckets for name in (b.get("byScenario") or {})}
    return sorted({n[len(WARMUP_PREFIX):] if n.startswith(WARMUP_PREFIX)
                   and n[len(WARMUP_PREFIX):] in names else n for n in names})


def _scenario_value(b: dict, name: str, key: str) -> float | None:
    by = b.get("byScenario") or {}
    block = by.get(name) or by.get(WARMUP_PREFIX + name) or {}
    return block.get(key)


def _open_scenarios(results: dict) -> list[str]:
    names = set((results.get("efficiency") or {}).get("byScenario") or {})
    for name, s in (results.get("scenarios") or {}).items():
        if str(s.get("executor", "")).endswith("arrival-rate"):
            names.add(name)
    return sorted(names)


def _phases(buckets: list[dict]) -> list[dict]:
    """Contiguous runs of the buckets' `phase` field: [{phase, x0, x1}] (x1 exclusive)."""
    out: list[dict] = []
    for b in buckets:
        p = b.get("phase")
        t = b.get("t")
        if p is None or t is None:
            continue
        p = str(p)
        if out and out[-1]["phase"] == p and out[-1]["x1"] >= t:
            out[-1]["x1"] = t + 1
        else:
            out.append({"phase": p, "x0": t, "x1": t + 1})
    colors = dict(PHASE_COLORS)
    extra = iter(_EXTRA_PHASE_COLORS * 8)
    for seg in out:
        if seg["phase"] not in colors:
            colors[seg["phase"]] = next(extra, "#cbd5e1")
        seg["color"] = colors[seg["phase"]]
        seg["label"] = plot_label(seg["phase"])
    return out


def _sum(vals: Iterable[float | None]) -> float | None:
    vs = [v for v in vals if v is not None]
    return sum(vs) if vs else None


def _max(vals: Iterable[float | None]) -> float | None:
    vs = [v for v in vals if v is not None]
    return max(vs) if vs else None


def time_series(results: dict) -> dict:
    """Columnar per-second (or per-bin) series for the time charts; `t` is the middle of
    the second(s) a point covers, so bars and phase shading line up with it."""
    buckets = [b for b in results.get("buckets") or [] if isinstance(b.get("t"), int)]
    open_scns = _open_scenarios(results)
    by_t = {b["t"]: b for b in buckets}
    if not buckets:
        return {"t": [], "bin": 1, "phases": [], "hasOpen": bool(open_scns), "series": {},
                "errorClasses": [], "errorsByClass": False, "scenarios": []}
    t0, t1 = min(by_t), max(by_t)
    width = bin_width(t0, t1)
    classes_seen = {c for b in buckets for c in (b.get("errors") or {})}
    known = [*FAILURE_CLASSES, UNKNOWN_FAILURE]
    classes = [c for c in known if c in classes_seen] + sorted(classes_seen - set(known))
    by_class = any("errors" in b for b in buckets)

    def open_iters(b: dict) -> int:
        """Achieved open-model iterations: the warmup's own (it is its own load) or the
        open scenarios' (a closed scenario's iterations are not part of the target)."""
        if b.get("phase") == "warmup":
            return b.get("achievedRate", b.get("iterations", 0))
        by = b.get("byScenario") or {}
        return sum((by.get(s) or {}).get("iterations", 0) for s in open_scns)

    def closed_vus(b: dict) -> int:
        by = b.get("byScenario") or {}
        return sum((v or {}).get("vus", 0) for s, v in by.items() if s not in open_scns)

    # (name, per-bucket getter, how bins combine: "rate" = sum / width, "max", "mean")
    fields = [
        ("targetRate", lambda b: b.get("targetRate"), "mean"),
        ("openIterations", open_iters, "rate"),
        ("iterations", lambda b: b.get("iterations"), "rate"),
        ("requests", lambda b: b.get("requests"), "rate"),
        ("failures", lambda b: b.get("failures"), "rate"),
        ("generatorErrors", lambda b: b.get("generatorErrors"), "rate"),   # not in failures
        ("dropped", lambda b: b.get("dropped"), "rate"),
        ("dataExhausted", lambda b: b.get("dataExhausted"), "rate"),       # part of dropped
        ("checksPassed", lambda b: b.get("checksPassed"), "rate"),
        ("checksFailed", lambda b: b.get("checksFailed"), "rate"),
        ("scheduled", lambda b: b.get("scheduled"), "rate"),
        ("activeVUs", lambda b: b.get("activeVUs"), "max"),
        ("vus", lambda b: b.get("vus"), "max"),
        ("targetVUs", lambda b: b.get("targetVUs"), "max"),
        ("closedVUs", closed_vus, "max"),
        # a monitored Redis queue (metrics/queue.py): jobs in and out per second, backlog, memory
        ("queueEnqueued", lambda b: (b.get("queue") or {}).get("enqueued"), "rate"),
        ("queueProcessing", lambda b: (b.get("queue") or {}).get("processingRate"), "rate"),
        ("queueDepth", lambda b: (b.get("queue") or {}).get("depth"), "max"),
        ("queueMemoryMB", lambda b: _mb((b.get("queue") or {}).get("memoryBytes")), "max"),
    ]
    for key in ("p50", "p95", "p99", "rtP50", "rtP95", "rtP99", "lagP50", "lagP95", "lagP99"):
        fields.append((key, (lambda k: lambda b: b.get(k))(key), "max"))
    scenarios = _scenario_names(buckets)
    for name in scenarios:
        for key in ("p95", "p99"):
            fields.append((f"scn:{key}:{name}", (lambda n, k: lambda b: _scenario_value(b, n, k))(name, key),
                           "max"))
    for cls in classes:
        fields.append(("err:" + cls, (lambda c: lambda b: (b["errors"].get(c, 0)
                                                          if b.get("errors") is not None else None))(cls),
                       "rate"))

    # After the schedule's end, the seconds in which the last responses arrive are idle: the
    # target, the achieved rate and the VU gauges there are not the run's, and drawn they read
    # as a collapse. They are gaps; the counts of what completed in them stay.
    active = [b["t"] for b in buckets if b.get("phase") not in (None, "idle")]
    tail_from = max(active) + 1 if active and any("phase" in b for b in buckets) else t1 + 1
    xs: list[float] = []
    cols: dict[str, list] = {name: [] for name, _, _ in fields}
    for start in range(t0, t1 + 1, width):
        group = [by_t[t] for t in range(start, min(start + width, t1 + 1)) if t in by_t]
        xs.append(start + width / 2)   # the middle of the second(s) it covers
        for name, get, how in fields:
            if not group or (start >= tail_from and name in TAIL_GAPS):
                cols[name].append(None)
                continue
            vals = [get(b) for b in group]
            if how == "rate":
                s = _sum(vals)
                v = None if s is None else (s if width == 1 else round(s / width, 3))
            elif how == "mean":
                vs = [v for v in vals if v is not None]
                v = round(sum(vs) / len(vs), 3) if vs else None
            else:
                v = _max(vals)
            cols[name].append(v)
    present = {name: col for name, col in cols.items() if any(v is not None for v in col)}
    return {"t": xs, "xRange": [t0, xs[-1] + width / 2], "bin": width, "phases": _phases(buckets),
            "hasOpen": bool(open_scns),
            "series": present, "errorClasses": [[c, plot_label(c)] for c in classes],
            "scenarios": [[n, plot_label(n)] for n in scenarios],
            "errorsByClass": by_class, "hasQueue": "queueDepth" in present}


def _mb(n: object) -> float | None:
    return round(n / 1e6, 3) if isinstance(n, (int, float)) else None

