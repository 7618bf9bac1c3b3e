"""Counters-only reports between the whole seconds (issue 12): they count in the totals and in
their second's bucket, never as that worker having finished the second, and the histograms
still come once a second."""

from __future__ import annotations

from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.protocol.messages import Report


def test_partial_reports_add_counts_but_do_not_complete_a_second():
    rec, agg = Recorder(breakdown=True), Aggregate(run_id="x")
    seq = 0

    def send(bucket: int, partial: bool) -> None:
        nonlocal seq
        if partial:
            counters, scenarios = rec.drain_counters()
            series = []
        else:
            series, counters, scenarios = rec.drain()
        agg.add(Report(worker=0, run_id="x", seq=seq, bucket=bucket, series=series, counters=counters,
                       scenarios=scenarios, partial=partial))
        seq += 1

    for i in range(3):
        rec.request_done("s", "r", 1000 + i, None, False, None, None, 1, 1)
        rec.iteration_done("s", 1000 + i)
        send(0, partial=i < 2)          # two partials, then the second's whole report
    assert agg.complete_second() == 0
    rec.request_done("s", "r", 5000, None, False, None, None, 1, 1)
    rec.iteration_done("s", 5000)
    send(1, partial=True)
    assert agg.complete_second() == 0             # second 1 is still running
    assert agg.counters()["requests"] == 4 and agg.scenario_counters()["iterations"] == 4
    assert agg.second(1)["requests"] == 1
    send(1, partial=False)                        # only the histograms of second 1
    assert agg.complete_second() == 1
    assert agg.summary("http_req_duration")["count"] == 4
    assert agg.summary("http_req_blocked")["count"] == 4      # zeros for every timed request
    assert agg.second(0)["requests"] == 3 and agg.second(0)["p50"] is not None
