"""Guardrails: limits the run may never exceed, checked before it and every second of it. Pure.

Before the run (`plan_problems`, `start_notes`, `rate_caps`)
    allowedHosts   every host the plan names (variables filled in) must be allowed, else the
                   run is refused with exit 104 before any connection (`hosts.py`).
    maxRate        open-model scenarios that can run at the same time share maxRate
                   requests/s by water-filling over their peak request rates P_s = k_s·max R_s
                   (k_s requests per iteration): sorted by P_s, each gets min(P_s, what is
                   left ÷ scenarios left). A scenario whose P_s is above its share a_s gets
                   the iteration-rate cap c_s = a_s / k_s, and its arrivals come from
                   min(R_s(t), c_s) (`capped_rate.py`: exact for piecewise functions).
                   Closed-model scenarios take part with P_s = ∞ (they send as fast as they
                   are let): each gets a share a_s of requests/s, which its VUs' permits
                   hold them to (`closed_rate_shares`; schedule/permits.py).
    notes          a planned length above maxDuration, planned open-model requests above
                   maxTotalRequests, or a peak at or above warnThresholds.rate of maxRate are
                   said at the start (and in the results).

During the run (`Guard.check`, once a second, on a `Sample`)
    maxDuration       t ≥ maxDuration (seconds from t0).
    maxTotalRequests  requests counted so far ≥ the limit. (The coordinator also never hands
                      out open-model arrivals beyond it, see `request_budget`.)
    maxRate           the mean of the last 3 complete seconds' requests > 1.1·maxRate (the
                      10% absorbs completions bunching up). Open-model arrivals are capped
                      and closed-model requests wait for permits, so this is a safety net.
    maxMemoryMB       RSS of the coordinator and every worker > the limit (default: 80% of the
                      box's memory).
    maxCPUPercent     CPU of the coordinator and every worker, averaged over the box's cores,
                      above the limit for 3 seconds in a row.
Warnings come once per guardrail when a figure first reaches warnThresholds (rate, memory,
cpu) of its limit. A breach is an `Event("breach")`: with emergencyStop the coordinator stops
the run with exit 111 naming the guardrail; without it the breach is only a warning.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from lunge_mp.analysis.hosts import HostMatcher, url_host
from lunge_mp.plan import Guardrails, Plan, ScenarioPlan
from lunge_mp.scenario.template import Template, TemplateError
from lunge_mp.schedule.capped_rate import peak_rate

RATE_TOLERANCE = 1.1
RATE_WINDOW_S = 3
CPU_SUSTAIN_S = 3
DEFAULT_MEMORY_FRACTION = 0.8


# --- before the run ----------------------------------------------------------------------------

def _fixed_context(plan: Plan, scenario: ScenarioPlan) -> dict[str, object]:
    ctx: dict[str, object] = dict(plan.variables)
    ctx.update(baseUrl=plan.settings.base_url, vu=1, iteration=0, scenario=scenario.name)
    return ctx


def request_hosts(plan: Plan) -> list[tuple[str, str, tuple[str, int | None] | None]]:
    """(field path, URL as far as known, (host, port) or None when only known at run time)."""
    out = []
    for s in plan.scenarios:
        ctx = _fixed_context(plan, s)
        for i, r in enumerate(s.requests):
            where = f"scenarios.{s.name}.requests[{i}].url"
            try:
                url = Template(r.url).render(ctx)
            except TemplateError:
                # an extracted value: the host is known if the text before it holds the authority
                url = r.url.split("{{", 1)[0]
                rest = url.split("://", 1)
                if len(rest) < 2 or not any(c in rest[1] for c in "/?#"):
                    out.append((where, r.url, None))
                    continue
            out.append((where, url, url_host(url)))
    return out


def plan_problems(plan: Plan) -> list[str]:
    """Hosts the plan names that guardrails.allowedHosts does not allow (the run is refused)."""
    matcher = HostMatcher(plan.guardrails.allowed_hosts)
    if matcher.open:
        return []
    problems = []
    for where, _url, found in request_hosts(plan):
        if found is not None and not matcher.allows(*found):
            host, port = found
            problems.append(f"{where}: host '{host}' (port {port}) is not in guardrails.allowedHosts "
                            f"({matcher.describe()}); nothing was sent. Add it to allowedHosts if this "
                            f"target is meant to be tested")
    return problems


@dataclass(frozen=True)
class Window:
    """An open scenario and when it may run (seconds from t0; `group` ≠ others: never together)."""
    scenario: ScenarioPlan
    start: float
    end: float
    group: int = 0


def cap_windows(plan: Plan, worker_plan: Plan, offset: float) -> list[Window]:
    """When each scenario of `worker_plan` (warmups included) may run, for sharing maxRate:
    warmups from t0, the test's scenarios from `offset` + startTime, and with `sequential`
    each test scenario alone (its own group: it never runs beside another). An
    iteration-based scenario may run until its maxDuration (plus its gracefulStop)."""
    order = {s.name: i for i, s in enumerate(plan.scenarios)}
    out = []
    for s in worker_plan.scenarios:
        length = s.length + (0.0 if s.is_open else s.graceful_stop)
        if s.name not in order:
            out.append(Window(s, s.start_time, s.start_time + length))
        elif plan.options.sequential:
            out.append(Window(s, 0.0, 1.0, group=1 + order[s.name]))
        else:
            start = offset + s.start_time
            out.append(Window(s, start, start + length))
    return out


def rate_caps(windows: Iterable[Window], max_rate: float) -> dict[str, float]:
    """Iteration-rate cap per open scenario that needs one (see the module docstring)."""
    return {name: given / k for name, (peak, k, given) in _water_fill(windows, max_rate).items()
            if peak > given * (1 + 1e-12) and not math.isinf(peak)}


def closed_rate_shares(windows: Iterable[Window], max_rate: float) -> dict[str, float]:
    """Requests/s of maxRate each closed-model scenario may send (its VUs take permits at
    that rate, split over the workers). A closed scenario asks for as much as it can get:
    it gets an even share of what the open ones beside it leave."""
    return {name: given for name, (peak, _k, given) in _water_fill(windows, max_rate).items()
            if math.isinf(peak)}


def _water_fill(windows: Iterable[Window], max_rate: float) -> dict[str, tuple[float, int, float]]:
    """scenario → (peak request rate, requests per iteration, request rate given); closed
    scenarios' peak is infinite."""
    if max_rate <= 0:
        return {}
    items = list(windows)
    # connected components of "may run at the same time"
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(items):
        for j in range(i + 1, len(items)):
            b = items[j]
            if a.group == b.group and a.start < b.end and b.start < a.end:
                parent[root(i)] = root(j)
    components: dict[int, list[Window]] = {}
    for i, w in enumerate(items):
        components.setdefault(root(i), []).append(w)
    out: dict[str, tuple[float, int, float]] = {}
    for members in components.values():
        demand = []
        for w in members:
            k = max(1, len(w.scenario.requests))
            peak = peak_rate(w.scenario.rate_fn()) * k if w.scenario.is_open else math.inf
            demand.append((peak, k, w.scenario.name))
        left = float(max_rate)
        demand.sort()
        for n, (peak, k, name) in enumerate(demand):
            share = left / (len(demand) - n)
            given = min(peak, share)
            left -= given
            out[name] = (peak, k, given)
    return out


