"""Console text for baseline comparisons, run history and baselines (plain ASCII: cron logs read it)."""

from __future__ import annotations

from lunge_mp.analysis.compare import EFFICIENCY, ERROR_RATE, LATENCY, RPS, Comparison, Row, metric_value

MARK = {"regressed": "REGRESSED", "improved": "improved", "ok": "ok", "no data": "no data"}


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v / 1000:.2f}s"
    if abs(v) >= 100:
        return f"{v:.0f}ms"
    return f"{v:.2f}ms"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.2f}%"


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}/s"


def _signed_pct(v: float | None) -> str:
    if v is None:
        return ""
    return "0.0%" if round(v, 1) == 0 else f"{v:+.1f}%"   # never "-0.0%"


def _when(iso: str | None) -> str:
    """`2026-11-23T19:48:36.840+00:00` → `2026-11-23 19:48` (UTC as recorded)."""
    return "-" if not iso else iso[:16].replace("T", " ")


def _table(rows: list[list[str]], indent: str = "  ", left: tuple[int, ...] = (0,)) -> list[str]:
    """Columns padded to width; columns in `left` flush left (-1: the last), the rest flush right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    flush_left = {i % len(widths) for i in left}
    out = []
    for j, row in enumerate(rows):
        cells = [c.ljust(w) if i in flush_left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        out.append((indent + "  ".join(cells)).rstrip())
        if j == 0:
            out.append(indent + "  ".join("-" * w for w in widths))
    return out


def _value(family: str, v: float | None) -> str:
    if family == LATENCY:
        return _ms(v)
    if family == RPS:
        return _rate(v)
    return _pct(v)   # error_rate, efficiency: fractions


def _change(row: Row) -> str:
    d = row.delta
    if d is None:
        return "-"
    if row.family in (ERROR_RATE, EFFICIENCY):
        return f"{d * 100:+.2f}pp"
    pct = f" ({_signed_pct(row.delta_pct)})" if row.delta_pct is not None else ""
    if row.family == LATENCY:
        return ("+" if d >= 0 else "-") + _ms(abs(d)) + pct
    return f"{d:+,.1f}/s{pct}"


def _limit(row: Row) -> str:
    if row.limit is None:
        return "-"
    op = ">=" if row.family in (RPS, EFFICIENCY) else "<="
    return f"{op} {_value(row.family, row.limit)}"


def _where(row: Row) -> str:
    return "overall" if row.name is None else f"{row.scope} {row.name}"


def _run_line(doc: dict) -> str:
    return f"run {doc.get('runId') or '?'} of '{doc.get('name') or '?'}' ({_when(doc.get('startTime'))})"


def format_comparison(cmp: Comparison) -> str:
    """The comparison as a table: every checked metric with its limit; regressions in capitals."""
    lines = [""]
    base_name = cmp.baseline.get("baselineName")
    lines.append(f"  this run:  {_run_line(cmp.current)}")
    lines.append(f"  baseline:  {repr(base_name) + ' = ' if base_name else ''}{_run_line(cmp.baseline)}")
    lines.append(f"  rules:     {', '.join(r.text for r in cmp.rules)}")
    lines.append("")
    rows = [["where", "metric", "baseline", "current", "change", "limit", "result"]]
    for r in cmp.rows:
        rows.append([_where(r), r.metric, _value(r.family, r.baseline), _value(r.family, r.current),
                     _change(r), _limit(r), MARK[r.status]])
    lines += _table(rows, left=(0, 1, -1))
    lines.append("")

    for label, items in (("missing in this run", [f"scenario '{s}'" for s in cmp.missing_scenarios]
                          + [f"request '{r}'" for r in cmp.missing_requests]),
                         ("new in this run (no baseline)", [f"scenario '{s}'" for s in cmp.new_scenarios]
                          + [f"request '{r}'" for r in cmp.new_requests])):
        if items:
            lines.append(f"  {label}: {', '.join(items)}")
    for note in cmp.notes:
        lines.append(f"  note: {note}")
    if cmp.missing_scenarios or cmp.missing_requests or cmp.new_scenarios or cmp.new_requests or cmp.notes:
        lines.append("")

    if cmp.regressed:
        lines.append(f"  REGRESSED: {', '.join(cmp.regressed)}")
    else:
        checked = sum(1 for r in cmp.rows if r.status != "no data")
        lines.append(f"  no regression: {checked} checks within their limits")
    if cmp.improved:
        lines.append(f"  improved:  {', '.join(cmp.improved)}")
    lines.append("")
    return "\n".join(lines)


def _trend(now: float | None, before: float | None) -> str:
    if now is None or before is None or not before:
        return ""
    return _signed_pct((now - before) / before * 100.0)


def history_table(runs: list[dict]) -> str:
    """Runs (newest first, as Store.runs gives them) with p95 and rate against each test's previous run."""
    if not runs:
        return "  no runs recorded yet (lunge-mp record results.json adds one)\n"
    rows = [["#", "run", "started (UTC)", "test", "status", "secs", "requests", "req/s", "vs prev",
             "errors", "p95", "vs prev", "p99", "efficiency"]]
    for i, r in enumerate(runs):
        prev = next((o for o in runs[i + 1:] if o["name"] == r["name"]), None)
        rows.append([str(r["id"]), r["runId"], _when(r["startTime"]), r["name"],
                     f"{r['status']} ({r['exitCode']})",
                     "-" if r["durationSeconds"] is None else f"{r['durationSeconds']:.0f}",
                     "-" if r["requests"] is None else f"{r['requests']:,}",
                     _rate(r["rate"]).removesuffix("/s"), _trend(r["rate"], prev and prev["rate"]),
                     _pct(r["errorRate"]), _ms(r["p95"]), _trend(r["p95"], prev and prev["p95"]),
                     _ms(r["p99"]), _pct(r["efficiency"])])
    lines = _table(rows, left=(0, 1, 2, 3, 4))
    lines.append("")
    lines.append("  vs prev: change from the same test's previous run in this list "
                 "(req/s: lower is worse; p95: higher is worse)")
    return "\n".join(lines) + "\n"


