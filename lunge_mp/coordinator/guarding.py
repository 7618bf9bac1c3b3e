"""Guardrails during a run: the coordinator's side of `analysis/guardrails.py`.

- Before the run: open scenarios get their maxRate caps (`rate_cap`, shared by scenarios
  that may run together), and the limits the plan will run into are noted.
- While handing out arrivals: with emergencyStop and maxTotalRequests, open-model arrivals
  are handed out only while the requests they carry (arrivals × requests per iteration,
  plus the closed-model requests counted so far) fit in the limit. When the budget is used
  up, the run stops once the last arrival handed out is due, and that is the breach.
- Every second: a `Sample` of requests, the last complete second's rate, and the load
  generator's memory and CPU goes to `Guard.check`.
"""

from __future__ import annotations

import psutil

from lunge_mp.analysis import guardrails as gr
from lunge_mp.coordinator import timeline
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.plan import Plan
from lunge_mp.schedule.arrivals import ArrivalClock


class RunGuard:
    def __init__(self, plan: Plan, worker_plan: Plan, offset: float) -> None:
        self.g = plan.guardrails
        caps = gr.rate_caps(timeline.cap_windows(plan, worker_plan, offset), self.g.max_rate)
        self.caps = caps
        self.plan = gr.apply_caps(plan, caps)
        self.worker_plan = gr.apply_caps(worker_plan, caps)
        try:
            box_mb = psutil.virtual_memory().total / 2**20
        except (OSError, RuntimeError):
            box_mb = None
        self.guard = gr.Guard(self.g, box_memory_mb=box_mb)
        self.per_iteration = {s.name: max(1, len(s.requests)) for s in self.worker_plan.scenarios}
        self.closed = [s.name for s in self.worker_plan.scenarios if not s.is_open]
        self.budget_end: float | None = None    # when the open-model budget ran out: last instant handed out
        self.notes: list[str] = []

    def start_notes(self, planned_s: float, clocks: dict[str, ArrivalClock]) -> list[str]:
        planned = sum(c.total_expected() * self.per_iteration[name] for name, c in clocks.items())
        self.notes = gr.start_notes(self.plan, planned_s, None if self.closed else planned)
        return self.notes

    def committed(self, arrivals_sent: dict[str, int], aggregates: list[Aggregate]) -> int:
        """Requests the run has sent or handed out so far (open model: as arrivals)."""
        total = sum(n * self.per_iteration[name] for name, n in arrivals_sent.items())
        for agg in aggregates:
            for name in self.closed:
                total += agg.counters(scenario=name)["requests"]
        return total

    def allowed(self, scenario: str, offsets: list[int], committed: int, shift_us: int) -> list[int]:
        """The arrivals of a batch that fit in maxTotalRequests (all of them without a limit)."""
        budget = gr.request_budget(self.g, committed)
        if budget is None:
            return offsets
        fit = budget // self.per_iteration[scenario]
        if fit >= len(offsets):
            return offsets
        kept = offsets[:fit]
        last_us = (kept[-1] if kept else offsets[0]) + shift_us
        end = last_us / 1e6
        self.budget_end = end if self.budget_end is None else max(self.budget_end, end)
        return kept

    def check(self, t: float, aggregates: list[Aggregate], last_second: dict | None,
              resources: dict | None) -> list[gr.Event]:
        requests = sum(a.counters()["requests"] for a in aggregates)
        if self.budget_end is not None and t >= self.budget_end and self.g.max_total_requests:
            requests = max(requests, self.g.max_total_requests)   # everything allowed was handed out
        lg = (resources or {}).get("loadGenerator") or {}
        return self.guard.check(gr.Sample(
            t=t, requests=requests,
            second=None if last_second is None else last_second.get("t"),
            second_requests=0 if last_second is None else last_second.get("requests", 0),
            memory_mb=lg.get("rssMB"), cpu_percent=lg.get("cpuPercent")))

    def check_time(self, t: float) -> list[gr.Event]:
        """Between the per-second checks: only the clock-driven guardrails."""
        g = self.g
        if g.max_duration and t >= g.max_duration:
            return self.guard.check(gr.Sample(t=t, requests=0))
        if self.budget_end is not None and t >= self.budget_end + 0.05 and g.max_total_requests:
            return self.guard.check(gr.Sample(t=t, requests=g.max_total_requests))
        return []

    def summary(self) -> dict:
        """The `guardrails` block of results.json."""
        return {**self.guard.summary(), "caps": {name: round(cap, 6) for name, cap in self.caps.items()},
                "notes": list(self.notes)}