def apply_caps(plan: Plan, caps: dict[str, float]) -> Plan:
    if not caps:
        return plan
    return msgspec.structs.replace(plan, scenarios=tuple(
        msgspec.structs.replace(s, rate_cap=caps[s.name]) if s.name in caps else s for s in plan.scenarios))


def cap_notes(plan: Plan) -> list[str]:
    """What maxRate changed, and peaks close to it (warnThresholds.rate)."""
    g = plan.guardrails
    notes = []
    for s in plan.scenarios:
        if not s.is_open or g.max_rate <= 0:
            continue
        k = max(1, len(s.requests))
        peak = peak_rate(s.rate_fn())
        if s.rate_cap:
            notes.append(f"guardrail maxRate: scenario {s.name} asks up to {peak:,.6g} iterations/s "
                         f"({peak * k:,.6g} requests/s); its arrivals are capped at {s.rate_cap:,.6g} "
                         f"iterations/s to keep the run within maxRate {g.max_rate:,.6g} requests/s")
        elif peak * k >= g.warn_thresholds.rate * g.max_rate:
            notes.append(f"guardrail maxRate: scenario {s.name} peaks at {peak * k:,.6g} requests/s, "
                         f"{peak * k / g.max_rate:.0%} of maxRate {g.max_rate:,.6g}")
    return notes


