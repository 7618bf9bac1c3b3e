"""report.html: one self-contained page a person can open offline, mail or archive.

Everything is inside the file: Plotly's JavaScript (inlined from the installed plotly
package), the styles, the chart data and the full results document (both as JSON in
`<script type="application/json">` blocks), so it references no URL at all. A Content
Security Policy (`default-src 'none'`) makes the browser refuse any network fetch should a
future change add one.

Tables and text are rendered here, in Python, with every user-supplied string (test,
scenario and request names, error messages, warnings) passed through `html.escape`. Chart
data is JSON with `<`, `>`, `&`, U+2028 and U+2029 written as \\uXXXX escapes, so no value
can close its `<script>` element. Names used as Plotly trace labels are additionally
entity-escaped, because Plotly renders a subset of HTML tags in labels.

Time series come from the per-second buckets; runs longer than MAX_POINTS seconds are
drawn in bins of several seconds (rates averaged, latency percentiles and VUs the worst
second of the bin). Seconds without any report are gaps, not zeros. The latency
distribution is computed from the HDR histograms in `results["histograms"]`.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Iterable

from lunge_mp.metrics import hdr
from lunge_mp.metrics.names import FAILURE_CLASSES, UNKNOWN_FAILURE

MAX_POINTS = 3600            # chart points per series before binning
MAX_EMBED_BUCKETS = 3600     # beyond this the embedded results document omits `buckets`
DIST_STEP = 0.025            # percentile curve resolution in decades of 1/(1-p)
DIST_MAX_DECADES = 5         # up to p99.999
MAX_VISIBLE_REQUEST_CURVES = 6

PHASE_COLORS = {"warmup": "#94a3b8", "ramp-up": "#60a5fa", "steady": "#34d399",
                "ramp-down": "#fbbf24", "idle": "#e2e8f0", "cooldown": "#c4b5fd"}
_EXTRA_PHASE_COLORS = ("#f472b6", "#22d3ee", "#a3e635", "#fb923c")
STATUS_CLASS = {"passed": "ok", "failed": "bad", "aborted": "warn", "invalid": "bad"}
LATENCY_METRICS = (("http_req_duration", "service time (from send)"),
                   ("http_req_response_time", "response time (from schedule)"),
                   ("schedule_lag", "schedule lag"),
                   ("iteration_duration", "iteration duration"))


# ---- formatting ------------------------------------------------------------------------

def _e(v: object) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _ms(v: float | None) -> str:
    if v is None:
        return "–"
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 10:
        return f"{v:.1f} ms"
    return f"{v:.2f} ms"


def _n(v: float | None) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and v != int(v) and abs(v) < 100:
        return f"{v:,.1f}"
    return f"{v:,.0f}"


def _pct(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v * 100:.{digits}f}%"


def _dur(s: float | None) -> str:
    if s is None:
        return "–"
    if s < 120:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {sec:02d}s" if h else f"{m}m {sec:02d}s"


def _when(iso: str | None) -> str:
    if not iso:
        return "–"
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def plot_label(name: str) -> str:
    """A user string as a Plotly label: entities for its pseudo-HTML, no LaTeX trigger."""
    s = html.escape(str(name), quote=False)
    if s.startswith("$"):
        s = "&#36;" + s[1:]
    return s


def _clean(v: object) -> object:
    """JSON-safe: NaN/inf become null (JSON.parse rejects them), tuples become lists."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def script_json(obj: object) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>`, `&`, U+2028/9 literally."""
    text = json.dumps(_clean(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# ---- chart data --------------------------------------------------------------------------

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
    span = t1 - t0 + 1
    width = max(1, math.ceil(span / MAX_POINTS))
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
        ("dropped", lambda b: b.get("dropped"), "rate"),
        ("scheduled", lambda b: b.get("scheduled"), "rate"),
        ("activeVUs", lambda b: b.get("activeVUs"), "max"),
        ("vus", lambda b: b.get("vus"), "max"),
        ("targetVUs", lambda b: b.get("targetVUs"), "max"),
        ("closedVUs", closed_vus, "max"),
    ]
    for key in ("p50", "p95", "p99", "rtP50", "rtP95", "rtP99", "lagP50", "lagP95", "lagP99"):
        fields.append((key, (lambda k: lambda b: b.get(k))(key), "max"))
    scenarios = sorted({name for b in buckets for name in (b.get("byScenario") or {})})
    for name in scenarios:
        for key in ("p95", "p99"):
            fields.append((f"scn:{key}:{name}",
                           (lambda n, k: lambda b: ((b.get("byScenario") or {}).get(n) or {}).get(k))(name, key),
                           "max"))
    for cls in classes:
        fields.append(("err:" + cls, (lambda c: lambda b: (b["errors"].get(c, 0)
                                                          if b.get("errors") is not None else None))(cls),
                       "rate"))

    xs: list[float] = []
    cols: dict[str, list] = {name: [] for name, _, _ in fields}
    for start in range(t0, t1 + 1, width):
        group = [by_t[t] for t in range(start, min(start + width, t1 + 1)) if t in by_t]
        xs.append(start + width / 2)   # the middle of the second(s) it covers
        for name, get, how in fields:
            if not group:
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
            "errorsByClass": by_class}


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


