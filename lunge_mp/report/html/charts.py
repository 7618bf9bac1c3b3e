"""The chart boxes in the page (the drawing is script.py's): which charts, in what order,
with what titles, and the phase legend above them."""

from __future__ import annotations

import re

from lunge_mp.report.html.fmt import esc


def phase_legend(data: dict) -> str:
    seen: dict[str, str] = {}
    for seg in data.get("phases") or []:
        seen.setdefault(seg["phase"], seg["color"])
    if not seen:
        return ""
    return '<div class="phases">Phases: ' + "".join(
        f'<span class="phase"><i style="background:{esc(c)}"></i>{esc(p)}</span>' for p, c in seen.items()) + "</div>"


CHARTS = (
    ("chart-rate", "Arrival rate: target vs achieved", ""),
    ("chart-latency", "Latency over time", ""),
    ("chart-errors", "Failed requests by class", ""),
    ("chart-vus", "Virtual users", ""),
    ("chart-dropped", "Dropped iterations and schedule lag", ""),
    ("chart-scenarios", "Service time by scenario (p95, p99 dotted)", ""),
    ("chart-loadgen", "Load generator: CPU % and memory (RSS MB) of the coordinator, the workers and the box",
     "wide"),
    ("chart-dist", "Latency distribution (percentiles, from HDR histograms)", "wide"),
)
QUEUE_CHART = ("chart-queue", "Queue: enqueue rate, processing rate and queue depth", "")
SATURATION_WARNING = re.compile(r"^worker \S+ (was near a full core|ran its event loop)")


def saturation_note(data: dict, warnings: list) -> str:
    """Which workers were saturated and when (from the resource samples; else the run's
    warnings that say so): their latencies then include their own queueing."""
    lg = data.get("loadgen") or {}
    lines = []
    for e in lg.get("saturation") or []:
        n = e["seconds"]
        span = f'for {n} second{"s" if n != 1 else ""}, first at {e["first"]}–{e["first"] + 1} s'
        if e["kind"] == "cpu":
            lines.append(f'worker {e["worker"]} was near a full core (CPU ≥ {lg["cpuWarn"]:g}%, '
                         f'up to {e["peak"]:g}%) {span}')
        else:
            lines.append(f'worker {e["worker"]}\'s event loop ran ≥ {lg["lagWarn"]:g} ms late '
                         f'(up to {e["peak"]:g} ms) {span}')
    if not lines:
        lines = [str(w) for w in warnings or [] if SATURATION_WARNING.match(str(w))]
    if not lines:
        return ""
    items = "".join(f"<li>{esc(x)}</li>" for x in lines)
    return (f'<div class="chart-note warn" id="saturation-note"><strong>Saturated load generator</strong> '
            f'(shaded red here, a red strip on the latency chart\'s axis): a saturated worker measures its own queueing as latency, so the latency '
            f'figures of those seconds are not the target\'s alone; add workers or lower the load.'
            f'<ul>{items}</ul></div>')


def charts(data: dict, results: dict | None = None) -> str:
    note = ""
    if data.get("bin", 1) > 1:
        note = (f'<p class="muted">Each point covers {data["bin"]} s: rates are averaged over the bin, '
                f'latency percentiles, VUs and resource figures show the worst second in it.</p>')
    notes = {"chart-loadgen": saturation_note(data, (results or {}).get("warnings") or [])}
    shown = CHARTS[:1] + ((QUEUE_CHART,) if data.get("hasQueue") else ()) + CHARTS[1:]
    boxes = "".join(f'<div class="chart-card {w}"><h3>{esc(title)}</h3><div class="chart" id="{cid}"></div>'
                    f'{notes.get(cid, "")}</div>'
                    for cid, title, w in shown)
    return f'{note}{phase_legend(data)}<div class="charts">{boxes}</div>'