def start_notes(plan: Plan, planned_s: float, planned_requests: int | None) -> list[str]:
    """Limits the plan will run into, said before the run starts."""
    g = plan.guardrails
    what = "stopped" if g.emergency_stop else "warned about"
    notes = cap_notes(plan)
    if g.max_duration and planned_s > g.max_duration:
        notes.append(f"guardrail maxDuration: the run is planned for {planned_s:,.0f}s, longer than "
                     f"maxDuration {g.max_duration:,.0f}s; it will be {what} at {g.max_duration:,.0f}s")
    if g.max_total_requests and planned_requests is not None and planned_requests > g.max_total_requests:
        notes.append(f"guardrail maxTotalRequests: the open-model scenarios plan {planned_requests:,} "
                     f"requests, more than maxTotalRequests {g.max_total_requests:,}; the run will be "
                     f"{what} there")
    return notes


def request_budget(g: Guardrails, requests_so_far: int) -> int | None:
    """How many more requests may be handed out (None: no limit, or warn-only)."""
    if not g.max_total_requests or not g.emergency_stop:
        return None
    return max(0, g.max_total_requests - requests_so_far)


# --- during the run ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    t: float                        # seconds from t0
    requests: int                   # requests counted so far
    second: int | None = None       # the last complete second ...
    second_requests: int = 0        # ... and its requests
    memory_mb: float | None = None  # RSS of every load-generator process
    cpu_percent: float | None = None  # their CPU, averaged over the box's cores


@dataclass(frozen=True)
class Event:
    guardrail: str                  # maxRate maxTotalRequests maxDuration maxMemoryMB maxCPUPercent
    kind: str                       # "warn" | "breach"
    message: str
    at: float


