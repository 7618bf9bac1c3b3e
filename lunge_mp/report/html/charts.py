"""The chart boxes in the page (the drawing is script.py's): which charts, in what order,
with what titles, and the phase legend above them."""

from __future__ import annotations

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
    ("chart-dist", "Latency distribution (percentiles, from HDR histograms)", "wide"),
)


def charts(data: dict) -> str:
    note = ""
    if data.get("bin", 1) > 1:
        note = (f'<p class="muted">Each point covers {data["bin"]} s: rates are averaged over the bin, '
                f'latency percentiles and VUs show the worst second in it.</p>')
    boxes = "".join(f'<div class="chart-card {w}"><h3>{esc(title)}</h3><div class="chart" id="{cid}"></div></div>'
                    for cid, title, w in CHARTS)
    return f'{note}{phase_legend(data)}<div class="charts">{boxes}</div>'
