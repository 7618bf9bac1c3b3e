"""When the load generator measured its own queueing: one home for the saturation test. Pure.

A worker is saturated in a second where its CPU is at least CPU_WARN_PERCENT of a core or
its event loop ran timers LOOP_LAG_WARN_MS late: its latencies then include time spent
waiting inside the load generator. The coordinator warns live (coordinator/resources.py),
the report shades those seconds (report/html/loadgen.py) and lists them as anomalies.

A resource sample `t` is taken t seconds after t0 and measures the second before it, so its
second is t-1.
"""

from __future__ import annotations

CPU_WARN_PERCENT = 90.0
LOOP_LAG_WARN_MS = 50.0
KINDS = (("cpu", "cpuPercent", CPU_WARN_PERCENT), ("lag", "loopLagMs", LOOP_LAG_WARN_MS))


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def saturated(worker_sample: dict) -> list[tuple[str, float]]:
    """(kind, value) for each limit one worker's sample reaches: "cpu" and/or "lag"."""
    out = []
    for kind, key, limit in KINDS:
        v = _num((worker_sample or {}).get(key))
        if v is not None and v >= limit:
            out.append((kind, v))
    return out


def joined(seconds: list[int]) -> list[tuple[int, int]]:
    """Consecutive seconds as [first, last + 1) spans: [3, 4, 9] → [(3, 5), (9, 10)]."""
    spans: list[tuple[int, int]] = []
    for s in sorted(set(seconds)):
        if spans and s == spans[-1][1]:
            spans[-1] = (spans[-1][0], s + 1)
        else:
            spans.append((s, s + 1))
    return spans


def sort_worker_id(wid: str) -> tuple[int, int | str]:
    return (0, int(wid)) if wid.isdigit() else (1, wid)


def saturation(samples: list[dict]) -> list[dict]:
    """Per worker and kind ("cpu" | "lag"): the seconds it was saturated, the first of
    them and the worst value seen: [{worker, kind, seconds, first, peak, spans}]."""
    found: dict[tuple[str, str], dict] = {}
    for s in samples:
        sec = max(0, int(s["t"]) - 1)
        for wid, w in (s.get("workers") or {}).items():
            for kind, v in saturated(w):
                e = found.setdefault((str(wid), kind), {"worker": str(wid), "kind": kind, "secs": [], "peak": v})
                e["secs"].append(sec)
                e["peak"] = max(e["peak"], v)
    out = []
    for _, e in sorted(found.items(), key=lambda kv: (sort_worker_id(kv[0][0]), kv[0][1])):
        secs = e.pop("secs")
        out.append({**e, "seconds": len(set(secs)), "first": min(secs), "spans": joined(secs)})
    return out