def baselines_table(baselines: list[dict]) -> str:
    if not baselines:
        return "  no baselines yet (lunge-mp baseline set NAME results.json makes one)\n"
    rows = [["baseline", "test", "run", "started (UTC)", "set (UTC)", "status", "req/s", "errors",
             "p95", "p99"]]
    for b in baselines:
        rows.append([b["name"], b["testName"], b["runId"], _when(b["startTime"]), _when(b["setAt"]),
                     f"{b['status']} ({b['exitCode']})", _rate(b["rate"]).removesuffix("/s"),
                     _pct(b["errorRate"]), _ms(b["p95"]), _ms(b["p99"])])
    return "\n".join(_table(rows, left=(0, 1, 2, 3, 4, 5))) + "\n"


def run_brief(doc: dict) -> str:
    """Key figures of one results document: the whole run, each scenario, each request."""
    lines = [""]
    lines.append(f"  {_run_line(doc)}: {doc.get('status')} (exit {doc.get('exitCode')}), "
                 f"{doc.get('durationSeconds')}s")
    lines.append("")
    rows = [["where", "requests", "req/s", "errors", "p50", "p90", "p95", "p99", "max"]]
    blocks = [("overall", doc["metrics"])]
    blocks += [(f"scenario {k}", v) for k, v in (doc.get("scenarios") or {}).items()]
    blocks += [(f"request {k}", v) for k, v in (doc.get("requests") or {}).items()]
    for where, block in blocks:
        count = (block.get("http_reqs") or {}).get("count")
        rows.append([where, "-" if count is None else f"{count:,}",
                     _rate(metric_value(block, "rps")).removesuffix("/s"),
                     _pct(metric_value(block, "error_rate")),
                     *(_ms(metric_value(block, m)) for m in ("p50", "p90", "p95", "p99", "max"))])
    lines += _table(rows)
    eff = (doc.get("efficiency") or {}).get("overall")
    if eff is not None:
        lines.append("")
        lines.append(f"  efficiency {_pct(eff)} of open-model iterations started as scheduled")
    lines.append("")
    return "\n".join(lines)
