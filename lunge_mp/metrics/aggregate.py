"""Coordinator-side merge of worker Reports into run totals and 1-second buckets.

Histograms are added bucket by bucket, so every merged percentile, min, max and count
equals that of one histogram of all samples (`hdr.merge`). Totals are kept per series
(scenario, request, metric), per metric over the run, and per (scenario, metric), so the
queries reports and thresholds ask most often need no merging at query time. A report's
checked deltas are kept beside their histograms and added when those are next read, many
workers' at once (metrics/deferred.py): what every reader sees is the same.

Reports are deduplicated by (worker, seq): a repeated seq is ignored, a skipped range is
recorded as a gap and warned about, a late report that fills a gap is accepted. Nothing
is interpolated: a gap stays a gap in `gaps()`.

Memory: one HDR histogram (~190 KB) per series and per (scenario, metric), plus the
buckets (`buckets.Buckets`: a few hundred bytes per sealed second).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from lunge_mp.metrics import hdr
from lunge_mp.metrics.buckets import (CHECKS_FAILED, CHECKS_PASSED, DATA_EXHAUSTED, DEFAULT_OPEN_BUCKETS,
                                      DROPPED, FAILURES, G_CHECKS_FAILED, G_CHECKS_PASSED, G_FAILURES,
                                      G_REQUESTS, GENERATOR_ERRORS, INTERRUPTED, ITERATIONS,
                                      REQUESTS, SCHEDULED, Bucket, Buckets)
from lunge_mp.metrics.deferred import Deferrals, Deferred
from lunge_mp.metrics.folding import TIERS
from lunge_mp.metrics.names import DROP_DATA_EXHAUSTED, GENERATOR_FAILURE, OVERFLOW
from lunge_mp.protocol.messages import CounterDelta, Report, ScenarioDelta

SeriesKey = tuple[str, str, str]


@dataclass(slots=True)
class _ReqTotals:
    requests: int = 0
    failures: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    first_error: dict[str, tuple[int, str]] = field(default_factory=dict)  # cls → (arrival, msg)
    bytes_in: int = 0
    bytes_out: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    check_runs: int = 0
    check_fails: dict[int, int] = field(default_factory=dict)
    check_first: dict[int, str] = field(default_factory=dict)
    queued: int = 0             # waited for a connection at maxConnectionsPerHost


@dataclass(slots=True)
class _ScnTotals:
    iterations: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    interrupted: int = 0
    scheduled: int = 0
    vus_max: int = 0
    active_vus_max: int = 0


@dataclass(slots=True)
class _Seq:
    """Which report seqs of one worker arrived: all below `next` except `missing` ranges."""
    next: int = 0
    missing: list[list[int]] = field(default_factory=list)   # [first, last] inclusive


def _span(first: int, last: int) -> str:
    return f"report {first}" if first == last else f"reports {first}..{last}"


class Aggregate:
    """Run totals and per-second buckets from every worker's Reports."""

    def __init__(self, run_id: str = "", open_buckets: int = DEFAULT_OPEN_BUCKETS, tiers=TIERS) -> None:
        self.run_id = run_id            # if set, reports of another run are rejected
        self.redis_requests: frozenset[tuple[str, str]] = frozenset()   # report/redis_metrics.py
        self.reports = 0                # reports accepted
        self._series: dict[SeriesKey, HdrHistogram] = {}
        # their deltas not added yet, and the open seconds' (metrics/deferred.py): every
        # reader of _series or of a bucket's histograms applies them first
        self._deferred: dict[SeriesKey, Deferred] = {}
        self._deferrals = Deferrals()
        # roll-ups of _series, rebuilt when asked for after new samples of their metric
        # (a report adds to one histogram a series instead of three)
        self._by_metric: dict[str, HdrHistogram] = {}
        self._by_scn_metric: dict[tuple[str, str], HdrHistogram] = {}
        self._stale: set[str] = set()
        self._reqs: dict[tuple[str, str], _ReqTotals] = {}
        self._scns: dict[str, _ScnTotals] = {}
        self._vus_max = 0
        self._active_vus_max = 0
        self._latest: dict[int, int] = {}   # worker → newest second it reported
        self._buckets = Buckets(open_buckets, tiers)    # tiers: how old seconds fold (folding.py)
        self._seqs: dict[int, _Seq] = {}
        self._arrival = 0
        self._overflow_warned: set[str] = set()
        # window groups (analysis/window_groups.py): (scenario, request) → its groups, and
        # group → the metrics it keeps as histograms; empty unless `keep_groups` was called
        self._routes: dict[tuple[str, str], tuple[int, ...]] = {}
        self._group_trends: dict[int, frozenset[str]] = {}

    # ---- ingest ------------------------------------------------------------------------

    def add(self, report: Report) -> list[str]:
        """Merge one Report; returns human-readable warnings (gaps, duplicates, lateness)."""
        w = report.worker
        warnings: list[str] = []
        if self.run_id and report.run_id != self.run_id:
            return [f"worker {w}: report {report.seq} of run {report.run_id!r} ignored "
                    f"(this run is {self.run_id!r})"]
        if not self._accept(w, report.seq, warnings):
            return warnings
        self.reports += 1
        bucket: Bucket | None = None
        if report.bucket < 0:
            warnings.append(f"worker {w}: report {report.seq} has bucket {report.bucket}; "
                            f"counted in the totals only")
        else:
            if report.bucket > self._latest.get(w, -1) and not report.partial:
                self._latest[w] = report.bucket     # a partial report's second is still running
            if report.bucket > self._buckets.newest:
                self._deferrals.second_passed()         # numpy, if this merge is a big one
            self._buckets.advance(report.bucket)
            bucket = self._buckets.get(report.bucket)
            if bucket.sealed and report.series:
                warnings.append(
                    f"worker {w}: report {report.seq} for second {report.bucket} arrived after "
                    f"that second was closed; its latencies count in the totals but not in "
                    f"that second's percentiles")
        if report.series:
            self._add_all_series(report, bucket if bucket is not None and not bucket.sealed else None,
                                 warnings)
        for cd in report.counters:
            self._add_counters(cd, bucket)
        for sc in report.scenarios:
            self._add_scenario(sc, bucket)
        if bucket is not None and report.scenarios:
            bucket.set_gauges(w, [(s.scenario, s.active_vus, s.vus) for s in report.scenarios])
            for s in report.scenarios:
                t = self._scns[s.scenario]
                a, v = bucket.gauge_sums[s.scenario]
                t.active_vus_max = max(t.active_vus_max, a)
                t.vus_max = max(t.vus_max, v)
            a, v = bucket.vus_total()
            self._active_vus_max = max(self._active_vus_max, a)
            self._vus_max = max(self._vus_max, v)
        return warnings

    def _add_all_series(self, report: Report, bucket: Bucket | None, warnings: list[str]) -> None:
        """Each series' sparse counts, checked, kept for its run total and (open second) the
        bucket, and added when next read (metrics/deferred.py). The hot loop of a coordinator
        with many workers: local names."""
        deferred, stale, routes, owner = self._deferred, self._stale, self._routes, self._deferrals
        sinks: dict[tuple[str, str], Deferred | None] = {}   # (scenario, metric) → the bucket's
        for sd in report.series:
            idx = cnt = None
            if not sd.count:            # one sample at each index: checked on its bytes
                fault = hdr.unit_fault(sd)
            else:
                idx, cnt, fault = hdr.unpack_checked(sd)
            if fault is not None:
                warnings.append(f"worker {report.worker}: report {report.seq}: series "
                                f"{sd.scenario}/{sd.request}/{sd.metric} skipped: {fault}")
                continue
            key = (sd.scenario, sd.request, sd.metric)
            d = deferred.get(key)
            if d is None:
                d = deferred[key] = Deferred(hdr.new_histogram(), owner)
                self._series[key] = d.h
            d.keep(sd, idx, cnt)
            if bucket is not None:
                sink = sinks.get(key[::2], False)
                if sink is False:
                    sink = sinks[key[::2]] = bucket.sink(sd.scenario, sd.metric, owner)
                if sink is not None:
                    sink.keep(sd, idx, cnt)
            stale.add(sd.metric)
            if routes and bucket is not None:
                for gid in routes.get((sd.scenario, sd.request), ()):
                    if sd.metric in self._group_trends.get(gid, ()):
                        bucket.group_sink(gid, sd.metric, owner).keep(sd, idx, cnt)
            if sd.request == OVERFLOW and sd.scenario not in self._overflow_warned:
                self._overflow_warned.add(sd.scenario)
                warnings.append(
                    f"worker {report.worker}: scenario {sd.scenario!r} reached the series cap; samples of "
                    f"further request names are merged into request {OVERFLOW!r}")
        if any(sinks.values()):
            bucket.touched()

    def expect_reports(self, worker: int, count: int) -> list[str]:
        """The worker says it sent `count` reports (Bye): record any tail never received."""
        st = self._seqs.setdefault(worker, _Seq())
        if count > st.next:
            st.missing.append([st.next, count - 1])
            msg = f"worker {worker}: {_span(st.next, count - 1)} missing (it sent {count})"
            st.next = count
            return [msg]
        if count < st.next:
            return [f"worker {worker}: says it sent {count} reports but report {st.next - 1} "
                    f"arrived"]
        return []

    def keep_groups(self, routes: dict[tuple[str, str], tuple[int, ...]],
                    trends: dict[int, frozenset[str]]) -> None:
        """Keep, in each second, the window groups of filtered windowed thresholds
        (analysis/window_groups.py: `routes()` and `trends`). Call before the first report."""
        self._routes, self._group_trends = dict(routes), dict(trends)

    def on_retire(self, fn) -> None:
        """Call `fn(bucket)` with each 1-second bucket before it is folded (buckets.py), and
        with the rest at `retire_rest`: windowed thresholds judge every second that way."""
        self._buckets.on_retire = fn

    def retire_rest(self) -> None:
        self._buckets.retire_rest()

    def finish(self) -> None:
        """End of run: seal every bucket (frees their histograms; queries still work)."""
        self._buckets.seal_all()

    def _accept(self, worker: int, seq: int, warnings: list[str]) -> bool:
        st = self._seqs.get(worker)
        if st is None:
            st = self._seqs[worker] = _Seq()
        if seq == st.next:
            st.next += 1
            return True
        if seq > st.next:
            warnings.append(f"worker {worker}: {_span(st.next, seq - 1)} missing")
            st.missing.append([st.next, seq - 1])
            st.next = seq + 1
            return True
        for i, (first, last) in enumerate(st.missing):
            if first <= seq <= last:
                st.missing[i:i + 1] = [r for r in ([first, seq - 1], [seq + 1, last])
                                       if r[0] <= r[1]]
                warnings.append(f"worker {worker}: report {seq} arrived late; accepted")
                return True
        warnings.append(f"worker {worker}: duplicate report {seq} ignored")
        return False

    def _roll_up(self, metric: str) -> None:
        """Rebuild the all-requests and per-scenario totals of `metric` from its series."""
        self._stale.discard(metric)
        total = self._by_metric[metric] = hdr.new_histogram()
        for key in [k for k in self._by_scn_metric if k[1] == metric]:
            del self._by_scn_metric[key]
        for (s, _, m), h in self._series.items():
            if m == metric:
                hdr.merge(total, h)
                per = self._by_scn_metric.get((s, m))
                if per is None:
                    per = self._by_scn_metric[(s, m)] = hdr.new_histogram()
                hdr.merge(per, h)

    def _add_counters(self, cd: CounterDelta, bucket: Bucket | None) -> None:
        t = self._reqs.get((cd.scenario, cd.request))
        if t is None:
            t = self._reqs[(cd.scenario, cd.request)] = _ReqTotals()
        t.requests += cd.requests
        t.failures += cd.failures
        t.bytes_in += cd.bytes_in
        t.bytes_out += cd.bytes_out
        t.checks_passed += cd.checks_passed
        t.checks_failed += cd.checks_failed
        t.check_runs += cd.check_runs
        t.queued += cd.queued
        if cd.check_fails or cd.check_first:        # usually empty: skip the loops (hot path)
            for i, n in cd.check_fails.items():
                t.check_fails[i] = t.check_fails.get(i, 0) + n
            for i, msg in cd.check_first.items():
                t.check_first.setdefault(i, msg)
        errors = cd.errors
        if errors or cd.first_error:
            for cls, n in errors.items():
                t.errors[cls] = t.errors.get(cls, 0) + n
            for cls, msg in cd.first_error.items():
                if cls not in t.first_error:
                    t.first_error[cls] = (self._arrival, msg)
                    self._arrival += 1
        if bucket is not None:
            # the load generator's own failures are not the target's: apart, as in the totals
            # (analysis/generator_errors.py), so windowed thresholds and bursts judge the target
            generator = errors.get(GENERATOR_FAILURE, 0) if errors else 0
            if generator:
                errors = {cls: n for cls, n in errors.items() if cls != GENERATOR_FAILURE}
            if errors:
                bucket.add_errors(cd.scenario, errors)
            failures = cd.failures - generator if cd.failures > generator else 0
            c = bucket.scn(cd.scenario)
            c[REQUESTS] += cd.requests
            c[FAILURES] += failures
            c[GENERATOR_ERRORS] += generator
            c[CHECKS_PASSED] += cd.checks_passed
            c[CHECKS_FAILED] += cd.checks_failed
            for gid in self._routes.get((cd.scenario, cd.request), ()) if self._routes else ():
                g = bucket.group(gid)
                g[G_REQUESTS] += cd.requests
                g[G_FAILURES] += failures
                g[G_CHECKS_PASSED] += cd.checks_passed
                g[G_CHECKS_FAILED] += cd.checks_failed

    def _add_scenario(self, sc: ScenarioDelta, bucket: Bucket | None) -> None:
        t = self._scns.get(sc.scenario)
        if t is None:
            t = self._scns[sc.scenario] = _ScnTotals()
        t.iterations += sc.iterations
        t.interrupted += sc.interrupted
        t.scheduled += sc.scheduled
        for cause, n in sc.dropped.items():
            t.dropped[cause] = t.dropped.get(cause, 0) + n
        if bucket is not None:
            c = bucket.scn(sc.scenario)
            c[ITERATIONS] += sc.iterations
            c[DROPPED] += sum(sc.dropped.values())
            c[DATA_EXHAUSTED] += sc.dropped.get(DROP_DATA_EXHAUSTED, 0)
            c[SCHEDULED] += sc.scheduled
            c[INTERRUPTED] += sc.interrupted

    # ---- queries -----------------------------------------------------------------------

    def histogram(self, metric: str, scenario: str | None = None,
                  request: str | None = None, keys: list[tuple[str, str]] | None = None) -> HdrHistogram:
        """The merged histogram for a filter (all / one scenario / one request, or the
        (scenario, request) series in `keys`: a tag filter). Do not modify it: it may be a
        live total."""
        self._deferrals.apply_all()
        if keys is not None:
            out = hdr.new_histogram()
            for s, r in keys:
                h = self._series.get((s, r, metric))
                if h is not None:
                    hdr.merge(out, h)
            return out
        if request is None:
            if metric in self._stale:
                self._roll_up(metric)
            h = (self._by_metric.get(metric) if scenario is None
                 else self._by_scn_metric.get((scenario, metric)))
            return h if h is not None else hdr.new_histogram()
        if scenario is not None:
            h = self._series.get((scenario, request, metric))
            return h if h is not None else hdr.new_histogram()
        out = hdr.new_histogram()
        for (_, r, m), h in self._series.items():
            if r == request and m == metric:
                hdr.merge(out, h)
        return out

    def summary(self, metric: str, scenario: str | None = None,
                request: str | None = None) -> dict:
        """`hdr.summarize_ms` (count, min, avg, med, p50..p99.9, max in ms) over the filter."""
        return hdr.summarize_ms(self.histogram(metric, scenario, request))

    def percentile_ms(self, metric: str, p: float, scenario: str | None = None,
                      request: str | None = None, keys: list[tuple[str, str]] | None = None) -> float | None:
        """Any percentile (ms, 3 decimals) over the filter; None without samples."""
        h = self.histogram(metric, scenario, request, keys)
        if not h.total_count:
            return None
        return round(hdr.percentiles(h, [p])[p] / 1000.0, 3)

    def counters(self, scenario: str | None = None, request: str | None = None) -> dict:
        """requests, failures, errors {class: n}, first_error {class: msg}, bytes_in/out,
        checks_passed/failed (assertions that held / did not), queued (requests that waited
        for a connection at maxConnectionsPerHost)."""
        out = {"requests": 0, "failures": 0, "errors": {}, "first_error": {},
               "bytes_in": 0, "bytes_out": 0, "checks_passed": 0, "checks_failed": 0, "queued": 0}
        first: dict[str, tuple[int, str]] = {}
        for (s, r), t in self._reqs.items():
            if (scenario is not None and s != scenario) or (request is not None and r != request):
                continue
            out["requests"] += t.requests
            out["failures"] += t.failures
            out["bytes_in"] += t.bytes_in
            out["bytes_out"] += t.bytes_out
            out["checks_passed"] += t.checks_passed
            out["checks_failed"] += t.checks_failed
            out["queued"] += t.queued
            for cls, n in t.errors.items():
                out["errors"][cls] = out["errors"].get(cls, 0) + n
            for cls, am in t.first_error.items():
                if cls not in first or am < first[cls]:
                    first[cls] = am
        out["first_error"] = {cls: am[1] for cls, am in sorted(first.items())}
        out["errors"] = dict(sorted(out["errors"].items()))
        return out

    def check_results(self) -> list[tuple[str, str, int, dict[int, int], dict[int, str]]]:
        """Per (scenario, request) whose checks ran: (scenario, request, runs, fails by check
        index, first failure message by check index). Check i passed runs - fails[i] times."""
        return [(s, r, t.check_runs, dict(t.check_fails), dict(t.check_first))
                for (s, r), t in self._reqs.items() if t.check_runs]

    def scenario_counters(self, scenario: str | None = None) -> dict:
        """iterations, dropped {cause: n}, interrupted, scheduled, vus_max, active_vus_max.

        *_max are the largest per-second sums over workers (over all scenarios if None).
        """
        scns = (self._scns.values() if scenario is None
                else [self._scns[scenario]] if scenario in self._scns else [])
        out = {"iterations": 0, "dropped": {}, "interrupted": 0, "scheduled": 0,
               "vus_max": 0, "active_vus_max": 0}
        for t in scns:
            out["iterations"] += t.iterations
            out["interrupted"] += t.interrupted
            out["scheduled"] += t.scheduled
            for cause, n in t.dropped.items():
                out["dropped"][cause] = out["dropped"].get(cause, 0) + n
            out["vus_max"] = max(out["vus_max"], t.vus_max)
            out["active_vus_max"] = max(out["active_vus_max"], t.active_vus_max)
        if scenario is None:
            out["vus_max"], out["active_vus_max"] = self._vus_max, self._active_vus_max
        out["dropped"] = dict(sorted(out["dropped"].items()))
        return out

    def bucket_counts(self, metric: str, scenario: str | None = None) -> list[tuple[int, dict[int, int]]]:
        """Per second: sparse HDR counts {index: n} of a bucket histogram (run-wide metrics, or
        per scenario http_req_duration). Seals every bucket: call at the end of a run."""
        self._buckets.seal_all()
        out = []
        for t in self._buckets.seconds():
            data = self._buckets.get(t).encoded.get((scenario, metric))
            out.append((t, hdr.sparse_counts(hdr.decode(data)) if data else {}))
        return out

    def buckets(self, since: int | None = None) -> list[dict]:
        """Per-second rows (see `buckets.Bucket.as_dict`), oldest first, from `since` on."""
        return self._buckets.as_dicts(since)

    def set_queue(self, t: int, figures: dict | None) -> bool:
        """Second `t`'s queue health (metrics/queue.py) into its bucket, if a report made it."""
        b = self._buckets.find(t)
        if b is None or figures is None:
            return False
        b.queue = figures
        return True

    def complete_second(self, workers: int = 0) -> int | None:
        """The newest second every live worker has reported, or None before any report (or
        before `workers` workers have reported at all).

        A worker's report for second t is sent when t ends, so t is complete once each
        worker has reported t or later. Workers silent for longer than the open-bucket
        window are treated as lost and do not hold it back.
        """
        if not self._latest or len(self._latest) < workers:
            return None
        newest = max(self._latest.values())
        return min(b for b in self._latest.values() if b >= newest - self._buckets.open_buckets)

    def last_complete_bucket(self) -> dict | None:
        """The newest complete second's row (for a live view), or None (see complete_second)."""
        t = self.complete_second()
        b = self._buckets.at_or_before(t) if t is not None else None
        return b.as_dict() if b is not None else None

    def second(self, t: int) -> dict | None:
        """Second `t`'s row (see `buckets.Bucket.as_dict`), or None if no report covered it.
        Seals nothing: for checks while the run goes."""
        b = self._buckets.find(t)
        return b.as_dict() if b is not None else None

    def second_counts(self, t: int, metric: str, scenario: str | None = None) -> dict[int, int]:
        """Second `t`'s sparse HDR counts of a kept metric (as `bucket_counts` has them), open
        or sealed; seals nothing: for windows judged while the run goes."""
        b = self._buckets.find(t)
        return b.sparse_counts((scenario, metric)) if b is not None else {}

    def second_group(self, t: int, group: int) -> dict | None:
        """Second `t`'s counters of a window group (`Bucket.group_row`), or None if no report
        covered it. Seals nothing: for windows judged while the run goes."""
        b = self._buckets.find(t)
        return b.group_row(group) if b is not None else None

    def encoded_histograms(self) -> dict[str, str]:
        """Every series total, encoded, keyed "scenario/request/metric" (request may be "").

        Request names may contain "/" ("GET /"); metric names never do and scenario names
        should not, so split at the first and the last "/".
        """
        self._deferrals.apply_all()
        return {f"{s}/{r}/{m}": hdr.encode(h).decode("ascii")
                for (s, r, m), h in sorted(self._series.items())}

    def request_keys(self) -> list[tuple[str, str]]:
        """(scenario, request) pairs that have request counters, sorted."""
        return sorted(self._reqs)

    def scenarios(self) -> list[str]:
        return sorted(set(self._scns) | {s for s, _ in self._reqs}
                      | {s for s, _, _ in self._series})

    def gaps(self) -> list[dict[str, int]]:
        """Reports never received: [{"worker", "first", "last"}] (inclusive seq ranges)."""
        return [{"worker": w, "first": a, "last": b}
                for w in sorted(self._seqs) for a, b in self._seqs[w].missing]
