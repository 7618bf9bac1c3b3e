"""http_req_blocked / http_req_connecting recorded only when non-zero, zeros filled in at each
drain; http_req_queued counted; the maxConnectionsPerHost warning (issue 12)."""

from __future__ import annotations

from lunge_mp.analysis.connection_waits import LiveWatch, warning
from lunge_mp.metrics import hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.protocol.messages import Report


def _drained(rec: Recorder) -> tuple[dict, list]:
    series, counters, _ = rec.drain()
    return {(d.request, d.metric): hdr.Tally.from_wire(d.counts, d.n, d.lo, d.hi).histogram() for d in series}, counters


def test_blocked_and_connecting_count_every_timed_request():
    rec = Recorder(breakdown=True)
    for _ in range(7):
        rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
    rec.blocked("s", "r", 5000, 3000, False)     # opened a connection
    rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
    rec.blocked("s", "r", 9000, 0, True)         # waited at the cap for a pooled one
    rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
    rec.not_sent("s", "r", "template", "no value")   # not timed: no sample anywhere
    hists, counters = _drained(rec)
    blocked, connecting = hists[("r", "http_req_blocked")], hists[("r", "http_req_connecting")]
    assert blocked.total_count == connecting.total_count == 9
    assert blocked.get_value_at_percentile(50) == 0
    assert hdr.percentiles(blocked, [100.0])[100.0] == blocked.get_highest_equivalent_value(9000)
    assert connecting.get_max_value() == connecting.get_highest_equivalent_value(3000)
    assert connecting.get_min_value() == 0
    assert counters[0].requests == 10 and counters[0].queued == 1
    # the next interval starts from nothing
    rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
    hists, counters = _drained(rec)
    assert hists[("r", "http_req_blocked")].total_count == 1 and counters[0].queued == 0


def test_without_breakdown_no_blocked_series_exist():
    rec = Recorder()          # a transport that does not measure them (aiohttp)
    rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
    hists, _ = _drained(rec)
    assert ("r", "http_req_blocked") not in hists


def test_queued_reaches_the_totals():
    agg = Aggregate(run_id="x")
    for w in range(2):
        rec = Recorder(breakdown=True)
        rec.blocked("s", "r", 10, 0, True)
        rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
        rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
        series, counters, scenarios = rec.drain()
        agg.add(Report(worker=w, run_id="x", seq=0, bucket=0, series=series, counters=counters,
                       scenarios=scenarios))
    c = agg.counters()
    assert (c["queued"], c["requests"]) == (2, 4)
    assert agg.summary("http_req_blocked")["count"] == 4


def test_the_warning_names_the_setting_and_the_share():
    text = warning(100, 2, 480, 1000)
    assert "settings.maxConnectionsPerHost is 100 (50 per worker over 2 workers)" in text
    assert "48.0% of requests (480 of 1,000)" in text
    assert warning(100, 2, 0, 1000) is None
    watch = LiveWatch(100, 1)
    assert watch.check({"queued": 0, "requests": 10}) is None
    assert "so far" in watch.check({"queued": 1, "requests": 10})
    assert watch.check({"queued": 5, "requests": 10}) is None        # said once
    assert LiveWatch(0, 1).check({"queued": 5, "requests": 10}) is None
