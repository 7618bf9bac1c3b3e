"""Per-second time buckets of a run, folded as they age so a 24-hour run keeps bounded memory.

A bucket is *open* while reports for its second may still arrive: it then holds live
HDR histograms (~190 KB each) for the run-wide BUCKET_METRICS and per scenario
http_req_duration (the run-wide duration is made from those when read), plus per-worker VU
gauges. Once the newest bucket seen is
`open_buckets` seconds ahead, the bucket is *sealed*: its p50/p95/p99 are computed once
and the histograms and per-worker gauges are dropped, leaving a few hundred bytes.

A report for a sealed second (a worker more than `open_buckets` s behind) still adds its
counters and gauges there; its latencies go into the run totals but cannot change that
second's percentiles any more, and `add` says so.

Seconds older than an hour are folded into 10-second, and after six hours into 60-second
buckets (`folding.py`); each 1-second bucket is handed to `on_retire` (if set) just before it
is folded, and a report for a folded second adds to the bucket that holds it.

A bucket may also keep *groups* (analysis/window_groups.py): the request series a filtered
windowed threshold reads, as counters and histograms keyed by the group's number (an int,
never a scenario name). They are not in `as_dict`, and folding drops them: each second was
judged before it was folded.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

from collections.abc import Callable

from lunge_mp.metrics import hdr
from lunge_mp.metrics.deferred import Deferrals, Deferred
from lunge_mp.metrics.folding import TIERS, merge
from lunge_mp.metrics.names import BUCKET_METRICS, BUCKET_SCENARIO_METRIC

DEFAULT_OPEN_BUCKETS = 10
_PCTS = (50.0, 95.0, 99.0)

# per-scenario counter slots in a bucket
(REQUESTS, FAILURES, DROPPED, ITERATIONS, SCHEDULED, INTERRUPTED, CHECKS_PASSED, CHECKS_FAILED,
 DATA_EXHAUSTED, GENERATOR_ERRORS) = range(10)
# dataExhausted: the part of dropped whose cause was data_exhausted; generatorErrors: requests
# that failed in the load generator itself, not counted in failures (nor in errors)
_COUNTER_NAMES = ("requests", "failures", "dropped", "iterations", "scheduled", "interrupted",
                  "checksPassed", "checksFailed", "dataExhausted", "generatorErrors")

# (None, metric) run-wide, (scenario, metric) per scenario, (group number, metric) per group
HistKey = tuple[str | int | None, str]
# per-group counter slots
G_REQUESTS, G_FAILURES, G_CHECKS_PASSED, G_CHECKS_FAILED = range(4)
Pct = tuple[int, int, int] | None    # p50, p95, p99 in µs; None if no samples
_TOTAL: HistKey = (None, BUCKET_SCENARIO_METRIC)


class Bucket:
    """One second of the run, merged over all workers."""

    __slots__ = ("t", "hists", "deferred", "pct", "counts", "errors", "gauges", "gauge_sums", "gauge_workers",
                 "encoded", "queue", "span", "groups")

    def __init__(self, t: int, span: int = 1) -> None:
        self.t = t
        self.span = span                            # seconds it covers (folded: 10 or 60)
        self.hists: dict[HistKey, HdrHistogram] | None = {}
        self.deferred: dict[HistKey, Deferred] = {}  # the hists' deltas not added yet, while open
        self.pct: dict[HistKey, Pct] = {}          # cache while open; final once sealed
        self.counts: dict[str, list[int]] = {}     # scenario → _COUNTER_NAMES slots
        self.errors: dict[str, dict[str, int]] = {}  # scenario → failure class → count
        self.gauges: dict[str, dict[int, tuple[int, int]]] | None = {}  # scn → worker → (active, vus)
        self.gauge_sums: dict[str, list[int]] = {}  # scn → [active, vus] summed over workers
        self.gauge_workers = 0                      # bitmask of workers that sent gauges
        self.encoded: dict[HistKey, bytes] = {}    # once sealed: compact histograms, for windows
        self.queue: dict | None = None             # Redis queue health (metrics/queue.py), if monitored
        self.groups: dict[int, list[int]] | None = None   # group → G_* counters (window_groups.py)

    @property
    def sealed(self) -> bool:
        return self.hists is None

    def scn(self, scenario: str) -> list[int]:
        c = self.counts.get(scenario)
        if c is None:
            c = self.counts[scenario] = [0] * len(_COUNTER_NAMES)
        return c

    def add_errors(self, scenario: str, errors: dict[str, int]) -> None:
        """Failures of this second by class (timeout, http_5xx, ...); open or sealed alike."""
        if not errors:
            return
        per = self.errors.get(scenario)
        if per is None:
            per = self.errors[scenario] = {}
        for cls, n in errors.items():
            per[cls] = per.get(cls, 0) + n

    def sink(self, scenario: str, metric: str, owner: Deferrals) -> Deferred | None:
        """Where this open second keeps a delta of (scenario, metric) until read (deferred.py),
        or None if it keeps none; call `touched` after keeping one there. The duration is
        kept per scenario only: the run-wide one is their sum, made when read (`_hist`), so each
        sample is added to one histogram fewer."""
        if metric == BUCKET_SCENARIO_METRIC:
            key: HistKey = (scenario, metric)
        elif metric in BUCKET_METRICS:
            key = (None, metric)
        else:
            return None
        return self._deferred(key, owner)

    def group_sink(self, group: int, metric: str, owner: Deferrals) -> Deferred:
        """Where this open second keeps a delta of a series in window group `group`."""
        self.pct.pop((group, metric), None)
        return self._deferred((group, metric), owner)

    def _deferred(self, key: HistKey, owner: Deferrals) -> Deferred:
        d = self.deferred.get(key)
        if d is None:
            d = self.deferred[key] = Deferred(hdr.new_histogram(), owner)
            self.hists[key] = d.h
        return d

    def _apply(self) -> None:
        """Add the deltas kept in `deferred` (before any histogram of this second is read)."""
        for d in self.deferred.values():
            d.apply()

    def touched(self) -> None:
        """Samples were added through `sink`: forget the percentiles and the run-wide sum."""
        self.pct.clear()
        self.hists.pop(_TOTAL, None)

    def _hist(self, key: HistKey) -> HdrHistogram | None:
        """An open bucket's histogram of `key` (the run-wide duration made from the scenarios')."""
        self._apply()
        h = self.hists.get(key)
        if h is None and key == _TOTAL:
            parts = [p for (s, m), p in self.hists.items() if m == BUCKET_SCENARIO_METRIC and type(s) is str]
            if parts:
                h = self.hists[_TOTAL] = hdr.new_histogram()
                for p in parts:
                    hdr.merge(h, p)
        return h

    def group(self, group: int) -> list[int]:
        """The G_* counters of `group` in this second (made on first use)."""
        if self.groups is None:
            self.groups = {}
        c = self.groups.get(group)
        if c is None:
            c = self.groups[group] = [0, 0, 0, 0]
        return c

    def group_row(self, group: int) -> dict[str, int]:
        """The group's counters under the names of an `as_dict` row (what verdict.second_datum reads)."""
        c = (self.groups or {}).get(group) or (0, 0, 0, 0)
        return {"requests": c[G_REQUESTS], "failures": c[G_FAILURES],
                "checksPassed": c[G_CHECKS_PASSED], "checksFailed": c[G_CHECKS_FAILED]}

    def set_gauges(self, worker: int, gauges: list[tuple[str, int, int]]) -> None:
        """One report's (scenario, active, vus) gauges. In an open bucket a worker's latest
        values replace its earlier ones; a sealed bucket no longer knows per-worker values,
        so it adds them only if this worker had sent none for this second."""
        first_time = not (self.gauge_workers >> worker) & 1
        self.gauge_workers |= 1 << worker
        for scenario, active, vus in gauges:
            sums = self.gauge_sums.get(scenario)
            if sums is None:
                sums = self.gauge_sums[scenario] = [0, 0]
            if self.gauges is not None:
                per = self.gauges.setdefault(scenario, {})
                old_a, old_v = per.get(worker, (0, 0))
                per[worker] = (active, vus)
                sums[0] += active - old_a
                sums[1] += vus - old_v
            elif first_time:
                sums[0] += active
                sums[1] += vus

    def vus_total(self) -> tuple[int, int]:
        return (sum(s[0] for s in self.gauge_sums.values()),
                sum(s[1] for s in self.gauge_sums.values()))

    def percentiles(self, key: HistKey) -> Pct:
        if key in self.pct:
            return self.pct[key]
        h = self._hist(key) if self.hists is not None else None
        if h is None or not h.total_count:
            p: Pct = None
        else:
            v = hdr.percentiles(h, _PCTS)
            p = (v[50.0], v[95.0], v[99.0])
        if self.hists is not None:
            self.pct[key] = p
        return p

    def sparse_counts(self, key: HistKey) -> dict[int, int]:
        """{HDR counts index: n} of one kept histogram, open or sealed ({} without samples)."""
        if self.hists is not None:
            h = self._hist(key)
            return hdr.sparse_counts(h) if h is not None else {}
        data = self.encoded.get(key)
        return hdr.sparse_counts(hdr.decode(data)) if data else {}

    def seal(self) -> None:
        if self.hists is None:
            return
        self._hist(_TOTAL)          # applies the deferred deltas first
        for key, h in self.hists.items():
            if type(key[0]) is not int:     # a window group's percentiles are never shown
                self.percentiles(key)
            if h.total_count:   # ~100-300 bytes: windowed thresholds re-read them at the end
                self.encoded[key] = hdr.encode(h)
        self.hists = None
        self.deferred = {}
        self.gauges = None

    def as_dict(self) -> dict:
        """{t, requests, failures, errors: {class: n}, p50, p95, p99, rtP*, lagP*, activeVUs,
        vus, dropped, iterations, scheduled, interrupted, checksPassed, checksFailed,
        dataExhausted (the part of `dropped` whose cause was data_exhausted), generatorErrors
        (the load generator's own failures: not in `failures` or `errors`),
        byScenario: {scn: {...}}, and `queue` when a Redis queue is monitored (metrics/queue.py)}; latencies
        in ms. `errors` (classes sorted) sums to `failures` when every failure has a class."""
        total = [0] * len(_COUNTER_NAMES)
        errors: dict[str, int] = {}
        by: dict[str, dict] = {}
        for scn in sorted(set(self.counts) | set(self.gauge_sums) | set(self.errors)):
            c = self.counts.get(scn) or [0] * len(_COUNTER_NAMES)
            total = [a + b for a, b in zip(total, c)]
            g = self.gauge_sums.get(scn, (0, 0))
            d = dict(zip(_COUNTER_NAMES, c))
            e = self.errors.get(scn, {})
            d["errors"] = dict(sorted(e.items()))
            for cls, n in e.items():
                errors[cls] = errors.get(cls, 0) + n
            d.update(_pct_ms("", self.percentiles((scn, BUCKET_SCENARIO_METRIC))))
            d["activeVUs"], d["vus"] = g[0], g[1]
            by[scn] = d
        out: dict = {"t": self.t}
        if self.span > 1:
            out["span"] = self.span     # a folded bucket: its counts are over `span` seconds
        out.update(zip(_COUNTER_NAMES, total))
        out["errors"] = dict(sorted(errors.items()))
        out.update(_pct_ms("", self.percentiles((None, BUCKET_METRICS[0]))))
        out.update(_pct_ms("rt", self.percentiles((None, BUCKET_METRICS[1]))))
        out.update(_pct_ms("lag", self.percentiles((None, BUCKET_METRICS[2]))))
        out["activeVUs"], out["vus"] = self.vus_total()
        out["byScenario"] = by
        if self.queue is not None:
            out["queue"] = self.queue
        return out


