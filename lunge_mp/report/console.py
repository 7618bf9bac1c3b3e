"""What a person at a terminal sees: a live line while the run goes, a summary at the end."""

from __future__ import annotations

import sys
from typing import TextIO

from lunge_mp import formatting as fmt
from lunge_mp.report import units
from lunge_mp.textsafe import SafeWriter, escape


def _table(rows: list[list[str]], out: TextIO, text_columns: int = 1) -> None:
    """Text columns (the first `text_columns`) flush left, figures flush right; names escaped
    before the widths are measured, so a row with an escaped name stays aligned."""
    for line in fmt.table([[escape(cell) for cell in row] for row in rows], range(text_columns), "  "):
        print(line, file=out)


class LiveView:
    """One status line a second: rewritten in place on a terminal, a plain line every 5 s otherwise."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.tty = out.isatty()
        self._last_plain = -5.0
        self._width = 0

    def update(self, text: str, t: float) -> None:
        text = escape(text)     # scenario and worker names, whatever a file held
        if self.tty:
            pad = max(0, self._width - len(text))
            self.out.write("\r" + text + " " * pad)
            self._width = len(text)
            self.out.flush()
        elif t - self._last_plain >= 5.0:
            self._last_plain = t
            print(text, file=self.out, flush=True)

    def close(self) -> None:
        if self.tty and self._width:
            self.out.write("\r" + " " * self._width + "\r")
            self.out.flush()


def live_line(t: float, total: float, requests: int, req_rate: float, open_rate: float | None,
              open_target: float | None, p95_ms: float | None, failures: int, vus: int,
              behind: list[str], saturated: list[str] = ()) -> str:
    """`[ 3.0s / 10s]  reqs 1,234 (412/s)  open 400/400 it/s  p95 12.3ms  errors 0  VUs 15`."""
    line = f"[{t:6.1f}s / {total:.0f}s]  reqs {requests:,} ({req_rate:,.0f}/s)"
    if open_target:
        line += f"  open {open_rate or 0:,.0f}/{open_target:,.0f} it/s"
    line += f"  p95 {fmt.ms(p95_ms)}  errors {failures:,}  VUs {vus}"
    if behind:
        line += "  BEHIND: " + ",".join(behind)
    if saturated:
        line += "  SATURATED: " + ",".join(saturated)
    return line


def _causes(by_cause: dict) -> str:
    """`{'no_vu': 490205, 'data': 3}` → `no_vu 490,205, data 3`."""
    return ", ".join(f"{cause} {count:,}" for cause, count in by_cause.items()) or "cause unknown"


def print_summary(results: dict, out: TextIO = sys.stdout, written: list[str] = ()) -> None:
    """The end-of-run summary: verdict, per-scenario and per-request tables, thresholds, warnings.

    Names, error messages and warnings may come from a response or a results file: every
    control character is escaped on its way out (lunge_mp.textsafe)."""
    out = SafeWriter(out)   # type: ignore[assignment]
    m = results["metrics"]
    status = results["status"].upper()
    print(file=out)
    print(f"  {results['name']}: {status} (exit {results['exitCode']}) after "
          f"{results['durationSeconds']:.1f}s with {len(results['workers'])} workers", file=out)
    if results.get("abortReason"):
        print(f"  stopped early: {results['abortReason']}", file=out)
    print(file=out)

    rows = [["scenario", "executor", "iterations", "it/s", "dropped", "requests", "failed",
             "p50", "p95", "p99", "max"]]
    for name, s in results["scenarios"].items():
        d = s["http_req_duration"]
        rows.append([name, s["executor"], fmt.count(s["iterations"]["count"]),
                     fmt.count(s["iterations"]["rate"]),
                     fmt.count(s["dropped_iterations"]["count"]), fmt.count(s["http_reqs"]["count"]),
                     fmt.pct(s["http_req_failed"]["rate"]),
                     fmt.ms(d["p50"]), fmt.ms(d["p95"]), fmt.ms(d["p99"]), fmt.ms(d["max"])])
    _table(rows, out, text_columns=2)
    print(file=out)

    rows = [["request", "requests", "req/s", "failed", "min", "avg", "p50", "p90", "p95", "p99", "max"]]
    for name, r in results["requests"].items():
        d = r["http_req_duration"]
        rows.append([name, fmt.count(r["http_reqs"]["count"]), fmt.count(r["http_reqs"]["rate"]),
                     fmt.pct(r["http_req_failed"]["rate"]),
                     *(fmt.ms(d[k]) for k in ("min", "avg", "p50", "p90", "p95", "p99", "max"))])
    if len(rows) > 1:
        _table(rows, out)
        print(file=out)

    rows = [["metric", "count", "min", "avg", "p50", "p90", "p95", "p99", "p99.9", "max"]]
    for metric, label in (("http_req_duration", "service time (from send)"),
                          ("http_req_response_time", "response time (from schedule)"),
                          ("schedule_lag", "schedule lag"),
                          ("iteration_duration", "iteration duration"),
                          ("http_req_blocked", "blocked (wait + connect)"),
                          ("http_req_connecting", "connecting"),
                          ("http_req_tls_handshaking", "TLS handshaking"),
                          ("http_req_sending", "sending"),
                          ("http_req_waiting", "waiting (time to first byte)"),
                          ("http_req_receiving", "receiving")):
        d = m.get(metric)      # absent from older results files; the last four without timings: detailed
        if d is None:
            continue
        if d["count"]:
            rows.append([label, fmt.count(d["count"]),
                         *(fmt.ms(d[k]) for k in ("min", "avg", "p50", "p90", "p95", "p99", "p99.9", "max"))])
    if len(rows) > 1:
        _table(rows, out)
        print(file=out)

    reqs, failed = m["http_reqs"], m["http_req_failed"]
    print(f"  requests      {reqs['count']:,} ({reqs['rate']:,.1f}/s), failed {failed['count']:,} "
          f"({fmt.pct(failed['rate'])})", file=out)
    for cls, count in failed["byClass"].items():
        example = failed["firstError"].get(cls, "")
        # a template error is a failed request that could not be sent (no value for a {{name}})
        what = " not sent" if cls == "template" else ""
        print(f"    {cls:<12} {count:,}{what}" + (f"   first: {example[:100]}" if example else ""), file=out)
    checks = m.get("checks") or {}
    if checks.get("passes", 0) + checks.get("fails", 0):
        print(f"  checks        {checks['passes'] + checks['fails']:,} assertions: {checks['passes']:,} passed, "
              f"{checks['fails']:,} failed ({fmt.pct(checks['rate'])} passed)", file=out)
    print(f"  iterations    {m['iterations']['count']:,} ({m['iterations']['rate']:,.1f}/s), "
          f"dropped {m['dropped_iterations']['count']:,}"
          + (f" ({_causes(m['dropped_iterations'].get('byCause') or {})})"
             if m['dropped_iterations']['count'] else "")
          + f", interrupted {m['interrupted_iterations']['count']:,}", file=out)
    print(f"  data          received {m['data_received']['count'] / 1e6:,.2f} MB, "
          f"sent {m['data_sent']['count'] / 1e6:,.2f} MB;  max VUs {m['vus_max']}", file=out)
    for name, s in results["scenarios"].items():
        a = s.get("arrivals") or {}
        if a.get("process") not in (None, "constant"):
            print(f"  arrivals      {name}: {a['process']} (seed {a['seed']}; `seed: {a['seed']}` repeats them)",
                  file=out)
    eff = results["efficiency"]["overall"]
    if eff is not None:
        print(f"  efficiency    {fmt.pct(eff)} of open-model iterations started as scheduled", file=out)
    line = queue_line(results)
    if line:
        print(line, file=out)

    _print_checks(results.get("checkResults") or [], out)
    if results["thresholds"]:
        print(file=out)
        print("  thresholds", file=out)
        for t in results["thresholds"]:
            mark = "ok  " if t["ok"] else "FAIL"
            observed = units.observed(t["metric"], t["expression"], t["observed"])
            where = ""
            if t.get("windowStart") is not None:
                where = f" in the worst {t['window']:g}s window, from {t['windowStart']}s"
                if t.get("firstFailure") is not None:
                    where += f"; first broken at {t['firstFailure']}s"
            default = "  [default: set your own threshold on it, or options.defaultThresholds: false]" \
                if t.get("default") else ""
            print(f"    {mark}  {t['metric']}: {t['expression']}  (observed {observed}{where}){default}", file=out)
    if results.get("anomalies"):
        print(file=out)
        print("  anomalies", file=out)
        for a in results["anomalies"]:
            when = f"{a['start']}s" if a["start"] == a["end"] else f"{a['start']}-{a['end']}s"
            print(f"    {a['kind'].replace('_', ' '):<14} {when:>8}  {a['detail']}", file=out)
    if results["warnings"]:
        print(file=out)
        for w in results["warnings"]:
            print(f"  warning: {w}", file=out)
    if written:
        print(file=out)
        print(f"  written: {', '.join(written)}", file=out)
    print(file=out)


MAX_CHECK_LINES = 30


def _print_checks(checks: list[dict], out: TextIO) -> None:
    """k6's check list: each check by name under its request, ✓ or ✗, passes/total, and a
    failing check's first message. Failing checks first when there are many."""
    if not checks:
        return
    utf8 = "utf" in (getattr(out, "encoding", None) or "utf-8").lower()
    ok_mark, bad_mark = ("✓", "✗") if utf8 else ("ok", "x ")
    shown = sorted(checks, key=lambda c: c["fails"] == 0)[:MAX_CHECK_LINES] if len(checks) > MAX_CHECK_LINES \
        else checks
    keep = {id(c) for c in shown}
    width = min(48, max(len(c["check"]) for c in shown))
    print(file=out)
    print("  checks", file=out)
    where = None
    for c in checks:
        if id(c) not in keep:
            continue
        if (c["scenario"], c["request"]) != where:
            where = (c["scenario"], c["request"])
            print(f"    {c['request']} ({c['scenario']})", file=out)
        total = c["passes"] + c["fails"]
        line = (f"      {bad_mark if c['fails'] else ok_mark} {c['check'][:width]:<{width}}  "
                f"{c['passes']:,}/{total:,}")
        if c["fails"] and c.get("firstFailure"):
            line += f"   first failure: {c['firstFailure'][:100]}"
        print(line, file=out)
    if len(checks) > len(shown):
        print(f"    ({len(checks) - len(shown)} more passing checks in the results file)", file=out)


def queue_line(results: dict) -> str | None:
    """The Redis queue monitor's figures in one line (None when no queue was monitored)."""
    q = results.get("queue")
    if not q:
        return None
    seconds = [b["queue"] for b in results.get("buckets") or [] if b.get("queue")]
    processed = [s["processingRate"] for s in seconds if s.get("processingRate") is not None]
    rate = f", consumers {sum(processed) / len(processed):,.0f} jobs/s on average" if processed else ""
    final = f", {seconds[-1]['depth']:,} at the end" if seconds else ""
    return f"  queue         {', '.join(q['keys'])}: peak backlog {q['peakDepth']:,}{final}{rate}"
