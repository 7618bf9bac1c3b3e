"""Anomaly notes from the 1-second buckets: where in time things went wrong. Pure.

- latency spike: seconds whose p95 is over 3× the run's typical (median) second p95 and at
  least 5 ms above it; neighbouring seconds join into one span;
- error burst: seconds with at least 5 failures and a failure rate over 5× the run's rate
  and over 5%;
- knee (ramping load): the first second, while the target rate rises, from which either
  the achieved rate stays under 95% of the target for 3 seconds, or p95 stays over twice
  the p95 seen in the first quarter of the ramp for 3 seconds: the load where the system
  stopped keeping up. Arrivals dropped because a `unique` data file ran out of rows are
  taken off the target first (that is the data's limit, not the system's).
- failures: seconds with at least 5 failures and a failure rate over 5% that are not part
  of a burst (a run failing a third of its requests all along has no burst, but is broken);
- drops: seconds where the load generator dropped arrivals (no free VU, or behind schedule;
  a `unique` data file running out is not its fault and is left out) of at least 1% of that
  second's scheduled arrivals;
- saturation: seconds where a worker was saturated (analysis/saturation.py): its latencies
  include its own queueing.
Only measured seconds count (warmup seconds are skipped).
"""

from __future__ import annotations

from statistics import median

from lunge_mp.analysis.saturation import saturation as saturated_workers

SPIKE_FACTOR = 3.0
SPIKE_MIN_MS = 5.0
BURST_MIN_FAILURES = 5
BURST_MIN_RATE = 0.05
BURST_FACTOR = 5.0
KNEE_EFFICIENCY = 0.95
KNEE_LATENCY_FACTOR = 2.0
KNEE_SUSTAIN_S = 3
DROP_MIN_SHARE = 0.01


def _spans(seconds: list[int]) -> list[tuple[int, int]]:
    """Consecutive seconds joined: [3, 4, 5, 9] → [(3, 5), (9, 9)]."""
    spans: list[tuple[int, int]] = []
    for s in seconds:
        if spans and s == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], s)
        else:
            spans.append((s, s))
    return spans


def latency_spikes(buckets: list[dict]) -> list[dict]:
    p95s = [b["p95"] for b in buckets if b.get("p95") is not None]
    if len(p95s) < 3:
        return []
    typical = median(p95s)
    limit = max(typical * SPIKE_FACTOR, typical + SPIKE_MIN_MS)
    bad = [b["t"] for b in buckets if b.get("p95") is not None and b["p95"] > limit]
    by_t = {b["t"]: b for b in buckets}
    return [{"kind": "latency_spike", "start": a, "end": z,
             "detail": f"p95 up to {max(by_t[t]['p95'] for t in range(a, z + 1) if t in by_t):.1f} ms "
                       f"against a typical {typical:.1f} ms"}
            for a, z in _spans(bad)]


def error_bursts(buckets: list[dict]) -> list[dict]:
    requests = sum(b.get("requests", 0) for b in buckets)
    failures = sum(b.get("failures", 0) for b in buckets)
    if not requests or not failures:
        return []
    overall = failures / requests
    limit = max(overall * BURST_FACTOR, BURST_MIN_RATE)
    bad = [b["t"] for b in buckets
           if b.get("failures", 0) >= BURST_MIN_FAILURES and b["failures"] / max(b.get("requests", 0), 1) > limit]
    by_t = {b["t"]: b for b in buckets}
    out = []
    for a, z in _spans(bad):
        span = [by_t[t] for t in range(a, z + 1) if t in by_t]
        n = sum(b["failures"] for b in span)
        classes: dict[str, int] = {}
        for b in span:
            for cls, c in (b.get("errors") or {}).items():
                classes[cls] = classes.get(cls, 0) + c
        top = ", ".join(f"{k} {v}" for k, v in sorted(classes.items(), key=lambda kv: -kv[1])[:3])
        out.append({"kind": "error_burst", "start": a, "end": z,
                    "detail": f"{n} failures ({top or 'unclassified'}) against {overall:.2%} over the run"})
    return out


