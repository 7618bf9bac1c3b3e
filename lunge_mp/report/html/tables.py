"""The report's tables: thresholds, scenarios, requests, latency summary, failures,
warnings and workers. Cells are built from escaped text only (`esc`).

Blocks of older results files may lack `checks` or `generator_errors`: their cells say
"–" (not recorded), never fail."""

from __future__ import annotations

from lunge_mp.report import units
from lunge_mp.report.html import clock
from lunge_mp.report.html.fmt import esc, ms, num, pct

LATENCY_METRICS = (("http_req_duration", "service time (from send)"),
                   ("http_req_response_time", "response time (from schedule)"),
                   ("schedule_lag", "schedule lag"),
                   ("iteration_duration", "iteration duration"),
                   ("http_req_blocked", "blocked (waiting for a connection + connecting)"),
                   ("http_req_connecting", "connecting"),
                   # settings.timings: detailed (absent otherwise)
                   ("http_req_tls_handshaking", "TLS handshaking"),
                   ("http_req_sending", "sending"),
                   ("http_req_waiting", "waiting (time to first byte)"),
                   ("http_req_receiving", "receiving"))


def table(head: list[str], rows: list[list[str]], num_from: int = 1, cls: str = "",
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


def _secs(v: float) -> str:
    return f"{v:g}"


def _window_cells(t: dict) -> list[str]:
    """window, worst window, first failing window: windows cover [start, start + window) s."""
    w = t.get("window")
    if not w:
        return ['<span class="muted">whole run</span>', "–", "–"]
    judged = t.get("windows")
    cells = [f'{esc(_secs(w))} s' + (f' <span class="muted">sliding, {esc(num(judged))} judged</span>'
                                     if judged is not None else "")]
    for key in ("windowStart", "firstFailure"):
        start = t.get(key)
        if isinstance(start, (int, float)):
            cells.append(f"{esc(_secs(start))}–{esc(_secs(start + w))} s")
        elif key == "firstFailure" and t.get("windowStart") is not None:
            cells.append('<span class="muted">none</span>')
        else:
            cells.append("–")
    return cells


def thresholds(r: dict) -> str:
    """One row a threshold; windowed ones (`p95 < 300ms over 30s`) show their window, the
    worst window (whose value is `observed`) and the first window that broke."""
    ts = r.get("thresholds") or []
    if not ts:
        return '<p class="muted">No thresholds were configured.</p>'
    windowed = any(t.get("window") for t in ts)
    rows = []
    for t in ts:
        ok = bool(t.get("ok"))
        obs = t.get("observed")
        expr = f'<code>{esc(t.get("expression"))}</code>'
        if t.get("note"):
            expr += f'<div class="note muted">{esc(t["note"])}</div>'
        observed = esc(units.observed(str(t.get("metric")), str(t.get("expression")), obs, ms))
        if t.get("windowStart") is not None:
            observed += '<div class="note muted">worst window</div>'
        rows.append([f'<span class="badge {"ok" if ok else "bad"}">{"PASS" if ok else "FAIL"}</span>',
                     f'<code>{esc(t.get("metric"))}</code>', expr, observed,
                     *(_window_cells(t) if windowed else []),
                     "yes" if t.get("abortOnFail") else "no"])
    head = ["result", "metric", "expression", "observed",
            *(["window", "worst window", "first failing window"] if windowed else []), "abort on fail"]
    return table(head, rows, num_from=3, cls="thresholds", text_cols=(2,))


def checks(r: dict) -> str:
    """Each check by name under its request (k6's list): passes, fails, rate, first failure."""
    rows = r.get("checkResults")
    if rows is None:
        return '<p class="muted">This results file does not list checks by name.</p>'
    if not rows:
        return '<p class="muted">No checks ran.</p>'
    out = []
    for c in rows:
        mark = ('<span class="checks bad">✗</span>' if c.get("fails")
                else '<span class="checks ok">✓</span>')
        out.append([f'{mark} {esc(c.get("check"))}', esc(c.get("request")), esc(c.get("scenario")),
                     esc(num(c.get("passes"))), esc(num(c.get("fails"))), esc(pct(c.get("rate"))),
                     f'<span class="msg">{esc(c.get("firstFailure") or "–")}</span>'])
    return table(["check", "request", "scenario", "passes", "fails", "passed", "first failure"], out,
                 num_from=3, cls="check-results", text_cols=(6,))


def anomalies(r: dict, labels: dict[str, tuple[str, str]]) -> str:
    """Where in time things went wrong (analysis/anomalies.py): kind, span, phase, detail.
    `labels`: kind → (label, color), the colours the latency chart shades them in."""
    if "anomalies" not in r:
        return '<p class="muted">This results file does not record anomalies.</p>'
    found = r.get("anomalies") or []
    if not found:
        return ('<p class="muted">None found: no latency spike, error burst, sustained failures, '
                'dropped arrivals, load generator saturation or knee in the measured seconds.</p>')
    phase_at = {b.get("t"): b.get("phase") for b in r.get("buckets") or []}
    rows = []
    for a in found:
        kind = str(a.get("kind"))
        label, color = labels.get(kind, (kind.replace("_", " "), "#475569"))
        start, end = a.get("start"), a.get("end", a.get("start"))
        if isinstance(start, (int, float)) and isinstance(end, (int, float)):
            when_ = f"{_secs(start)} s" if end == start else f"{_secs(start)}–{_secs(end)} s"
            length = f"{_secs(end - start + 1)} s"
        else:
            when_, length = "?", "–"
        rows.append([f'<span class="kind" style="border-color:{esc(color)};color:{esc(color)}">{esc(label)}</span>',
                     esc(when_), esc(length), esc(phase_at.get(start) or "–"),
                     f'<span class="msg">{esc(a.get("detail"))}</span>'])
    return ('<p class="muted">Shaded on the latency chart (the knee also on the arrival-rate chart). '
            'A span names whole seconds since the start: 12–14 s is from 12 s to the end of second 14.</p>'
            + table(["kind", "when", "length", "phase", "detail"], rows, num_from=1, cls="anomalies",
                    text_cols=(3, 4)))


def checks_cell(block: dict) -> str:
    """A block's assertions: `rate` with `passes / total` under it; "–" when none ran (or the
    results file is older than the `checks` block)."""
    c = block.get("checks")
    if not isinstance(c, dict):
        return '<span class="muted">–</span>'
    passes, fails = c.get("passes") or 0, c.get("fails") or 0
    if not passes + fails:
        return '<span class="muted">none</span>'
    cls = "bad" if fails else "ok"
    return (f'<span class="checks {cls}">{esc(pct(c.get("rate")))}</span>'
            f'<div class="note muted">{esc(num(passes))} / {esc(num(passes + fails))} passed</div>')


def generator_cell(block: dict) -> str:
    """Requests that failed in the load generator itself (not the target's failures)."""
    g = block.get("generator_errors")
    if not isinstance(g, dict):
        return '<span class="muted">–</span>'
    n = g.get("count") or 0
    return esc(num(n)) if n else '<span class="muted">0</span>'


def _any_generator_errors(blocks) -> bool:
    return any(((b or {}).get("generator_errors") or {}).get("count") for b in blocks)


def _arrivals_note(s: dict) -> str:
    """Randomised open-model arrivals (poisson, uniform) and their seed, under the executor."""
    a = s.get("arrivals") or {}
    if a.get("process") in (None, "constant"):
        return ""
    return f'<div class="note muted">{esc(a["process"])} arrivals, seed {esc(a.get("seed"))}</div>'


def scenarios(r: dict) -> str:
    eff = (r.get("efficiency") or {}).get("byScenario") or {}
    blocks = r.get("scenarios") or {}
    gen = _any_generator_errors(blocks.values())
    rows = []
    for name, s in blocks.items():
        d = s.get("http_req_duration") or {}
        reqs = s.get("http_reqs") or {}
        failed = s.get("http_req_failed") or {}
        rows.append([f'<strong>{esc(name)}</strong>', esc(s.get("executor")) + _arrivals_note(s),
                     esc(num((s.get("iterations") or {}).get("count"))),
                     esc(num((s.get("iterations") or {}).get("rate"))),
                     esc(num((s.get("dropped_iterations") or {}).get("count"))),
                     esc(num((s.get("interrupted_iterations") or {}).get("count"))),
                     esc(num(reqs.get("count"))),
                     esc(pct(failed.get("rate") if reqs.get("count") else None)),
                     *([generator_cell(s)] if gen else []), checks_cell(s),
                     esc(ms(d.get("p50"))), esc(ms(d.get("p95"))), esc(ms(d.get("p99"))), esc(ms(d.get("max"))),
                     esc(s.get("vus_max")), esc(pct(eff.get(name)) if name in eff else "–")])
    if not rows:
        return '<p class="muted">No scenarios.</p>'
    return table(["scenario", "executor", "iterations", "it/s", "dropped", "interrupted", "requests",
                   "failed", *(["load generator errors"] if gen else []), "checks passed",
                   "p50", "p95", "p99", "max", "max VUs", "efficiency"], rows, num_from=2, cls="scenarios")


def requests(r: dict) -> str:
    blocks = r.get("requests") or {}
    gen = _any_generator_errors(blocks.values())
    rows = []
    for key, q in blocks.items():
        d = q.get("http_req_duration") or {}
        reqs = q.get("http_reqs") or {}
        failed = q.get("http_req_failed") or {}
        classes = ", ".join(f"{esc(c)} {esc(num(n))}" for c, n in (failed.get("byClass") or {}).items())
        rows.append([f'<strong>{esc(q.get("request", key))}</strong>', esc(q.get("scenario")),
                     esc(num(reqs.get("count"))), esc(num(reqs.get("rate"))),
                     esc(pct(failed.get("rate") if reqs.get("count") else None)),
                     f'<span class="msg">{classes or "–"}</span>',
                     *([generator_cell(q)] if gen else []), checks_cell(q),
                     esc(ms(d.get("min"))), esc(ms(d.get("avg"))), esc(ms(d.get("p50"))), esc(ms(d.get("p90"))),
                     esc(ms(d.get("p95"))), esc(ms(d.get("p99"))), esc(ms(d.get("p99.9"))), esc(ms(d.get("max")))])
    if not rows:
        return '<p class="muted">No requests were made.</p>'
    return table(["request", "scenario", "requests", "req/s", "failed", "failure classes",
                   *(["load generator errors"] if gen else []), "checks passed", "min", "avg",
                   "p50", "p90", "p95", "p99", "p99.9", "max"], rows, num_from=2, text_cols=(5,), cls="requests")


def latency(r: dict) -> str:
    m = r.get("metrics") or {}
    rows = []
    for metric, label in LATENCY_METRICS:
        d = m.get(metric) or {}
        if d.get("count"):
            rows.append([esc(label), esc(num(d["count"]))] +
                        [esc(ms(d.get(k))) for k in ("min", "avg", "p50", "p90", "p95", "p99", "p99.9", "max")])
    if not rows:
        return '<p class="muted">No latency samples.</p>'
    return table(["metric", "count", "min", "avg", "p50", "p90", "p95", "p99", "p99.9", "max"], rows)


NOT_SENT = {"template": "not sent: a {{name}} had no value", "guardrail": "host outside allowedHosts"}


def errors(r: dict) -> str:
    """The target's failures by class, then the load generator's own errors, which are not
    the target's (out of sockets or ports: `generator_errors`)."""
    m = r.get("metrics") or {}
    f = m.get("http_req_failed") or {}
    by = f.get("byClass") or {}
    gen = m.get("generator_errors") or {}
    parts = []
    if by:
        total = sum(by.values()) or 1
        first = f.get("firstError") or {}
        rows = [[f'<code>{esc(c)}</code>' + (f'<div class="note muted">{esc(NOT_SENT[c])}</div>'
                                             if c in NOT_SENT else ""),
                 esc(num(n)), esc(pct(n / total, 1)),
                 f'<span class="msg">{esc(first.get(c, ""))}</span>'] for c, n in by.items()]
        parts.append(table(["class", "count", "share", "first error seen"], rows, num_from=1, text_cols=(3,)))
    else:
        parts.append('<p class="muted">No failed requests.</p>')
    if gen.get("count"):
        parts.append(f'<div class="banner warn" id="generator-errors"><strong>Load generator errors:</strong> '
                     f'{esc(num(gen["count"]))} requests failed in the load generator itself (out of sockets '
                     f'or ports), not at the target; they are counted apart, not as failed requests. First: '
                     f'<span class="msg">{esc(gen.get("firstError") or "")}</span></div>')
    return "".join(parts)


def notes(r: dict, problems: list[str]) -> str:
    parts = []
    warnings = list(r.get("warnings") or []) + problems
    if warnings:
        parts.append('<ul class="warnings">' + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>")
    gaps = r.get("reportGaps") or []
    if gaps:
        parts.append("<p>Reports never received (their samples are missing from every figure):</p>"
                     + table(["worker", "first report", "last report"],
                              [[esc(g.get("worker")), esc(g.get("first")), esc(g.get("last"))] for g in gaps]))
    if not parts:
        parts.append('<p class="muted">No warnings.</p>')
    workers = r.get("workers") or []
    if workers:
        peaks = _peaks(r.get("resources") or [])
        remote = bool(clock.remote_workers(r))      # drift and applied offset: remote workers only
        parts.append('<h3 class="sub">Workers</h3>' + table(
            ["worker", "pid", "CPU user s", "CPU system s", "peak CPU %", "last CPU %", "peak loop lag",
             "last loop lag", "RSS MB", "lost at", "rejoined at", "host", "clock offset",
             *(clock.HEAD if remote else []), "error"],
            [[esc(f'{w.get("id")} {w["name"]}' if w.get("name") else w.get("id")), esc(w.get("pid")),
              esc(w.get("cpuUserSeconds")), esc(w.get("cpuSystemSeconds")),
              esc(_or_dash(peaks.get(str(w.get("id")), {}).get("cpuPercent"))), esc(w.get("lastCpuPercent")),
              esc(ms(peaks.get(str(w.get("id")), {}).get("loopLagMs"))), esc(ms(w.get("lastLoopLagMs"))),
              esc(w.get("rssMB")), esc(_or_dash(w.get("lostAt"))), esc(_or_dash(w.get("rejoinedAt"))),
              esc(w.get("host") or "–"), esc(_clock(w)), *(clock.cells(w) if remote else []),
              f'<span class="msg">{esc(w.get("error") or "–")}</span>'] for w in workers],
            text_cols=(11, 13 + len(clock.HEAD) * remote)))
    return "".join(parts)


def _clock(w: dict) -> str:
    """A remote worker's clock offset ± its uncertainty; a local one shares the coordinator's clock."""
    if not w.get("remote"):
        return "same clock"
    offset, plus = w.get("clockOffsetMs"), w.get("clockUncertaintyMs")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (offset, plus)):
        return "–"
    return f"{offset:+.3f} ms ± {plus:.3f} ms"


def _or_dash(v: object) -> object:
    return "–" if v is None else v


def _peaks(samples: list) -> dict[str, dict[str, float]]:
    """Worker id → the highest CPU % and loop lag of its resource samples."""
    out: dict[str, dict[str, float]] = {}
    for s in samples:
        for wid, w in ((s or {}).get("workers") or {}).items():
            for key in ("cpuPercent", "loopLagMs"):
                v = (w or {}).get(key)
                if isinstance(v, (int, float)):
                    d = out.setdefault(str(wid), {})
                    d[key] = max(d.get(key, v), v)
    return out
