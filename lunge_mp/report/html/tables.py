"""The report's tables: thresholds, scenarios, requests, latency summary, failures,
warnings and workers. Cells are built from escaped text only (`esc`)."""

from __future__ import annotations

from lunge_mp.report.html.fmt import esc, ms, num, pct

LATENCY_METRICS = (("http_req_duration", "service time (from send)"),
                   ("http_req_response_time", "response time (from schedule)"),
                   ("schedule_lag", "schedule lag"),
                   ("iteration_duration", "iteration duration"))


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


def thresholds(r: dict) -> str:
    ts = r.get("thresholds") or []
    if not ts:
        return '<p class="muted">No thresholds were configured.</p>'
    rows = []
    for t in ts:
        ok = bool(t.get("ok"))
        obs = t.get("observed")
        rows.append([f'<span class="badge {"ok" if ok else "bad"}">{"PASS" if ok else "FAIL"}</span>',
                     f'<code>{esc(t.get("metric"))}</code>', f'<code>{esc(t.get("expression"))}</code>',
                     "n/a" if obs is None else esc(f"{obs:.6g}" if isinstance(obs, float) else obs),
                     "yes" if t.get("abortOnFail") else "no"])
    return table(["result", "metric", "expression", "observed", "abort on fail"], rows, num_from=3,
                  cls="thresholds")


def scenarios(r: dict) -> str:
    eff = (r.get("efficiency") or {}).get("byScenario") or {}
    rows = []
    for name, s in (r.get("scenarios") or {}).items():
        d = s.get("http_req_duration") or {}
        reqs = s.get("http_reqs") or {}
        failed = s.get("http_req_failed") or {}
        rows.append([f'<strong>{esc(name)}</strong>', esc(s.get("executor")),
                     esc(num((s.get("iterations") or {}).get("count"))),
                     esc(num((s.get("iterations") or {}).get("rate"))),
                     esc(num((s.get("dropped_iterations") or {}).get("count"))),
                     esc(num((s.get("interrupted_iterations") or {}).get("count"))),
                     esc(num(reqs.get("count"))),
                     esc(pct(failed.get("rate") if reqs.get("count") else None)),
                     esc(ms(d.get("p50"))), esc(ms(d.get("p95"))), esc(ms(d.get("p99"))), esc(ms(d.get("max"))),
                     esc(s.get("vus_max")), esc(pct(eff.get(name)) if name in eff else "–")])
    if not rows:
        return '<p class="muted">No scenarios.</p>'
    return table(["scenario", "executor", "iterations", "it/s", "dropped", "interrupted", "requests",
                   "failed", "p50", "p95", "p99", "max", "max VUs", "efficiency"], rows, num_from=2)


def requests(r: dict) -> str:
    rows = []
    for key, q in (r.get("requests") or {}).items():
        d = q.get("http_req_duration") or {}
        reqs = q.get("http_reqs") or {}
        failed = q.get("http_req_failed") or {}
        classes = ", ".join(f"{esc(c)} {esc(num(n))}" for c, n in (failed.get("byClass") or {}).items())
        rows.append([f'<strong>{esc(q.get("request", key))}</strong>', esc(q.get("scenario")),
                     esc(num(reqs.get("count"))), esc(num(reqs.get("rate"))),
                     esc(pct(failed.get("rate") if reqs.get("count") else None)),
                     f'<span class="msg">{classes or "–"}</span>',
                     esc(ms(d.get("min"))), esc(ms(d.get("avg"))), esc(ms(d.get("p50"))), esc(ms(d.get("p90"))),
                     esc(ms(d.get("p95"))), esc(ms(d.get("p99"))), esc(ms(d.get("p99.9"))), esc(ms(d.get("max")))])
    if not rows:
        return '<p class="muted">No requests were made.</p>'
    return table(["request", "scenario", "requests", "req/s", "failed", "failure classes", "min", "avg",
                   "p50", "p90", "p95", "p99", "p99.9", "max"], rows, num_from=2, text_cols=(5,))


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


def errors(r: dict) -> str:
    f = (r.get("metrics") or {}).get("http_req_failed") or {}
    by = f.get("byClass") or {}
    if not by:
        return '<p class="muted">No failed requests.</p>'
    total = sum(by.values()) or 1
    first = f.get("firstError") or {}
    rows = [[f'<code>{esc(c)}</code>', esc(num(n)), esc(pct(n / total, 1)),
             f'<span class="msg">{esc(first.get(c, ""))}</span>'] for c, n in by.items()]
    return table(["class", "count", "share", "first error seen"], rows, num_from=1, text_cols=(3,))


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
        parts.append("<h3>Workers</h3>" + table(
            ["worker", "pid", "CPU user s", "CPU system s", "last CPU %", "last loop lag", "RSS MB", "lost at", "error"],
            [[esc(w.get("id")), esc(w.get("pid")), esc(w.get("cpuUserSeconds")), esc(w.get("cpuSystemSeconds")),
              esc(w.get("lastCpuPercent")), esc(ms(w.get("lastLoopLagMs"))), esc(w.get("rssMB")),
              esc(w.get("lostAt") if w.get("lostAt") is not None else "–"),
              f'<span class="msg">{esc(w.get("error") or "–")}</span>'] for w in workers],
            text_cols=(8,)))
    return "".join(parts)
