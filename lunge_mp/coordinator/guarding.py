"""Guardrails during a run: the coordinator's side of `analysis/guardrails.py`.

- Before the run: open scenarios get their maxRate caps (`rate_cap`, shared by scenarios
  that may run together), and the limits the plan will run into are noted.
- While handing out arrivals: with emergencyStop and maxTotalRequests, open-model arrivals
  are handed out only while the requests they carry (arrivals × requests per iteration,
  plus the closed-model requests counted so far) fit in the limit. When the budget is used
  up, the run stops once the last arrival handed out is due, and that is the breach.
- Closed-model requests take permits on the workers (worker/permits.py): each closed
  scenario's share of maxRate (`closed_rate_shares`), split evenly over the workers, goes to
  them in `Start`; with emergencyStop and maxTotalRequests, the workers lease permits from
  one `PermitLedger` (coordinator/permits.py) that the open-model arrivals draw on too, so the
  run never hands out more than the limit. When the ledger is used up (and the open-model
  arrivals handed out are due), that is the breach. How long VUs waited for permits comes
  with the workers' heartbeats and Byes, and goes into the results and a warning.
- Every second: a `Sample` of requests, the last complete second's rate, and the load
  generator's memory and CPU goes to `Guard.check`.
"""

from __future__ import annotations

from collections.abc import Callable

from lunge_mp.analysis import guardrails as gr
from lunge_mp.coordinator.permits import PermitLedger
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.plan import Plan
from lunge_mp.protocol.messages import PermitGrant, PermitRequest
from lunge_mp.schedule.arrivals import ArrivalClock


class RunGuard:
    def __init__(self, plan: Plan, worker_plan: Plan, offset: float, box_memory_mb: float | None = None) -> None:
        """`box_memory_mb`: the box's memory (for maxMemoryPercent), read by the run loop."""
        self.g = plan.guardrails
        windows = gr.cap_windows(plan, worker_plan, offset)
        caps = gr.rate_caps(windows, self.g.max_rate)
        self.caps = caps
        self.closed_rates = gr.closed_rate_shares(windows, self.g.max_rate)   # requests/s
        self.plan = gr.apply_caps(plan, caps)
        self.worker_plan = gr.apply_caps(worker_plan, caps)
        self.guard = gr.Guard(self.g, box_memory_mb=box_memory_mb)
        self.per_iteration = {s.name: max(1, len(s.requests)) for s in self.worker_plan.scenarios}
        self.closed = [s.name for s in self.worker_plan.scenarios if not s.is_open]
        self.budget_end: float | None = None    # maxTotalRequests: the last open-model arrival's instant
        self.notes: list[str] = []
        limited = bool(self.g.max_total_requests and self.g.emergency_stop)
        self.ledger = PermitLedger(self.g.max_total_requests) if limited else None
        self.lease = limited and bool(self.closed)      # closed-model requests need leased permits
        self.live_workers: Callable[[], list[int]] = list   # the coordinator sets its own
        self._waits: dict[int, tuple[dict[str, float], dict[str, int]]] = {}   # worker → permit waits

    def start_fields(self, workers: int) -> dict:
        """Start's permit fields for a worker: its rate per closed scenario, and the lease."""
        rates = {name: rate / workers for name, rate in self.closed_rates.items()}
        return {"permit_rates": rates, "permit_lease": self.lease}

    def grant(self, request: PermitRequest) -> PermitGrant:
        """A worker's PermitRequest → its PermitGrant."""
        if self.ledger is None:
            return PermitGrant(permits=0, final=True)
        given, final = self.ledger.grant(request.worker, request.used, request.want,
                                         len(self.live_workers()))
        return PermitGrant(permits=given, final=final)

    def permit_waits(self, worker: int, wait_s: dict[str, float], waits: dict[str, int]) -> None:
        """A worker's totals so far (Heartbeat, Bye)."""
        if waits:
            self._waits[worker] = (wait_s, waits)

    def _used_up(self, t: float) -> bool:
        """maxTotalRequests handed out in full and all of it sent (or due)."""
        ledger = self.ledger
        if ledger is None or ledger.left > 0 or not ledger.used_up(self.live_workers()):
            return False
        return self.budget_end is None or t >= self.budget_end

    def start_notes(self, planned_s: float, clocks: dict[str, ArrivalClock]) -> list[str]:
        planned = sum(c.total_expected() * self.per_iteration[name] for name, c in clocks.items())
        self.notes = gr.start_notes(self.plan, planned_s, None if self.closed else planned)
        return self.notes

    def committed(self, arrivals_sent: dict[str, int], aggregates: list[Aggregate]) -> int:
        """Requests the run has sent or handed out so far (open model: as arrivals). The
        maxTotalRequests budget itself is the ledger's (`allowed` does not need this)."""
        total = sum(n * self.per_iteration[name] for name, n in arrivals_sent.items())
        for agg in aggregates:
            for name in self.closed:
                total += agg.counters(scenario=name)["requests"]
        return total

    def allowed(self, scenario: str, offsets: list[int], committed: int, shift_us: int) -> list[int]:
        """The arrivals of a batch that fit in maxTotalRequests (all of them without a limit).
        `committed` is no longer needed: the ledger knows what was handed out."""
        if self.ledger is None:
            return offsets
        k = self.per_iteration[scenario]
        fit = min(len(offsets), self.ledger.left // k)
        self.ledger.take_open(fit * k)
        kept = offsets if fit == len(offsets) else offsets[:fit]
        # the last arrival handed out must be due before the budget counts as used up
        end = ((kept[-1] if kept else offsets[0]) + shift_us) / 1e6
        self.budget_end = end if self.budget_end is None else max(self.budget_end, end)
        return kept

    def check(self, t: float, aggregates: list[Aggregate], last_second: dict | None,
              resources: dict | None) -> list[gr.Event]:
        requests = sum(a.counters()["requests"] for a in aggregates)
        if self._used_up(t):
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
        if self._used_up(t - 0.05):
            return self.guard.check(gr.Sample(t=t, requests=g.max_total_requests))
        return []

    def summary(self) -> dict:
        """The `guardrails` block of results.json."""
        return {**self.guard.summary(), "caps": {name: round(cap, 6) for name, cap in self.caps.items()},
                "notes": list(self.notes), "permits": self.permit_summary()}

    def permit_summary(self) -> dict:
        """How closed-model VUs were held back (results.json `guardrails.permits`)."""
        wait_s: dict[str, float] = {}
        waits: dict[str, int] = {}
        for worker_s, worker_n in self._waits.values():
            for name, n in worker_n.items():
                waits[name] = waits.get(name, 0) + n
                wait_s[name] = wait_s.get(name, 0.0) + worker_s.get(name, 0.0)
        out: dict = {"closedRates": {name: round(r, 6) for name, r in self.closed_rates.items()},
                     "waits": waits, "waitSeconds": {k: round(v, 3) for k, v in wait_s.items()}}
        if self.ledger is not None:
            out["handedOut"] = self.ledger.cap - self.ledger.left
        return out

    def permit_notes(self) -> list[str]:
        """Warnings at the end: closed-model VUs held back by maxRate or maxTotalRequests."""
        notes = []
        summary = self.permit_summary()
        for name, n in summary["waits"].items():
            seconds = summary["waitSeconds"].get(name, 0.0)
            what = ("the rate cap throttled the closed-model VUs" if name == "maxRate"
                    else "closed-model VUs waited for the request budget")
            notes.append(f"guardrail {name}: {what}: {n:,} waits for a permit, {seconds:,.3f} VU-seconds "
                         f"in all (in no request's latency; iteration durations include it)")
        return notes
