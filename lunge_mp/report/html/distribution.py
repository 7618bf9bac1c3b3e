"""The latency distribution chart's data: percentile curves from the encoded HDR
histograms in `results["histograms"]`. Pure.

A curve is drawn against x = 1/(1-p) on a log axis, so p50, p90, p99, p99.9 ... are evenly
spaced: k decades of x is the percentile 100·(1-10^-k).
"""

from __future__ import annotations

import math

from lunge_mp.metrics import hdr
from lunge_mp.report.html.fmt import plot_label

DIST_STEP = 0.025            # percentile curve resolution in decades of 1/(1-p)
DIST_MAX_DECADES = 5         # up to p99.999
MAX_VISIBLE_REQUEST_CURVES = 6


def _split_key(key: str) -> tuple[str, str, str] | None:
    """"scenario/request/metric" → parts; request names may contain '/'."""
    first, last = key.find("/"), key.rfind("/")
    if first < 0 or first == last:
        return None
    return key[:first], key[first + 1:last], key[last + 1:]


def _curve(h) -> dict:
    """Percentile curve of one histogram: x = 1/(1-p) on a log axis, y in ms."""
    n = h.total_count
    kmax = min(DIST_MAX_DECADES, math.log10(n)) if n > 1 else 0.0
    ks = [i * DIST_STEP for i in range(int(kmax / DIST_STEP) + 1)]
    ps = [0.0] + [100.0 * (1 - 10 ** -k) for k in ks[1:]]
    vals = hdr.percentiles(h, ps)
    x = [round(10 ** k, 4) for k in ks]
    y = [round(vals[p] / 1000.0, 3) for p in ps]
    pl = [round(p, 4) for p in ps]
    x.append(round(10 ** kmax, 4) if ks else 1.0)
    y.append(round(h.get_max_value() / 1000.0, 3))
    pl.append(100.0)
    return {"x": x, "y": y, "p": pl, "count": n}


def distribution(results: dict) -> tuple[list[dict], list[str]]:
    """Percentile curves from the encoded HDR histograms: run-wide service time, response
    time and schedule lag, then service time per request (busiest first). Returns
    (curves, problems)."""
    problems: list[str] = []
    merged: dict[str, object] = {}
    per_request: dict[tuple[str, str], object] = {}
    for key, enc in sorted((results.get("histograms") or {}).items()):
        parts = _split_key(key)
        if parts is None:
            problems.append(f"histogram {key!r}: not scenario/request/metric; skipped")
            continue
        scenario, request, metric = parts
        try:
            h = hdr.decode(enc)
        except ValueError as exc:
            problems.append(f"histogram {key!r}: {exc}")
            continue
        if not h.total_count:
            continue
        if metric in ("http_req_duration", "http_req_response_time", "schedule_lag"):
            dst = merged.get(metric)
            if dst is None:
                dst = merged[metric] = hdr.new_histogram()
            hdr.merge(dst, h)
        if metric == "http_req_duration" and request:
            per_request[(scenario, request)] = h
    curves = []
    for metric, label in (("http_req_duration", "all requests: service time"),
                          ("http_req_response_time", "all requests: response time (from schedule)"),
                          ("schedule_lag", "schedule lag")):
        if metric in merged:
            curves.append({"name": plot_label(label), "group": "run", "metric": metric,
                           **_curve(merged[metric])})
    names = [r for _, r in per_request]
    ranked = sorted(per_request.items(), key=lambda kv: (-kv[1].total_count, kv[0]))
    for i, ((scenario, request), h) in enumerate(ranked):
        label = request if names.count(request) == 1 else f"{scenario}/{request}"
        curves.append({"name": plot_label(label), "group": "request", "metric": "http_req_duration",
                       "visible": i < MAX_VISIBLE_REQUEST_CURVES, **_curve(h)})
    return curves, problems

