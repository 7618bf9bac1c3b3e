"""One-line descriptions of a valid plan, for `lunge-mp validate`. Pure."""

from __future__ import annotations

from lunge_mp.plan import Plan, ScenarioPlan


def fmt_seconds(seconds: float) -> str:
    """90 → `1m30s`, 0.25 → `250ms`, 7200 → `2h`: the way durations are written in configs."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe_scenario(s: ScenarioPlan) -> str:
    """`steady (constant-arrival-rate, 5/s, 2m, 1 request)`."""
    bits = [s.executor, *s.load_summary()]
    if s.length:
        bits.append(("at most " if s.iteration_based else "") + fmt_seconds(s.length))
    if s.start_time:
        bits.append(f"from {fmt_seconds(s.start_time)}")
    bits.append(_plural(len(s.requests), "request"))
    if s.data:
        bits.append("data " + ", ".join(f"{d.name} ({d.mode}, {_plural(d.rows, 'row')})" for d in s.data))
    return f"{s.name} ({', '.join(bits)})"


def describe_plan(plan: Plan) -> str:
    """`'Checkout API': 2 scenarios: browse (...), steady (...); 3 thresholds`."""
    parts = [f"{plan.name!r}: {_plural(len(plan.scenarios), 'scenario')}: "
             + ", ".join(describe_scenario(s) for s in plan.scenarios)]
    if plan.data:
        parts.append("data " + ", ".join(f"{d.name} ({d.mode}, {_plural(d.rows, 'row')})" for d in plan.data))
    own = [t for t in plan.thresholds if not t.default]
    if own:
        parts.append(_plural(len(own), "threshold"))
    parts += [f"default threshold {t.metric}: {t.expression}" for t in plan.thresholds if t.default]
    if plan.options.warmup is not None:
        parts.append(f"warmup {fmt_seconds(plan.options.warmup.duration)}")
    return "; ".join(parts)
