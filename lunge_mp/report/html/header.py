"""The top of the report: run name, status, timing, efficiency, transport, warmup; the
headline cards. Every user-supplied string is escaped with `esc`."""

from __future__ import annotations

from lunge_mp.report import units
from lunge_mp.report.html.fmt import dur, esc, ms, num, pct, when

STATUS_CLASS = {"passed": "ok", "failed": "bad", "aborted": "warn", "invalid": "bad"}
TRANSPORTS = {"fast": "lean HTTP/1.1 keep-alive client (uvloop + httptools)",
              "aiohttp": "aiohttp client (decompresses responses)"}


def header(r: dict) -> str:
    status = str(r.get("status", "unknown"))
    eff = (r.get("efficiency") or {}).get("overall")
    tool = r.get("tool") or {}
    meta = [
        ("Status", f'<span class="badge {STATUS_CLASS.get(status, "warn")}">{esc(status.upper())}</span>'),
        ("Exit code", esc(r.get("exitCode"))),
        ("Duration", f'{esc(dur(r.get("durationSeconds")))} <span class="muted">of {esc(dur(r.get("plannedSeconds")))} planned'
         + (f', {esc(dur(r.get("wallSeconds")))} wall</span>' if r.get("wallSeconds") not in (None, r.get("durationSeconds"))
            else "</span>")),
        ("Started", esc(when(r.get("startTime")))),
        ("Efficiency", f'{esc(pct(eff))} <span class="muted">of open-model iterations started on time</span>'
         if eff is not None else 'n/a <span class="muted">(no open-model scenario)</span>'),
        ("Workers", esc(len(r.get("workers") or []))),
        ("Transport", transport(r.get("transport"))),
        *([("Warmup", warmup(r["warmup"]))] if r.get("warmup") else []),
        ("Run id", f'<code>{esc(r.get("runId"))}</code>'),
        ("Config", f'<code>{esc(r.get("source"))}</code>'),
    ]
    items = "".join(f'<div class="meta-item"><div class="meta-k">{k}</div><div class="meta-v">{v}</div></div>'
                    for k, v in meta)
    return (f'<header class="top"><div class="brand">lunge_mp report</div>'
            f'<h1 id="run-name">{esc(r.get("name") or "unnamed run")}</h1>'
            f'<div class="meta">{items}</div>'
            f'<div class="tool muted">{esc(tool.get("name", "lunge_mp"))} {esc(tool.get("version", ""))}'
            f' on {esc(tool.get("host", "?"))} · ended {esc(when(r.get("endTime")))}</div></header>')


def transport(name: object) -> str:
    """The HTTP client the workers used (`settings.transport`, auto resolved)."""
    if not name:
        return '– <span class="muted">(not recorded in this results file)</span>'
    what = TRANSPORTS.get(str(name))
    return f'<span id="transport">{esc(name)}</span>' + (f' <span class="muted">{esc(what)}</span>' if what else "")


def warmup(w: dict) -> str:
    reqs = (w.get("http_reqs") or {}).get("count")
    failed = (w.get("http_req_failed") or {}).get("count")
    return (f'{esc(dur(w.get("seconds")))} <span class="muted">excluded from every figure but the charts: '
            f'{esc(num((w.get("iterations") or {}).get("count")))} iterations, {esc(num(reqs))} requests, '
            f'{esc(num(failed))} failed</span>')


def checks_card(c: object) -> tuple[str, str, str, str]:
    """Assertions over the run: the share that held; old results files have no `checks`."""
    if not isinstance(c, dict):
        return ("Checks", "–", "not recorded in this results file", "")
    passes, fails = c.get("passes") or 0, c.get("fails") or 0
    if not passes + fails:
        return ("Checks", "–", "no assertions ran", "")
    return ("Checks", esc(pct(c.get("rate"))), f'{esc(num(passes))} passed, {esc(num(fails))} failed',
            "bad" if fails else "ok")


def cards(r: dict) -> str:
    m = r.get("metrics") or {}
    reqs = m.get("http_reqs") or {}
    failed = m.get("http_req_failed") or {}
    dur = m.get("http_req_duration") or {}
    rt = m.get("http_req_response_time") or {}
    it = m.get("iterations") or {}
    dropped = (m.get("dropped_iterations") or {}).get("count", 0)
    fail_rate = failed.get("rate") if reqs.get("count") else None
    fail_cls = "bad" if failed.get("count") else "ok"
    rt_note = (f'response time p99 {esc(ms(rt.get("p99")))}' if rt.get("count") else "service time")
    gen = (m.get("generator_errors") or {}).get("count") or 0
    fail_note = f'{esc(num(failed.get("count")))} failed requests' + (
        f' · {esc(num(gen))} load generator errors apart' if gen else "")
    cards = [
        ("Requests", esc(num(reqs.get("count"))), f'{esc(num(it.get("count")))} iterations, {esc(num(dropped))} dropped', ""),
        ("Request rate", f'{esc(num(reqs.get("rate")))}<small>/s</small>', f'{esc(num(it.get("rate")))} iterations/s', ""),
        ("Failure rate", esc(pct(fail_rate)), fail_note, fail_cls),
        checks_card(m.get("checks")),
        ("p95 latency", esc(ms(dur.get("p95"))), f'p50 {esc(ms(dur.get("p50")))} · service time', ""),
        ("p99 latency", esc(ms(dur.get("p99"))), f'max {esc(ms(dur.get("max")))} · {rt_note}', ""),
    ]
    return '<section class="cards" id="cards">' + "".join(
        f'<div class="card {c}"><div class="card-k">{k}</div><div class="card-v">{v}</div>'
        f'<div class="card-s">{s}</div></div>' for k, v, s, c in cards) + "</section>"