def chart_data(results: dict) -> dict:
    curves, problems = distribution(results)
    return {**time_series(results), "distribution": curves, "problems": problems}


# ---- page sections ------------------------------------------------------------------------

def _table(head: list[str], rows: list[list[str]], num_from: int = 1, cls: str = "",
           text_cols: tuple[int, ...] = ()) -> str:
    """Cells are already-escaped HTML; columns from `num_from` on are right-aligned except
    `text_cols`."""
    def c(i: int) -> str:
        return "num" if i >= num_from and i not in text_cols else ""
    th = "".join(f'<th class="{c(i)}">{h}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td class="{c(i)}">{v}</td>' for i, v in enumerate(r)) + "</tr>"
        for r in rows)
    return f'<div class="table-wrap"><table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _header(r: dict) -> str:
    status = str(r.get("status", "unknown"))
    eff = (r.get("efficiency") or {}).get("overall")
    tool = r.get("tool") or {}
    meta = [
        ("Status", f'<span class="badge {STATUS_CLASS.get(status, "warn")}">{_e(status.upper())}</span>'),
        ("Exit code", _e(r.get("exitCode"))),
        ("Duration", f'{_e(_dur(r.get("durationSeconds")))} <span class="muted">of {_e(_dur(r.get("plannedSeconds")))} planned'
         + (f', {_e(_dur(r.get("wallSeconds")))} wall</span>' if r.get("wallSeconds") not in (None, r.get("durationSeconds"))
            else "</span>")),
        ("Started", _e(_when(r.get("startTime")))),
        ("Efficiency", f'{_e(_pct(eff))} <span class="muted">of open-model iterations started on time</span>'
         if eff is not None else 'n/a <span class="muted">(no open-model scenario)</span>'),
        ("Workers", _e(len(r.get("workers") or []))),
        *([("Warmup", _warmup(r["warmup"]))] if r.get("warmup") else []),
        ("Run id", f'<code>{_e(r.get("runId"))}</code>'),
        ("Config", f'<code>{_e(r.get("source"))}</code>'),
    ]
    items = "".join(f'<div class="meta-item"><div class="meta-k">{k}</div><div class="meta-v">{v}</div></div>'
                    for k, v in meta)
    abort = ""
    if r.get("abortReason"):
        abort = f'<div class="banner warn"><strong>Stopped early:</strong> {_e(r["abortReason"])}</div>'
    return (f'<header class="top"><div class="brand">lunge_mp report</div>'
            f'<h1 id="run-name">{_e(r.get("name") or "unnamed run")}</h1>'
            f'<div class="meta">{items}</div>{abort}'
            f'<div class="tool muted">{_e(tool.get("name", "lunge_mp"))} {_e(tool.get("version", ""))}'
            f' on {_e(tool.get("host", "?"))} · ended {_e(_when(r.get("endTime")))}</div></header>')


def _warmup(w: dict) -> str:
    reqs = (w.get("http_reqs") or {}).get("count")
    failed = (w.get("http_req_failed") or {}).get("count")
    return (f'{_e(_dur(w.get("seconds")))} <span class="muted">excluded from every figure but the charts: '
            f'{_e(_n((w.get("iterations") or {}).get("count")))} iterations, {_e(_n(reqs))} requests, '
            f'{_e(_n(failed))} failed</span>')


