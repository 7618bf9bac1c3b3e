"""Remote workers' clocks in the report: drift and applied offset in the Workers table, a
warning when an offset is uncertain by more than the coordinator warns at, and the chart of
each offset over the run with its uncertainty as a band. Pure.

Only runs with remote workers show any of it (a local worker shares the coordinator's clock),
and the chart only when some worker's offset was measured more than once. Each
`clockHistory` entry `[t, offset, ±]` is the estimate from second t on, so it is drawn as a
step held until the next entry, the last one to the run's end. Hosts and names come from
the remote machines: cells go through `esc`, chart labels through `plot_label`.
"""

from __future__ import annotations

from lunge_mp.protocol.clock import WARN_UNCERTAINTY_NS
from lunge_mp.report.html.fmt import esc, plot_label

WARN_MS = WARN_UNCERTAINTY_NS / 1e6      # the coordinator's own warning threshold (admission, clock_watch)
MAX_VISIBLE_WORKERS = 8                  # beyond this, workers start hidden (one click in the legend)
HEAD = ["clock drift", "applied offset"]


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _history(w: dict) -> list[tuple[float, float, float]]:
    """The worker's well-formed `clockHistory` entries, in time order."""
    out = []
    for e in w.get("clockHistory") or []:
        if isinstance(e, (list, tuple)) and len(e) == 3 and all(_num(x) is not None for x in e):
            out.append((float(e[0]), float(e[1]), float(e[2])))
    return sorted(out)


def remote_workers(results: dict) -> list[dict]:
    return [w for w in results.get("workers") or [] if isinstance(w, dict) and w.get("remote")]


def who(w: dict) -> str:
    """`worker 3 (eu-1/0 on host-a)`: the index, the name it joined with and its host."""
    name, host = w.get("name") or "", w.get("host") or "?"
    return f"worker {w.get('id')} ({name + ' on ' if name else ''}{host})"


def cells(w: dict) -> list[str]:
    """The Workers table's drift and applied-offset cells (escaped HTML)."""
    if not w.get("remote"):
        return ['<span class="muted">same clock</span>'] * 2
    drift, applied = _num(w.get("clockDriftPpm")), _num(w.get("clockAppliedOffsetMs"))
    return [esc(f"{drift:+.2f} ppm") if drift is not None else '<span class="muted">–</span>',
            esc(f"{applied:+.3f} ms") if applied is not None else '<span class="muted">not moved</span>']


def worst_uncertainty(w: dict) -> float | None:
    """The largest uncertainty of its offset: the handshake's or any re-measurement's."""
    values = [u for u in [_num(w.get("clockUncertaintyMs"))] + [e[2] for e in _history(w)] if u is not None]
    return max(values) if values else None


def warning(results: dict) -> str:
    """One line naming every remote worker whose offset was uncertain by more than WARN_MS."""
    over = [(w, u) for w in remote_workers(results) if (u := worst_uncertainty(w)) is not None and u > WARN_MS]
    if not over:
        return ""
    names = ", ".join(f"{who(w)} ± {u:.1f} ms" for w, u in over)
    return (f'<div class="banner warn" id="clock-warning"><strong>Clock offset uncertain by over '
            f'± {esc(f"{WARN_MS:g}")} ms:</strong> {esc(names)}. Their arrivals may start up to that early or '
            f'late, and their samples near a second\'s edge may land in the neighbouring bucket.</div>')


def clock_chart(results: dict, end: float | None) -> dict | None:
    """Per remote worker, the step points of its offset and band (offset ± uncertainty) as the
    change since its first measurement (hosts' monotonic clocks differ by hours: drawn as they
    are, each line would be flat and far from the others), held to `end` (seconds after t0)
    when the run went on after the last change; `hover` has the offset itself and its ±. None
    when no worker's offset was measured more than once."""
    workers = [(w, h) for w in remote_workers(results) if (h := _history(w))]
    if not any(len(h) > 1 for _, h in workers):
        return None
    out = []
    for i, (w, h) in enumerate(workers):
        if end is not None and end > h[-1][0]:
            h = h + [(end, h[-1][1], h[-1][2])]
        base = h[0][1]
        out.append({"label": plot_label(who(w)), "t": [e[0] for e in h],
                    "dy": [round(e[1] - base, 3) for e in h],
                    "lo": [round(e[1] - e[2] - base, 3) for e in h], "hi": [round(e[1] + e[2] - base, 3) for e in h],
                    "hover": [[e[1], e[2]] for e in h], "measured": len(_history(w)),
                    "visible": i < MAX_VISIBLE_WORKERS})
    return {"workers": out}


def run_end(results: dict) -> float | None:
    """Seconds after t0 when the run ended: the end of its last bucket, else `wallSeconds`."""
    ts = [b["t"] for b in results.get("buckets") or [] if isinstance(b, dict) and _num(b.get("t")) is not None]
    return float(max(ts) + 1) if ts else _num(results.get("wallSeconds"))


CHART_BOX = ('<div class="charts" id="clock-chart"><div class="chart-card wide"><h3>Remote workers\' clock '
             'offsets over the run (change since the first measurement, ± uncertainty shaded)</h3>'
             '<div class="chart" id="chart-clock"></div><p class="muted">The offset is each worker\'s monotonic '
             'clock minus the coordinator\'s: measured in the handshake, then again on the heartbeats (the minimum '
             'round trip of the last 8). A point is a change of the estimate, held until the next; hover for the '
             'offset itself. The offset applied to the worker\'s t0 moves towards the estimate by at most 0.5 ms '
             'a second.</p></div></div>')


def below_workers(results: dict, data: dict) -> str:
    """Under the Workers table: the uncertainty warning, then the chart's box (drawn by
    script.py from `data["clock"]`); "" for a run without remote workers."""
    return warning(results) + (CHART_BOX if data.get("clock") else "")
