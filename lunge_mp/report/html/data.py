"""Everything the charts draw, as one JSON-ready dict. Pure."""

from __future__ import annotations

from lunge_mp.report.html.clock import clock_chart, run_end
from lunge_mp.report.html.distribution import distribution
from lunge_mp.report.html.fmt import plot_label
from lunge_mp.report.html.loadgen import load_generator
from lunge_mp.report.html.series import time_series

ANOMALY_KINDS = {"latency_spike": ("latency spike", "#dc2626"),
                 "error_burst": ("error burst", "#ea580c"),
                 "failures": ("failures", "#b91c1c"),
                 "drops": ("dropped arrivals", "#d97706"),
                 "saturation": ("load generator saturated", "#0f766e"),
                 "knee": ("knee", "#7c3aed")}
MAX_ANOMALY_MARKS = 100


def anomaly_label(kind: object) -> str:
    return ANOMALY_KINDS.get(str(kind), (str(kind).replace("_", " "), ""))[0]


def anomaly_color(kind: object) -> str:
    return ANOMALY_KINDS.get(str(kind), ("", "#475569"))[1] or "#475569"


def anomaly_marks(results: dict) -> list[dict]:
    """Anomaly spans for the latency chart: second `start` to the end of second `end`
    ([start, end + 1) on the seconds axis); labels and details as Plotly-safe text."""
    out = []
    for a in results.get("anomalies") or []:
        start, end = a.get("start"), a.get("end", a.get("start"))
        if not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
            continue
        out.append({"kind": str(a.get("kind")), "x0": start, "x1": max(end, start) + 1,
                    "label": plot_label(anomaly_label(a.get("kind"))), "color": anomaly_color(a.get("kind")),
                    "detail": plot_label(a.get("detail") or "")})
    return out[:MAX_ANOMALY_MARKS]


def chart_data(results: dict) -> dict:
    curves, problems = distribution(results)
    series = time_series(results)
    first = series["xRange"][0] if series.get("xRange") else None
    width = series["bin"] if series.get("xRange") else None
    clock = clock_chart(results, run_end(results))    # remote workers' offsets; absent otherwise
    return {**series, "distribution": curves, "problems": problems,
            "anomalies": anomaly_marks(results), "loadgen": load_generator(results, first, width),
            **({"clock": clock} if clock else {})}
