"""The coordinator's merge (sparse counts kept and added when read, in Python or by numpy:
metrics/deferred.py, into series and the open seconds' buckets) equals the straightforward
merge: one HdrHistogram per series, per second and per scenario, filled with `record_value`
for every sample every worker saw, whenever reads come between the reports."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from lunge_mp.metrics import deferred, hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.names import BUCKET_METRICS, BUCKET_SCENARIO_METRIC
from lunge_mp.protocol import messages as m

METRICS = ("http_req_duration", "http_req_response_time", "http_req_waiting", "schedule_lag")
PCTS = (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0)

values = st.one_of(st.integers(0, 5_000), st.integers(0, 200_000), st.integers(0, hdr.HIGHEST))
# (worker, second, scenario, request, metric, samples)
deltas = st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from(("a", "b")),
                   st.sampled_from(("get", "post", "")), st.sampled_from(METRICS),
                   st.lists(values, min_size=1, max_size=40))


def _reference(samples) -> object:
    h = hdr.new_histogram()
    for v in samples:
        h.record_value(v)
    return h


def _same(h, ref) -> None:
    assert hdr.sparse_counts(h) == hdr.sparse_counts(ref)
    assert h.total_count == ref.total_count
    if ref.total_count:
        assert (h.get_min_value(), h.get_max_value()) == (ref.get_min_value(), ref.get_max_value())
        assert hdr.percentiles(h, PCTS) == hdr.percentiles(ref, PCTS)   # == hdrh's (test_metrics.py)
        assert hdr.mean(h) == hdr.mean(ref)


@pytest.fixture(params=["python", "numpy", "either"])
def adder(request):
    """Which way kept deltas are added: always in Python, always by numpy, or by size."""
    before = deferred.NUMPY_FROM
    if request.param != "python":
        deferred.load_numpy()
    deferred.NUMPY_FROM = {"python": 10**9, "numpy": 0, "either": 40}[request.param]
    yield request.param
    deferred.NUMPY_FROM = before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(deltas, min_size=1, max_size=30), read_every=st.integers(1, 6))
def test_the_merge_equals_recording_every_sample(adder, items, read_every):
    # one Report per (worker, second), sent in order; a series appears once in a report
    reports: dict[tuple[int, int], dict] = {}
    for w, t, scn, req, metric, samples in items:
        reports.setdefault((w, t), {}).setdefault((scn, req, metric), []).extend(samples)
    agg = Aggregate("r")
    seqs: dict[int, int] = {}
    for (w, t), series in sorted(reports.items()):
        wire = []
        for (scn, req, metric), samples in series.items():
            tally = hdr.Tally()
            tally.add_values(samples)
            wire.append(m.SeriesDelta.of(scn, req, metric, tally.counts, tally.n, tally.lo, tally.hi))
        seq = seqs[w] = seqs.get(w, -1) + 1
        report = m.Report(worker=w, run_id="r", seq=seq, bucket=t, series=wire)
        assert agg.add(m.decode(m.encode(report))) == []
        if agg.reports % read_every == 0:       # reads apply what was kept so far
            agg.histogram(METRICS[0])
            agg.last_complete_bucket()

    def samples(keep) -> list[int]:
        return [v for (w, t), series in reports.items() for k, vs in series.items()
                if keep(t, *k) for v in vs]

    for metric in METRICS:
        _same(agg.histogram(metric), _reference(samples(lambda t, s, r, mt: mt == metric)))
        for scn in ("a", "b"):
            _same(agg.histogram(metric, scn), _reference(samples(lambda t, s, r, mt: (s, mt) == (scn, metric))))
            for req in ("get", "post", ""):
                _same(agg.histogram(metric, scn, req),
                      _reference(samples(lambda t, s, r, mt: (s, r, mt) == (scn, req, metric))))
    for t in {t for _, t in reports}:
        for metric in BUCKET_METRICS:       # the open second's kept histograms
            want = hdr.sparse_counts(_reference(samples(lambda tt, s, r, mt: (tt, mt) == (t, metric))))
            assert agg.second_counts(t, metric) == want
        for scn in ("a", "b"):
            want = samples(lambda tt, s, r, mt: (tt, s, mt) == (t, scn, BUCKET_SCENARIO_METRIC))
            assert agg.second_counts(t, BUCKET_SCENARIO_METRIC, scn) == hdr.sparse_counts(_reference(want))
    rows = {row["t"]: row for row in agg.buckets()}
    agg.finish()                            # sealed: the same percentiles, from the kept encodings
    for row in agg.buckets():
        assert row == rows[row["t"]]