def _cards(r: dict) -> str:
    m = r.get("metrics") or {}
    reqs = m.get("http_reqs") or {}
    failed = m.get("http_req_failed") or {}
    dur = m.get("http_req_duration") or {}
    rt = m.get("http_req_response_time") or {}
    it = m.get("iterations") or {}
    dropped = (m.get("dropped_iterations") or {}).get("count", 0)
    fail_rate = failed.get("rate") if reqs.get("count") else None
    fail_cls = "bad" if failed.get("count") else "ok"
    rt_note = (f'response time p99 {_e(_ms(rt.get("p99")))}' if rt.get("count") else "service time")
    cards = [
        ("Requests", _e(_n(reqs.get("count"))), f'{_e(_n(it.get("count")))} iterations, {_e(_n(dropped))} dropped', ""),
        ("Request rate", f'{_e(_n(reqs.get("rate")))}<small>/s</small>', f'{_e(_n(it.get("rate")))} iterations/s', ""),
        ("Failure rate", _e(_pct(fail_rate)), f'{_e(_n(failed.get("count")))} failed requests', fail_cls),
        ("p95 latency", _e(_ms(dur.get("p95"))), f'p50 {_e(_ms(dur.get("p50")))} · service time', ""),
        ("p99 latency", _e(_ms(dur.get("p99"))), f'max {_e(_ms(dur.get("max")))} · {rt_note}', ""),
    ]
    return '<section class="cards">' + "".join(
        f'<div class="card {c}"><div class="card-k">{k}</div><div class="card-v">{v}</div>'
        f'<div class="card-s">{s}</div></div>' for k, v, s, c in cards) + "</section>"


def _thresholds(r: dict) -> str:
    ts = r.get("thresholds") or []
    if not ts:
        return '<p class="muted">No thresholds were configured.</p>'
    rows = []
    for t in ts:
        ok = bool(t.get("ok"))
        obs = t.get("observed")
        rows.append([f'<span class="badge {"ok" if ok else "bad"}">{"PASS" if ok else "FAIL"}</span>',
                     f'<code>{_e(t.get("metric"))}</code>', f'<code>{_e(t.get("expression"))}</code>',
                     "n/a" if obs is None else _e(f"{obs:.6g}" if isinstance(obs, float) else obs),
                     "yes" if t.get("abortOnFail") else "no"])
    return _table(["result", "metric", "expression", "observed", "abort on fail"], rows, num_from=3,
                  cls="thresholds")


def _scenarios(r: dict) -> str:
    eff = (r.get("efficiency") or {}).get("byScenario") or {}
    rows = []
    for name, s in (r.get("scenarios") or {}).items():
        d = s.get("http_req_duration") or {}
        reqs = s.get("http_reqs") or {}
        failed = s.get("http_req_failed") or {}
        rows.append([f'<strong>{_e(name)}</strong>', _e(s.get("executor")),
                     _e(_n((s.get("iterations") or {}).get("count"))),
                     _e(_n((s.get("iterations") or {}).get("rate"))),
                     _e(_n((s.get("dropped_iterations") or {}).get("count"))),
                     _e(_n((s.get("interrupted_iterations") or {}).get("count"))),
                     _e(_n(reqs.get("count"))),
                     _e(_pct(failed.get("rate") if reqs.get("count") else None)),
                     _e(_ms(d.get("p50"))), _e(_ms(d.get("p95"))), _e(_ms(d.get("p99"))), _e(_ms(d.get("max"))),
                     _e(s.get("vus_max")), _e(_pct(eff.get(name)) if name in eff else "–")])
    if not rows:
        return '<p class="muted">No scenarios.</p>'
    return _table(["scenario", "executor", "iterations", "it/s", "dropped", "interrupted", "requests",
                   "failed", "p50", "p95", "p99", "max", "max VUs", "efficiency"], rows, num_from=2)


