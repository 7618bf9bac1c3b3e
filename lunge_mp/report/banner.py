"""The start banner: what is about to run, before anything is sent (k6's `scenarios:` block).

A reader who typed the wrong flag sees it before the load starts, not in the summary.
Pure: `start_banner(plan, workers, outputs)` returns the lines; the runner prints them to
stderr (never with --quiet), through the secrets redactor.
"""

from __future__ import annotations

from collections.abc import Mapping

from lunge_mp.config.summary import describe_scenario, fmt_seconds
from lunge_mp.plan import Guardrails, Plan, ScenarioPlan
from lunge_mp.report.results import planned_vus


def _load(s: ScenarioPlan) -> str:
    """`open: constant-arrival-rate, 200/s for 5s, 10..100 VUs, gracefulStop 30s`."""
    text = describe_scenario(s).split(" (", 1)[1].rstrip(")")
    if s.is_open:
        text += f", VUs {s.pre_allocated_vus}..{s.max_vus}"
    return f"{s.name}: {text}, gracefulStop {fmt_seconds(s.graceful_stop)}"


def start_banner(plan: Plan, workers: int, transport: str, outputs: Mapping[str, str | None]) -> list[str]:
    open_model = [s for s in plan.scenarios if s.is_open]
    closed_vus = sum(planned_vus(s) for s in plan.scenarios)
    vus = closed_vus + sum(s.max_vus for s in open_model)
    lines = [f"  {plan.name}: {plan.source or 'the perf options'}",
             f"  {workers} worker{'s' if workers != 1 else ''}, transport {transport}"
             + (f", warmup {fmt_seconds(plan.options.warmup.duration)} first" if plan.options.warmup else ""),
             f"  scenarios: {len(plan.scenarios)}"
             + (", one after another" if plan.options.sequential and len(plan.scenarios) > 1 else "")
             + f", up to {vus:,} VUs"]
    lines += [f"    * {_load(s)}" for s in plan.scenarios]
    g, default = plan.guardrails, Guardrails()
    caps = [f"{key} {value:g}" for key, field in (("maxRate", "max_rate"), ("maxTotalRequests", "max_total_requests"),
                                                  ("maxDuration", "max_duration"),
                                                  ("maxQueueDepth", "max_queue_depth"))
            if (value := getattr(g, field)) != getattr(default, field) and value]
    if caps:
        lines.append(f"  guardrails: {', '.join(caps)}")
    if plan.thresholds:
        lines.append(f"  thresholds: {len(plan.thresholds)}")
    written = [path for path in outputs.values() if path]
    lines.append(f"  output: {', '.join(written) if written else 'summary only'}")
    return lines