def knee(buckets: list[dict]) -> list[dict]:
    """The first sustained failure to follow a rising target (open model ramps)."""
    rising = [b for i, b in enumerate(buckets)
              if i and b.get("targetRate", 0) > buckets[i - 1].get("targetRate", 0) > 0]
    if len(rising) < 2 * KNEE_SUSTAIN_S:
        return []
    early = [b["p95"] for b in rising[: max(1, len(rising) // 4)] if b.get("p95") is not None]
    base_p95 = median(early) if early else None
    streak: list[dict] = []
    for b in rising:
        # arrivals dropped for want of unique data rows were never the system's to keep up with
        due = b["targetRate"] - b.get("dataExhausted", 0)
        behind = b.get("achievedRate", 0) < KNEE_EFFICIENCY * due
        slow = base_p95 is not None and b.get("p95") is not None and b["p95"] > KNEE_LATENCY_FACTOR * base_p95
        if behind or slow:
            streak.append(b)
            if len(streak) >= KNEE_SUSTAIN_S:
                first = streak[0]
                why = ("achieved rate fell under 95% of the target" if behind
                       else f"p95 climbed over {KNEE_LATENCY_FACTOR:g}× its early {base_p95:.1f} ms")
                return [{"kind": "knee", "start": first["t"], "end": first["t"],
                         "detail": f"at a target of {first['targetRate']:,.0f} it/s the system stopped "
                                   f"keeping up: {why}"}]
        else:
            streak = []
    return []


def sustained_failures(buckets: list[dict], bursts: list[dict]) -> list[dict]:
    in_burst = {t for a in bursts for t in range(a["start"], a["end"] + 1)}
    bad = [b["t"] for b in buckets
           if b["t"] not in in_burst and b.get("failures", 0) >= BURST_MIN_FAILURES
           and b["failures"] / max(b.get("requests", 0), 1) > BURST_MIN_RATE]
    by_t = {b["t"]: b for b in buckets}
    out = []
    for a, z in _spans(bad):
        span = [by_t[t] for t in range(a, z + 1)]
        failed, requests = sum(b["failures"] for b in span), sum(b.get("requests", 0) for b in span)
        out.append({"kind": "failures", "start": a, "end": z,
                    "detail": f"{failed:,} of {requests:,} requests failed ({failed / max(requests, 1):.1%})"})
    return out


def drops(buckets: list[dict]) -> list[dict]:
    def dropped(b: dict) -> int:
        return b.get("dropped", 0) - b.get("dataExhausted", 0)

    bad = [b["t"] for b in buckets
           if dropped(b) > 0 and dropped(b) >= DROP_MIN_SHARE * max(b.get("scheduled", 0), 1)]
    by_t = {b["t"]: b for b in buckets}
    out = []
    for a, z in _spans(bad):
        span = [by_t[t] for t in range(a, z + 1)]
        n, due = sum(map(dropped, span)), sum(b.get("scheduled", 0) for b in span)
        out.append({"kind": "drops", "start": a, "end": z,
                    "detail": f"{n:,} of {due:,} scheduled iterations dropped: the load generator had no "
                              f"free VU or fell behind (the asked load was not delivered)"})
    return out


def saturation(resources: list[dict], measured_from: int = 0) -> list[dict]:
    out = []
    for w in saturated_workers([s for s in resources if int(s.get("t", 0)) - 1 >= measured_from]):
        what = (f"CPU at or over 90% of a core (peak {w['peak']:.0f}%)" if w["kind"] == "cpu"
                else f"event loop late by up to {w['peak']:.0f} ms")
        for a, z in w["spans"]:
            out.append({"kind": "saturation", "start": a, "end": z - 1,
                        "detail": f"worker {w['worker']}: {what}; its latencies include its own queueing"})
    return out


def find(buckets: list[dict], resources: list[dict] | None = None) -> list[dict]:
    measured = [b for b in buckets if b.get("phase") != "warmup"]
    first = min((b["t"] for b in measured), default=0)
    bursts = error_bursts(measured)
    found = (latency_spikes(measured) + bursts + sustained_failures(measured, bursts) + knee(measured)
             + drops(measured) + saturation(resources or [], first))
    return sorted(found, key=lambda a: (a["start"], a["kind"]))