MAX_VERDICT_LINES = 5


def _event_text(e: dict) -> str:
    """`Paused at 4.3 s`, `Resumed at 6.2 s after 1.9 s paused`, `Scaled web at 8.0 s: vus 6 (was 3)`."""
    t = e.get("t")
    at = f" at {t:.1f} s" if isinstance(t, (int, float)) else ""
    kind = e.get("event")
    if kind == "pause":
        return f"Paused{at}"
    if kind == "resume":
        return f"Resumed{at} after {e.get('pausedSeconds', 0):.1f} s paused"
    detail = ", ".join(f"{k} {v}" for k, v in e.items() if k not in ("t", "event", "scenario", "was"))
    was = f" (was {e['was']})" if "was" in e else ""
    return f"Scaled {e.get('scenario', '')}{at}: {detail}{was}"


def verdict(r: dict) -> str:
    """Why the run passed or not, first thing on the page: the failing thresholds with their
    observed values, the abort or invalid reason, the anomalies and the first warnings, each
    linking to its section below. A passing run says what it passed."""
    status = str(r.get("status", "unknown"))
    thresholds = r.get("thresholds") or []
    failing = [t for t in thresholds if not t.get("ok")]
    lines = []
    if r.get("abortReason"):
        lines.append(f'<li><strong>Stopped early:</strong> {esc(r["abortReason"])}</li>')
    for t in failing[:MAX_VERDICT_LINES]:
        observed = units.observed(str(t.get("metric")), str(t.get("expression")), t.get("observed"), ms)
        lines.append(f'<li><strong>Threshold failed:</strong> <code>{esc(t.get("metric"))}</code> '
                     f'<code>{esc(t.get("expression"))}</code>, observed {esc(observed)}</li>')
    if len(failing) > MAX_VERDICT_LINES:
        lines.append(f'<li><a href="#thresholds">{len(failing) - MAX_VERDICT_LINES} more failing thresholds</a></li>')
    warnings = list(r.get("warnings") or [])
    invalid = [w for w in warnings if w.startswith("run invalid")]
    for w in invalid:
        lines.append(f'<li><strong>Invalid:</strong> {esc(w)}</li>')
    anomalies = r.get("anomalies") or []
    if anomalies:
        kinds: dict[str, int] = {}
        for a in anomalies:
            kinds[str(a.get("kind"))] = kinds.get(str(a.get("kind")), 0) + 1
        text = ", ".join(f"{n} × {k.replace('_', ' ')}" for k, n in kinds.items())
        lines.append(f'<li><a href="#anomalies">Anomalies</a>: {esc(text)}</li>')
    for e in r.get("controlEvents") or []:     # pauses and scales (coordinator/control.py)
        lines.append(f'<li><strong>{esc(_event_text(e))}</strong></li>')
    others = [w for w in warnings if w not in invalid]
    for w in others[:MAX_VERDICT_LINES]:
        lines.append(f'<li>Warning: {esc(w)}</li>')
    if len(others) > MAX_VERDICT_LINES:
        lines.append(f'<li><a href="#warnings">{len(others) - MAX_VERDICT_LINES} more warnings</a></li>')
    if status == "passed":
        summary = (f"All {len(thresholds)} thresholds passed." if thresholds
                   else "No thresholds were configured; the run completed.")
    elif status == "failed":
        summary = f"{len(failing)} of {len(thresholds)} thresholds failed." if failing else "The run failed."
    elif status == "invalid":
        summary = "The run is invalid: the load generator could not deliver the asked load."
    else:
        summary = f"The run ended {esc(status)} (exit {esc(r.get('exitCode'))})."
    cls = STATUS_CLASS.get(status, "warn")
    items = f'<ul>{"".join(lines)}</ul>' if lines else ""
    return (f'<section class="verdict {cls}" id="verdict"><div class="verdict-head">'
            f'<span class="badge {cls}">{esc(status.upper())}</span> {summary}</div>{items}</section>')