class Guard:
    """Checks samples against the limits; each guardrail warns once and breaches once."""

    def __init__(self, g: Guardrails, box_memory_mb: float | None = None) -> None:
        self.g = g
        self.memory_mb = g.max_memory_mb or (DEFAULT_MEMORY_FRACTION * box_memory_mb if box_memory_mb else 0.0)
        self.warned: set[str] = set()
        self.breached: set[str] = set()
        self.events: list[Event] = []
        self._rates: deque[tuple[int, int]] = deque(maxlen=RATE_WINDOW_S)
        self._cpu_over = 0
        self.peaks = {"rate": 0, "memoryMB": 0.0, "cpuPercent": 0.0}

    def limits(self) -> dict:
        g = self.g
        return {"maxRate": g.max_rate or None, "maxTotalRequests": g.max_total_requests or None,
                "maxDuration": g.max_duration or None, "maxMemoryMB": round(self.memory_mb, 1) or None,
                "maxCPUPercent": g.max_cpu_percent or None, "emergencyStop": g.emergency_stop,
                "warnThresholds": {"rate": g.warn_thresholds.rate, "memory": g.warn_thresholds.memory,
                                   "cpu": g.warn_thresholds.cpu},
                "allowedHosts": list(g.allowed_hosts)}

    def _emit(self, out: list[Event], name: str, kind: str, text: str, t: float) -> None:
        seen = self.breached if kind == "breach" else self.warned
        if name in seen:
            return
        seen.add(name)
        event = Event(name, kind, text, round(t, 3))
        self.events.append(event)
        out.append(event)

    def check(self, s: Sample) -> list[Event]:
        g, w = self.g, self.g.warn_thresholds
        out: list[Event] = []
        if g.max_duration and s.t >= g.max_duration:
            self._emit(out, "maxDuration", "breach",
                       f"guardrail maxDuration: the run reached {g.max_duration:,.0f}s", s.t)
        if g.max_total_requests and s.requests >= g.max_total_requests:
            self._emit(out, "maxTotalRequests", "breach",
                       f"guardrail maxTotalRequests: {s.requests:,} requests reached the limit of "
                       f"{g.max_total_requests:,}", s.t)
        if s.second is not None and (not self._rates or self._rates[-1][0] < s.second):
            self._rates.append((s.second, s.second_requests))
            self.peaks["rate"] = max(self.peaks["rate"], s.second_requests)
            if g.max_rate:
                if s.second_requests >= w.rate * g.max_rate:
                    self._emit(out, "maxRate", "warn",
                               f"guardrail maxRate: {s.second_requests:,} requests in second {s.second}, "
                               f"{s.second_requests / g.max_rate:.0%} of maxRate {g.max_rate:,.6g}/s", s.t)
                mean = sum(n for _, n in self._rates) / len(self._rates)
                if len(self._rates) == RATE_WINDOW_S and mean > RATE_TOLERANCE * g.max_rate:
                    self._emit(out, "maxRate", "breach",
                               f"guardrail maxRate: {mean:,.0f} requests/s over the last {RATE_WINDOW_S}s, "
                               f"above maxRate {g.max_rate:,.6g}/s", s.t)
        if s.memory_mb is not None:
            self.peaks["memoryMB"] = max(self.peaks["memoryMB"], round(s.memory_mb, 1))
            if self.memory_mb:
                if s.memory_mb > self.memory_mb:
                    self._emit(out, "maxMemoryMB", "breach",
                               f"guardrail maxMemoryMB: the load generator uses {s.memory_mb:,.0f} MB, "
                               f"above maxMemoryMB {self.memory_mb:,.0f}", s.t)
                elif s.memory_mb >= w.memory * self.memory_mb:
                    self._emit(out, "maxMemoryMB", "warn",
                               f"guardrail maxMemoryMB: the load generator uses {s.memory_mb:,.0f} MB, "
                               f"{s.memory_mb / self.memory_mb:.0%} of maxMemoryMB {self.memory_mb:,.0f}", s.t)
        if s.cpu_percent is not None:
            self.peaks["cpuPercent"] = max(self.peaks["cpuPercent"], round(s.cpu_percent, 1))
            if g.max_cpu_percent:
                self._cpu_over = self._cpu_over + 1 if s.cpu_percent > g.max_cpu_percent else 0
                if self._cpu_over >= CPU_SUSTAIN_S:
                    self._emit(out, "maxCPUPercent", "breach",
                               f"guardrail maxCPUPercent: the load generator used {s.cpu_percent:.0f}% of "
                               f"the box's CPU for {CPU_SUSTAIN_S}s, above maxCPUPercent "
                               f"{g.max_cpu_percent:g}", s.t)
                if s.cpu_percent >= w.cpu * g.max_cpu_percent:
                    self._emit(out, "maxCPUPercent", "warn",
                               f"guardrail maxCPUPercent: the load generator uses {s.cpu_percent:.0f}% of "
                               f"the box's CPU, {s.cpu_percent / g.max_cpu_percent:.0%} of maxCPUPercent "
                               f"{g.max_cpu_percent:g}", s.t)
        return out

    def summary(self) -> dict:
        """The `guardrails` block of results.json (without the start notes)."""
        return {"limits": self.limits(), "peaks": dict(self.peaks),
                "events": [{"guardrail": e.guardrail, "kind": e.kind, "at": e.at, "message": e.message}
                           for e in self.events]}
