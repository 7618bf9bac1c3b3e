"""Console text for baseline comparisons, run history and baselines (plain ASCII: cron logs read it)."""

from __future__ import annotations

from lunge_mp import formatting as fmt
from lunge_mp.analysis.compare import EFFICIENCY, ERROR_RATE, LATENCY, RPS, Comparison, Row, metric_value

MARK = {"regressed": "REGRESSED", "improved": "improved", "ok": "ok", "no data": "no data"}


def _value(family: str, v: float | None) -> str:
    if family == LATENCY:
        return fmt.ms(v)
    if family == RPS:
        return fmt.rate(v)
    return fmt.pct(v)   # error_rate, efficiency: fractions


def _change(row: Row) -> str:
    d = row.delta
    if d is None:
        return "-"
    if row.family in (ERROR_RATE, EFFICIENCY):
        return f"{d * 100:+.2f}pp"
    pct = f" ({fmt.signed_pct(row.delta_pct)})" if row.delta_pct is not None else ""
    if row.family == LATENCY:
        return ("+" if d >= 0 else "-") + fmt.ms(abs(d)) + pct
    return f"{d:+,.1f}/s{pct}"


def _limit(row: Row) -> str:
    if row.limit is None:
        return "-"
    op = ">=" if row.family in (RPS, EFFICIENCY) else "<="
    return f"{op} {_value(row.family, row.limit)}"


def _where(row: Row) -> str:
    return "overall" if row.name is None else f"{row.scope} {row.name}"


def _run_line(doc: dict) -> str:
    return f"run {doc.get('runId') or '?'} of '{doc.get('name') or '?'}' ({fmt.when(doc.get('startTime'))})"


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
    lines += fmt.table(rows, (0, 1, -1), "  ")
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
    return fmt.signed_pct((now - before) / before * 100.0)


def history_table(runs: list[dict]) -> str:
    """Runs (newest first, as Store.runs gives them) with p95 and rate against each test's previous run."""
    if not runs:
        return "  no runs recorded yet (lunge-mp record results.json adds one)\n"
    rows = [["#", "run", "started (UTC)", "test", "status", "secs", "requests", "req/s", "vs prev",
             "errors", "p95", "vs prev", "p99", "efficiency"]]
    for i, r in enumerate(runs):
        prev = next((o for o in runs[i + 1:] if o["name"] == r["name"]), None)
        rows.append([str(r["id"]), r["runId"], fmt.when(r["startTime"]), r["name"],
                     f"{r['status']} ({r['exitCode']})",
                     "-" if r["durationSeconds"] is None else f"{r['durationSeconds']:.0f}",
                     "-" if r["requests"] is None else f"{r['requests']:,}",
                     fmt.rate(r["rate"]).removesuffix("/s"), _trend(r["rate"], prev and prev["rate"]),
                     fmt.pct(r["errorRate"]), fmt.ms(r["p95"]), _trend(r["p95"], prev and prev["p95"]),
                     fmt.ms(r["p99"]), fmt.pct(r["efficiency"])])
    lines = fmt.table(rows, (0, 1, 2, 3, 4), "  ")
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
        rows.append([b["name"], b["testName"], b["runId"], fmt.when(b["startTime"]), fmt.when(b["setAt"]),
                     f"{b['status']} ({b['exitCode']})", fmt.rate(b["rate"]).removesuffix("/s"),
                     fmt.pct(b["errorRate"]), fmt.ms(b["p95"]), fmt.ms(b["p99"])])
    return "\n".join(fmt.table(rows, (0, 1, 2, 3, 4, 5), "  ")) + "\n"


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
                     fmt.rate(metric_value(block, "rps")).removesuffix("/s"),
                     fmt.pct(metric_value(block, "error_rate")),
                     *(fmt.ms(metric_value(block, m)) for m in ("p50", "p90", "p95", "p99", "max"))])
    lines += fmt.table(rows, (0,), "  ")
    eff = (doc.get("efficiency") or {}).get("overall")
    if eff is not None:
        lines.append("")
        lines.append(f"  efficiency {fmt.pct(eff)} of open-model iterations started as scheduled")
    lines.append("")
    return "\n".join(lines)