def _pct_ms(prefix: str, p: Pct) -> dict[str, float | None]:
    names = ("p50", "p95", "p99") if not prefix else (prefix + "P50", prefix + "P95", prefix + "P99")
    if p is None:
        return dict.fromkeys(names)
    return {n: round(v / 1000.0, 3) for n, v in zip(names, p)}


class Buckets:
    """All seconds of a run, sealing those `open_buckets` behind the newest seen."""

    def __init__(self, open_buckets: int = DEFAULT_OPEN_BUCKETS, tiers=TIERS) -> None:
        if open_buckets < 1:
            raise ValueError(f"open_buckets must be >= 1 (got {open_buckets})")
        self.open_buckets = open_buckets
        self._all: dict[int, Bucket] = {}
        self._open: dict[int, Bucket] = {}
        self._newest = -1
        # folding (folding.py): (age, span) tiers, and for each the first second not folded yet
        self.tiers = tuple(tiers)
        self._folded = [0] * len(self.tiers)
        # called with each 1-second bucket before it is folded (windowed thresholds judge it)
        self.on_retire: Callable[[Bucket], None] | None = None

    def get(self, t: int) -> Bucket:
        """The bucket of second `t` (created open; may be sealed if `t` is old; the folded
        bucket holding it if `t` is older still)."""
        b = self._all.get(t)
        if b is None and self.tiers and t < self._folded[0]:
            return self._holder(t)
        if b is None:
            b = self._all[t] = Bucket(t)
            if t > self._newest - self.open_buckets:
                self._open[t] = b
            else:
                b.seal()
        return b

    @property
    def newest(self) -> int:
        """The newest second reported (-1 before any)."""
        return self._newest

    def advance(self, t: int) -> None:
        """Note that second `t` was reported; seal what is now too old to change."""
        if t <= self._newest:
            return
        self._newest = t
        limit = t - self.open_buckets
        for old in [k for k in self._open if k <= limit]:
            self._open.pop(old).seal()
        for tier, (age, span) in enumerate(self.tiers):
            while self._folded[tier] + span <= t - age:
                self._fold(tier, self._folded[tier], span)
                self._folded[tier] += span

    def _fold(self, tier: int, start: int, span: int) -> None:
        """Seconds [start, start + span) (each a bucket of the previous tier, or missing)
        become one bucket of `span` seconds."""
        parts = [self._all.pop(k) for k in range(start, start + span) if k in self._all]
        if not parts:
            return
        if tier == 0 and self.on_retire is not None:
            for b in parts:
                self.on_retire(b)
        into = Bucket(start, span)
        into.seal()
        merge(parts, into)
        self._all[start] = into

    def _holder(self, t: int) -> Bucket:
        """The folded bucket that holds second `t` (created empty if its seconds had none)."""
        for tier in range(len(self.tiers) - 1, -1, -1):
            span = self.tiers[tier][1]
            if t < self._folded[tier]:
                start = t - t % span
                b = self._all.get(start)
                if b is None:
                    b = self._all[start] = Bucket(start, span)
                    b.seal()
                return b
        raise AssertionError("unreachable: t is older than the first tier's fold point")

    def seal_all(self) -> None:
        for b in self._open.values():
            b.seal()
        self._open.clear()

    def find(self, t: int) -> Bucket | None:
        """The bucket of second `t` if any report covered it (never creates one)."""
        b = self._all.get(t)
        if b is None and self.tiers and t < self._folded[0]:
            for tier in range(len(self.tiers) - 1, -1, -1):
                span = self.tiers[tier][1]
                if t < self._folded[tier]:
                    return self._all.get(t - t % span)
        return b

    def retire_rest(self) -> None:
        """End of run: hand every 1-second bucket not folded yet to `on_retire`, in order."""
        if self.on_retire is not None:
            self.seal_all()
            for t in sorted(self._all):
                b = self._all[t]
                if b.span == 1:
                    self.on_retire(b)

    def at_or_before(self, t: int) -> Bucket | None:
        """The newest bucket at or before second `t` (seconds without reports are skipped)."""
        for k in range(t, max(-1, t - 3600), -1):
            b = self._all.get(k)
            if b is not None:
                return b
        return None

    def __len__(self) -> int:
        return len(self._all)

    def seconds(self) -> list[int]:
        return sorted(self._all)

    def as_dicts(self, since: int | None = None) -> list[dict]:
        return [self._all[t].as_dict() for t in sorted(self._all) if since is None or t >= since]