def _requests(r: dict) -> str:
    rows = []
    for key, q in (r.get("requests") or {}).items():
        d = q.get("http_req_duration") or {}
        reqs = q.get("http_reqs") or {}
        failed = q.get("http_req_failed") or {}
        classes = ", ".join(f"{_e(c)} {_e(_n(n))}" for c, n in (failed.get("byClass") or {}).items())
        rows.append([f'<strong>{_e(q.get("request", key))}</strong>', _e(q.get("scenario")),
                     _e(_n(reqs.get("count"))), _e(_n(reqs.get("rate"))),
                     _e(_pct(failed.get("rate") if reqs.get("count") else None)),
                     f'<span class="msg">{classes or "–"}</span>',
                     _e(_ms(d.get("min"))), _e(_ms(d.get("avg"))), _e(_ms(d.get("p50"))), _e(_ms(d.get("p90"))),
                     _e(_ms(d.get("p95"))), _e(_ms(d.get("p99"))), _e(_ms(d.get("p99.9"))), _e(_ms(d.get("max")))])
    if not rows:
        return '<p class="muted">No requests were made.</p>'
    return _table(["request", "scenario", "requests", "req/s", "failed", "failure classes", "min", "avg",
                   "p50", "p90", "p95", "p99", "p99.9", "max"], rows, num_from=2, text_cols=(5,))


def _latency(r: dict) -> str:
    m = r.get("metrics") or {}
    rows = []
    for metric, label in LATENCY_METRICS:
        d = m.get(metric) or {}
        if d.get("count"):
            rows.append([_e(label), _e(_n(d["count"]))] +
                        [_e(_ms(d.get(k))) for k in ("min", "avg", "p50", "p90", "p95", "p99", "p99.9", "max")])
    if not rows:
        return '<p class="muted">No latency samples.</p>'
    return _table(["metric", "count", "min", "avg", "p50", "p90", "p95", "p99", "p99.9", "max"], rows)


def _errors(r: dict) -> str:
    f = (r.get("metrics") or {}).get("http_req_failed") or {}
    by = f.get("byClass") or {}
    if not by:
        return '<p class="muted">No failed requests.</p>'
    total = sum(by.values()) or 1
    first = f.get("firstError") or {}
    rows = [[f'<code>{_e(c)}</code>', _e(_n(n)), _e(_pct(n / total, 1)),
             f'<span class="msg">{_e(first.get(c, ""))}</span>'] for c, n in by.items()]
    return _table(["class", "count", "share", "first error seen"], rows, num_from=1, text_cols=(3,))


