"""The live feed of one run: what the console's progress line reads, as structured data.

`Feed` is a watcher of the run's `RunControl` (coordinator/control.py): the run loop calls it
every tick and whenever a worker's report is merged, on the coordinator's own thread. When a
new second is complete (every live worker has reported it) it builds one `second` snapshot
and hands it to `sink` (thread-safe: the child's pipe to the server, api/child.py, or for
`run --dashboard` the server loop's call_soon_threadsafe), so a second is on its way the
moment its last report arrives. It also hands on new warnings (guardrails, lost workers) at
once. Nothing here blocks or waits: a slow consumer is the stream's business
(api/stream.py), never the run's.

Snapshot (one a second; latencies in ms, rates per second):
  {t, completeAt, secondEnd, paused, target, actual, requests, failures, errors: {class: n}, p50, p95, p99,
   lagP95, vus, dropped, cpu, rssMB, queue?, scenarios: {name: {target, actual, vus, dropped}},
   totals: {requests, failures, errors, dropped, iterations, vusMax}, histograms?}
"""

from __future__ import annotations

import time

from lunge_mp.metrics.names import GENERATOR_FAILURE

# Prometheus histogram bounds (seconds): what Grafana charts latency with
LATENCY_BOUNDS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Feed:
    def __init__(self, sink, want_histograms=lambda: False) -> None:
        self.sink = sink                     # fn(kind, payload), thread-safe
        self.want_histograms = want_histograms
        self._last_second: int | None = None
        self._warnings_seen = 0
        self._events_seen = 0
        self.vus_max = 0

    def __call__(self, coord, t: float) -> None:
        warnings = coord.outcome.warnings
        if len(warnings) > self._warnings_seen:
            for text in warnings[self._warnings_seen:]:
                self.sink("violation", {"t": round(t, 3), "message": text})
            self._warnings_seen = len(warnings)
        events = coord.control.events if coord.control is not None else []
        if len(events) > self._events_seen:
            for event in events[self._events_seen:]:
                self.sink("event", event)
            self._events_seen = len(events)
        second = coord.aggregate.complete_second()
        if second is None or second == self._last_second:
            return
        self._last_second = second
        self.sink("second", self.snapshot(coord, second))

    def snapshot(self, coord, second: int) -> dict:
        agg = coord.aggregate
        b = agg.second(second) or {"t": second}
        by = b.get("byScenario", {})
        scenarios = {}
        target_sum = 0.0
        control = coord.control
        held = control is not None and control.paused and second + 1 > (control.paused_since or 0)
        for s in coord.plan.scenarios:
            per = by.get(s.name, {})
            started = coord.lifecycle.start_of(s.name)
            target = None
            if s.is_open:
                clock = coord.clocks.get(s.name)
                local = second + 0.5 - (started or 0.0)
                target = round(clock.fn.rate(local), 3) if clock is not None and started is not None and not held \
                    else 0.0     # paused: the schedule asks for nothing
                target_sum += target
            scenarios[s.name] = {"target": target, "actual": per.get("iterations", 0),
                                 "vus": per.get("vus", 0), "dropped": per.get("dropped", 0)}
        sample = coord.monitor.samples[-1] if coord.monitor.samples else {}
        lg = sample.get("loadGenerator") or {}
        c = agg.counters()
        self.vus_max = max(self.vus_max, b.get("vus", 0))
        now = time.time()
        snap = {
            "t": second, "completeAt": round(now, 4),     # when this second was seen complete (unix s)
            "secondEnd": round(now - coord.now() + second + 1, 4),   # when it ended (unix s)
            "paused": bool(coord.control and coord.control.paused),
            "target": round(target_sum, 3), "actual": b.get("iterations", 0),
            "requests": b.get("requests", 0), "failures": b.get("failures", 0),
            "errors": b.get("errors", {}), "p50": b.get("p50"), "p95": b.get("p95"), "p99": b.get("p99"),
            "lagP95": b.get("lagP95"), "vus": b.get("vus", 0), "dropped": b.get("dropped", 0),
            "cpu": lg.get("cpuPercent"), "rssMB": lg.get("rssMB"),
            "scenarios": scenarios,
            "totals": {"requests": c["requests"],
                       "failures": c["failures"] - c["errors"].get(GENERATOR_FAILURE, 0),
                       "errors": dict(c["errors"]), "vusMax": self.vus_max,
                       "elapsed": round(coord.now(), 1), "planned": round(coord.outcome.planned_s, 1)},
        }
        if "queue" in b:          # a queue target's figures (depth, ...), when the run has them
            snap["queue"] = b["queue"]
        snap["totals"]["byScenario"] = {s.name: _scenario_totals(agg, s.name) for s in coord.plan.scenarios}
        if self.want_histograms():
            snap["histograms"] = {s.name: latency_buckets(agg.histogram("http_req_duration", s.name))
                                  for s in coord.plan.scenarios}
        return snap


def _scenario_totals(agg, name: str) -> dict:
    c = agg.counters(scenario=name)
    sc = agg.scenario_counters(scenario=name)
    return {"requests": c["requests"], "failures": c["failures"], "errors": dict(c["errors"]),
            "iterations": sc["iterations"], "dropped": sum(sc["dropped"].values())}


def latency_buckets(h) -> dict | None:
    """Cumulative counts at LATENCY_BOUNDS_S, the count and the sum (s) of an HDR histogram (µs)."""
    if h is None or h.get_total_count() == 0:
        return None
    bounds_us = [b * 1e6 for b in LATENCY_BOUNDS_S]
    counts = [0] * len(bounds_us)
    total = 0
    total_us = 0.0
    for item in h.get_recorded_iterator():
        v, n = item.value_iterated_to, item.count_at_value_iterated_to
        total += n
        total_us += v * n
        for i, bound in enumerate(bounds_us):
            if v <= bound:
                counts[i] += n
                break
    cumulative, running = [], 0
    for n in counts:
        running += n
        cumulative.append(running)
    return {"buckets": cumulative, "count": total, "sum": round(total_us / 1e6, 6)}