def _notes(r: dict, problems: list[str]) -> str:
    parts = []
    warnings = list(r.get("warnings") or []) + problems
    if warnings:
        parts.append('<ul class="warnings">' + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul>")
    gaps = r.get("reportGaps") or []
    if gaps:
        parts.append("<p>Reports never received (their samples are missing from every figure):</p>"
                     + _table(["worker", "first report", "last report"],
                              [[_e(g.get("worker")), _e(g.get("first")), _e(g.get("last"))] for g in gaps]))
    if not parts:
        parts.append('<p class="muted">No warnings.</p>')
    workers = r.get("workers") or []
    if workers:
        parts.append("<h3>Workers</h3>" + _table(
            ["worker", "pid", "CPU user s", "CPU system s", "last CPU %", "last loop lag", "RSS MB", "lost at", "error"],
            [[_e(w.get("id")), _e(w.get("pid")), _e(w.get("cpuUserSeconds")), _e(w.get("cpuSystemSeconds")),
              _e(w.get("lastCpuPercent")), _e(_ms(w.get("lastLoopLagMs"))), _e(w.get("rssMB")),
              _e(w.get("lostAt") if w.get("lostAt") is not None else "–"),
              f'<span class="msg">{_e(w.get("error") or "–")}</span>'] for w in workers],
            text_cols=(8,)))
    return "".join(parts)


def _phase_legend(data: dict) -> str:
    seen: dict[str, str] = {}
    for seg in data.get("phases") or []:
        seen.setdefault(seg["phase"], seg["color"])
    if not seen:
        return ""
    return '<div class="phases">Phases: ' + "".join(
        f'<span class="phase"><i style="background:{_e(c)}"></i>{_e(p)}</span>' for p, c in seen.items()) + "</div>"


CHARTS = (
    ("chart-rate", "Arrival rate: target vs achieved", ""),
    ("chart-latency", "Latency over time", ""),
    ("chart-errors", "Failed requests by class", ""),
    ("chart-vus", "Virtual users", ""),
    ("chart-dropped", "Dropped iterations and schedule lag", ""),
    ("chart-scenarios", "Service time by scenario (p95, p99 dotted)", ""),
    ("chart-dist", "Latency distribution (percentiles, from HDR histograms)", "wide"),
)


def _charts(data: dict) -> str:
    note = ""
    if data.get("bin", 1) > 1:
        note = (f'<p class="muted">Each point covers {data["bin"]} s: rates are averaged over the bin, '
                f'latency percentiles and VUs show the worst second in it.</p>')
    boxes = "".join(f'<div class="chart-card {w}"><h3>{_e(title)}</h3><div class="chart" id="{cid}"></div></div>'
                    for cid, title, w in CHARTS)
    return f'{note}{_phase_legend(data)}<div class="charts">{boxes}</div>'


CSS = """
:root{--bg:#f5f7fb;--fg:#1f2937;--muted:#6b7280;--card:#fff;--line:#e5e7eb;--ok:#15803d;--okbg:#dcfce7;
--bad:#b91c1c;--badbg:#fee2e2;--warn:#b45309;--warnbg:#fef3c7;--accent:#2563eb}
*{box-sizing:border-box}
html,body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1360px;margin:0 auto;padding:24px 28px 48px}
code{font:12.5px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eef2f7;padding:1px 5px;border-radius:4px;word-break:break-all}
h1{font-size:26px;margin:2px 0 14px;word-break:break-word}
h2{font-size:18px;margin:34px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:0 0 8px;color:#374151}
.muted{color:var(--muted)}
.top{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 22px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--accent);font-weight:600}
.meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px 22px}
.meta-k{font-size:11.5px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.meta-v{font-weight:500;word-break:break-word}
.tool{margin-top:12px;font-size:12px}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-weight:700;font-size:12px;letter-spacing:.04em}
.badge.ok{background:var(--okbg);color:var(--ok)}.badge.bad{background:var(--badbg);color:var(--bad)}
.badge.warn{background:var(--warnbg);color:var(--warn)}
.banner{margin-top:14px;padding:10px 14px;border-radius:8px}
.banner.warn{background:var(--warnbg);color:#78350f}.banner.bad{background:var(--badbg);color:#7f1d1d}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:14px;margin-top:18px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.card-k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.card-v{font-size:28px;font-weight:650;margin:4px 0 2px;font-variant-numeric:tabular-nums}
.card-v small{font-size:15px;font-weight:500;color:var(--muted)}
.card-s{font-size:12.5px;color:var(--muted)}
.card.bad .card-v{color:var(--bad)}.card.ok .card-v{color:var(--ok)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.chart-card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 14px 6px;min-width:0}
.chart-card.wide{grid-column:1/-1}
.chart{height:330px;width:100%}
.chart-card.wide .chart{height:400px}
.chart-error{color:var(--bad);padding:20px}
.phases{margin:0 0 10px;font-size:13px;color:var(--muted)}
.phase{margin-left:12px;white-space:nowrap}.phase i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:5px;vertical-align:-1px;opacity:.6}
.table-wrap{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:12px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:7px 10px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap}
th{white-space:normal;vertical-align:bottom}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);background:#f9fafb;font-weight:600}
td.num,th.num{text-align:right}
tbody tr:last-child td{border-bottom:0}
tbody tr:nth-child(even) td{background:#fbfcfe}
td .msg{white-space:normal;word-break:break-word;display:inline-block;max-width:640px}
td:first-child{white-space:normal;word-break:break-word;min-width:110px;max-width:300px}
ul.warnings{background:var(--warnbg);color:#78350f;border-radius:10px;padding:10px 14px 10px 32px;margin:0}
ul.warnings li{margin:3px 0;word-break:break-word}
footer{margin-top:36px;font-size:12px;color:var(--muted)}
#js-errors{display:none}
#js-errors.shown{display:block;margin-top:14px}
@media print{.charts{display:block}.chart-card{break-inside:avoid;margin-bottom:12px}}
"""

JS = r"""
(function () {
  "use strict";
  var errorsBox = document.getElementById("js-errors");
  function report(msg) {
    errorsBox.className = "banner bad shown";
    var li = document.createElement("div");
    li.textContent = msg;
    errorsBox.appendChild(li);
  }
  window.addEventListener("error", function (ev) { report("Script error: " + ev.message); });
  if (typeof Plotly === "undefined") {
    console.error("Plotly did not load; charts are unavailable.");
    report("Plotly did not load; charts are unavailable.");
    return;
  }
  var D = JSON.parse(document.getElementById("lunge-chart-data").textContent);
  var S = D.series || {};
  var T = D.t || [];
  var CFG = {displaylogo: false, responsive: true,
             modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"]};
  var C = {p50: "#2563eb", p95: "#f59e0b", p99: "#dc2626", target: "#111827", achieved: "#16a34a",
           reqs: "#94a3b8", active: "#7c3aed", vus: "#0ea5e9", tvus: "#111827", dropped: "#f97316"};
  var ERR = {timeout: "#f59e0b", connect: "#dc2626", dns: "#9333ea", tls: "#0891b2", reset: "#e11d48",
             http_4xx: "#ca8a04", http_5xx: "#b91c1c", check: "#2563eb", other: "#6b7280"};
  var EXTRA = ["#14b8a6", "#a855f7", "#84cc16", "#f43f5e", "#0ea5e9", "#eab308"];
  var xTitle = D.bin > 1 ? "seconds since start (" + D.bin + " s bins)" : "seconds since start";

  function niceStep(span) {            // ~4-10 whole-second ticks, aligned to 0
    var raw = Math.max(span, 1) / 8, pow = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * pow >= raw) return Math.max(1, steps[i] * pow); }
    return Math.max(1, 10 * pow);
  }
  function has(k) { return Object.prototype.hasOwnProperty.call(S, k); }
  function col(k) { return has(k) ? S[k] : T.map(function () { return null; }); }
  function phaseShapes() {
    return (D.phases || []).map(function (p) {
      return {type: "rect", xref: "x", yref: "paper", x0: p.x0, x1: p.x1, y0: 0, y1: 1,
              fillcolor: p.color, opacity: 0.16, line: {width: 0}, layer: "below"};
    });
  }
  function phaseNotes() {
    return (D.phases || []).map(function (p) {
      return {xref: "x", yref: "paper", x: (p.x0 + p.x1) / 2, y: 1, yanchor: "top", showarrow: false,
              text: p.label, font: {size: 10, color: "#475569"}};
    });
  }
  function layout(ytitle, extra) {
    var l = {
      margin: {l: 58, r: 18, t: 30, b: 44}, hovermode: "x unified",
      font: {family: "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif", size: 12, color: "#374151"},
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
      legend: {orientation: "h", x: 0, y: -0.3, yanchor: "top"},
      xaxis: {title: {text: xTitle}, gridcolor: "#eef0f4", zeroline: false, tick0: 0},
      yaxis: {title: {text: ytitle}, gridcolor: "#eef0f4", rangemode: "tozero", zeroline: false},
      shapes: phaseShapes(), annotations: phaseNotes()
    };
    if (D.xRange) {
      l.xaxis.range = D.xRange.slice();
      l.xaxis.tickmode = "linear";
      l.xaxis.dtick = niceStep(D.xRange[1] - D.xRange[0]);
    }
    if (extra) { for (var k in extra) { l[k] = extra[k]; } }
    l.margin.b = 100;
    return l;
  }
  function line(name, y, color, opts) {
    var t = {type: "scatter", mode: "lines", name: name, x: T, y: y, connectgaps: false,
             line: {color: color, width: 2}};
    if (opts) { for (var k in opts) { if (k === "line") { for (var j in opts.line) t.line[j] = opts.line[j]; } else t[k] = opts[k]; } }
    return t;
  }
  function empty(l, text) {
    l.annotations = (l.annotations || []).concat([{xref: "paper", yref: "paper", x: 0.5, y: 0.5,
      showarrow: false, text: text, font: {size: 14, color: "#9ca3af"}}]);
    return l;
  }
  function draw(id, traces, l) {
    var el = document.getElementById(id);
    try {
      Plotly.newPlot(el, traces, l, CFG);
    } catch (e) {
      el.innerHTML = "";
      var p = document.createElement("div");
      p.className = "chart-error";
      p.textContent = "This chart could not be drawn: " + e;
      el.appendChild(p);
      console.error("chart " + id + ": " + e);
      report("chart " + id + ": " + e);
    }
  }
  function safe(name, fn) {
    try { fn(); } catch (e) { console.error(name + ": " + e); report(name + ": " + e); }
  }

  safe("rate", function () {
    var tr = [], l = layout("iterations / s");
    if (D.hasOpen) {
      tr.push(line("target rate (open model)", col("targetRate"), C.target, {line: {dash: "dash"}}));
      tr.push(line("achieved (open-model iterations / s)", col("openIterations"), C.achieved));
      tr.push(line("all requests / s", col("requests"), C.reqs,
                   {visible: "legendonly", line: {width: 1.5, dash: "dot"}}));
    } else {
      tr.push(line("iterations / s", col("iterations"), C.achieved));
      tr.push(line("requests / s", col("requests"), C.reqs, {line: {width: 1.5, dash: "dot"}}));
      l = empty(l, "no open-model scenario: no target rate");
      l.annotations[l.annotations.length - 1].y = 0.92;
    }
    draw("chart-rate", tr, l);
  });

  safe("latency", function () {
    var tr = [];
    [["p50", "p50"], ["p95", "p95"], ["p99", "p99"]].forEach(function (p) {
      tr.push(line("service " + p[1], col(p[0]), C[p[0]]));
    });
    if (has("rtP50") || has("rtP95") || has("rtP99")) {
      [["rtP50", "p50"], ["rtP95", "p95"], ["rtP99", "p99"]].forEach(function (p) {
        tr.push(line("response time " + p[1], col(p[0]), C[p[1]], {line: {dash: "dot", width: 1.6}}));
      });
    }
    var l = layout("ms");
    if (!has("p50")) { l = empty(l, "no latency samples"); }
    draw("chart-latency", tr, l);
  });

  safe("errors", function () {
    var tr = [], l = layout("failed requests / s", {barmode: "stack", bargap: 0.15});
    if (D.errorsByClass) {
      (D.errorClasses || []).forEach(function (c, i) {
        tr.push({type: "bar", name: c[1], x: T, y: col("err:" + c[0]),
                 marker: {color: ERR[c[0]] || EXTRA[i % EXTRA.length]}});
      });
    } else if (has("failures")) {
      tr.push({type: "bar", name: "failed requests (classes not recorded per second)", x: T,
               y: col("failures"), marker: {color: "#dc2626"}});
    }
    var total = (S.failures || []).reduce(function (a, v) { return a + (v || 0); }, 0);
    if (!tr.length || total === 0) {
      if (!tr.length) tr.push({type: "bar", name: "failed requests", x: T, y: col("failures"),
                               marker: {color: "#dc2626"}});
      l = empty(l, "no failed requests");
      l.yaxis.range = [0, 1];
    }
    draw("chart-errors", tr, l);
  });

  safe("vus", function () {
    var tr = [line("active VUs (busy)", col("activeVUs"), C.active, {line: {shape: "hv"}}),
              line("allocated VUs", col("vus"), C.vus, {line: {shape: "hv", width: 1.5}})];
    if (has("targetVUs") && S.targetVUs.some(function (v) { return v; })) {
      tr.push(line("target VUs (closed model)", col("targetVUs"), C.tvus, {line: {shape: "hv", dash: "dash"}}));
    }
    draw("chart-vus", tr, layout("VUs"));
  });

  safe("dropped", function () {
    var tr = [{type: "bar", name: "dropped iterations / s", x: T, y: col("dropped"),
               marker: {color: C.dropped}, yaxis: "y"}];
    var anyLag = has("lagP50") || has("lagP99");
    if (anyLag) {
      [["lagP50", "p50", "p50"], ["lagP95", "p95", "p95"], ["lagP99", "p99", "p99"]].forEach(function (p) {
        tr.push(line("schedule lag " + p[1], col(p[0]), C[p[2]], {yaxis: "y2", line: {width: 1.6}}));
      });
    }
    var l = layout("dropped / s", {barmode: "overlay"});
    l.yaxis2 = {title: {text: "schedule lag (ms)"}, overlaying: "y", side: "right", rangemode: "tozero",
                showgrid: false, zeroline: false, tickmode: "auto", nticks: 6};
    l.yaxis.tickmode = "auto";
    l.margin.r = 64;
    l.margin.t = 30;
    var dropped = (S.dropped || []).reduce(function (a, v) { return a + (v || 0); }, 0);
    if (!anyLag && dropped === 0) { l = empty(l, "no open-model scenario: nothing scheduled, nothing dropped"); }
    else if (dropped === 0) { l.yaxis.range = [0, 1]; }
    draw("chart-dropped", tr, l);
  });

  safe("scenarios", function () {
    var palette = ["#2563eb", "#16a34a", "#9333ea", "#f97316", "#db2777", "#0891b2", "#ca8a04", "#4f46e5"];
    var tr = [];
    (D.scenarios || []).forEach(function (sc, i) {
      var color = palette[i % palette.length];
      tr.push(line(sc[1] + " p95", col("scn:p95:" + sc[0]), color, {legendgroup: "s" + i}));
      tr.push(line(sc[1] + " p99", col("scn:p99:" + sc[0]), color,
                   {legendgroup: "s" + i, line: {dash: "dot", width: 1.5}}));
    });
    var l = layout("ms");
    if (!tr.length) { l = empty(l, "no per-scenario latency"); }
    draw("chart-scenarios", tr, l);
  });

  safe("distribution", function () {
    var curves = D.distribution || [];
    var palette = ["#2563eb", "#0f766e", "#9333ea", "#f97316", "#db2777", "#65a30d", "#0891b2",
                   "#ca8a04", "#4f46e5", "#be123c"];
    var tr = curves.map(function (c, i) {
      var run = c.group === "run";
      return {type: "scatter", mode: "lines", name: c.name, x: c.x, y: c.y, customdata: c.p,
              visible: c.visible === false ? "legendonly" : true,
              line: {width: run ? 2.6 : 1.6, dash: run ? "solid" : "solid",
                     color: palette[i % palette.length]},
              hovertemplate: "p%{customdata}: %{y:.3f} ms<extra>%{fullData.name}</extra>"};
    });
    var ticks = [1, 2, 10, 100, 1000, 10000, 100000];
    var l = {
      margin: {l: 58, r: 18, t: 36, b: 50}, hovermode: "closest",
      font: {family: "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif", size: 12, color: "#374151"},
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
      legend: {orientation: "v", x: 1.01, y: 1},
      xaxis: {type: "log", title: {text: "percentile"}, tickvals: ticks,
              ticktext: ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"], gridcolor: "#eef0f4"},
      yaxis: {title: {text: "ms"}, rangemode: "tozero", gridcolor: "#eef0f4"},
      updatemenus: [{type: "buttons", direction: "right", x: 0, y: 1.12, xanchor: "left", yanchor: "top",
                     showactive: true, pad: {r: 4, t: 0},
                     buttons: [{label: "linear ms", method: "relayout", args: [{"yaxis.type": "linear"}]},
                               {label: "log ms", method: "relayout", args: [{"yaxis.type": "log"}]}]}]
    };
    if (!tr.length) { l = empty(l, "no latency histograms in the results"); }
    draw("chart-dist", tr, l);
  });
})();
"""


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs
    js = get_plotlyjs()
    # Never expected in the bundle; if it ever appears it can only be inside a JS string or
    # regex, where "<\/" means the same thing and cannot end the <script> element.
    return js.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'")


def render_html(results: dict, plotly_js: str | None = None) -> str:
    """The whole page as a string (`plotly_js` overrides the inlined bundle, for tests)."""
    data = chart_data(results)
    embedded = dict(results)
    buckets = embedded.get("buckets") or []
    if len(buckets) > MAX_EMBED_BUCKETS:
        embedded["buckets"] = []
        embedded["bucketsOmitted"] = len(buckets)
    title = f'{results.get("name") or "lunge_mp run"} — {str(results.get("status", "")).upper()}'
    js = _plotly_js() if plotly_js is None else plotly_js
    sections = [
        _header(results),
        '<div id="js-errors" role="alert"></div>',
        _cards(results),
        "<h2>Over time</h2>", _charts(data),
        "<h2>Thresholds</h2>", _thresholds(results),
        "<h2>Scenarios</h2>", _scenarios(results),
        "<h2>Requests</h2>", _requests(results),
        "<h2>Latency summary</h2>", _latency(results),
        "<h2>Failures</h2>", _errors(results),
        "<h2>Warnings</h2>", _notes(results, data["problems"]),
    ]
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="lunge_mp">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>",
        "\n".join(sections),
        '<footer>Generated by lunge_mp from results schema version '
        f'{_e(results.get("schemaVersion"))}. The complete results document is embedded in this file '
        '(<code>script#lunge-results</code>).</footer></main>\n',
        f'<script type="application/json" id="lunge-results">{script_json(embedded)}</script>\n',
        f'<script type="application/json" id="lunge-chart-data">{script_json(data)}</script>\n',
        f"<script>{js}</script>\n",
        f"<script>{JS}</script>\n",
        "</body></html>\n",
    ])


def write_html(results: dict, path: str) -> None:
    """Write a self-contained HTML report of a results document to `path`."""
    text = render_html(results)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
