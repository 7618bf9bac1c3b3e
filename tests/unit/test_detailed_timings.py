"""settings.timings: detailed (issue 13, "where the time went"): k6's http_req_tls_handshaking,
_sending, _waiting and _receiving, recorded by the Recorder, carried in the Outcome, parsed
from the config and known to thresholds."""

from __future__ import annotations

import pytest

from lunge_mp.analysis.thresholds import metric_kind, parse_threshold
from lunge_mp.config import ConfigError, plan_from_dict
from lunge_mp.metrics import hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.names import DETAILED_METRICS
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.protocol.messages import Report
from lunge_mp.worker.fast_transport import _phases
from lunge_mp.worker.transport import Outcome


def _drained(rec: Recorder) -> dict:
    series, _, _ = rec.drain()
    return {(d.request, d.metric): hdr.Tally.from_wire(d.counts, d.n, d.lo, d.hi).histogram() for d in series}


def test_phases_are_recorded_per_response_and_tls_like_connecting():
    rec = Recorder(breakdown=True, detailed=True)
    for i in range(4):
        rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
        rec.phases("s", "r", 10, 900 + i, 90)
    rec.blocked("s", "r", 7000, 6000, False, 4000)        # opened a TLS connection
    rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
    rec.phases("s", "r", 10, 900, 90)
    hists = _drained(rec)
    assert {m for _, m in hists} >= set(DETAILED_METRICS)
    tls = hists[("r", "http_req_tls_handshaking")]
    assert tls.total_count == 5 and tls.get_min_value() == 0          # zeros filled in
    assert tls.get_max_value() == tls.get_highest_equivalent_value(4000)
    waiting = hists[("r", "http_req_waiting")]
    assert waiting.total_count == 5
    assert hists[("r", "http_req_sending")].total_count == 5
    assert hists[("r", "http_req_receiving")].get_max_value() == \
        hists[("r", "http_req_receiving")].get_highest_equivalent_value(90)


def test_without_detailed_the_phases_cost_nothing_and_make_no_series():
    rec = Recorder(breakdown=True)
    rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
    rec.phases("s", "r", 10, 900, 90)
    rec.blocked("s", "r", 7000, 6000, False, 4000)
    hists = _drained(rec)
    assert not {m for _, m in hists} & set(DETAILED_METRICS)
    assert ("r", "http_req_connecting") in hists


def test_detailed_series_reach_the_aggregate():
    agg = Aggregate(run_id="x")
    rec = Recorder(breakdown=True, detailed=True)
    rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
    rec.phases("s", "r", 5, 50_000, 95)
    series, counters, scenarios = rec.drain()
    agg.add(Report(worker=0, run_id="x", seq=0, bucket=0, series=series, counters=counters,
                   scenarios=scenarios))
    assert agg.summary("http_req_waiting")["count"] == 1
    assert 49.9 < agg.summary("http_req_waiting")["p50"] < 50.1


class _Conn:
    """The four timestamps `_phases` reads (ns)."""
    def __init__(self, t_start: int, t_sent: int, t_first: int, t_end: int) -> None:
        self.t_start, self.t_sent, self.t_first, self.t_end = t_start, t_sent, t_first, t_end


def test_phases_split_the_duration():
    out = Outcome(200, 50_123)
    _phases(out, _Conn(1_000_000, 1_020_000, 51_000_000, 51_123_000))
    assert (out.sending_us, out.waiting_us, out.receiving_us) == (20, 49_980, 123)
    assert out.sending_us + out.waiting_us + out.receiving_us == out.duration_us


def test_a_response_without_data_received_first_counts_all_as_waiting():
    out = Outcome(200, 10)
    _phases(out, _Conn(0, 1000, 0, 10_000))       # t_first unset: the parser ended it
    assert (out.sending_us, out.waiting_us, out.receiving_us) == (1, 9, 0)


def test_outcome_defaults_keep_old_callers_working():
    out = Outcome(200, 5)
    assert (out.tls_us, out.sending_us, out.waiting_us, out.receiving_us) == (0, 0, 0, 0)


def _doc(**settings) -> dict:
    return {"name": "t", "settings": {"baseUrl": "http://127.0.0.1:1", **settings},
            "scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "1s",
                                "requests": [{"url": "/"}]}}}


def test_config_timings_setting():
    assert plan_from_dict(_doc()).settings.timings == "summary"
    assert plan_from_dict(_doc(timings="detailed")).settings.timings == "detailed"
    with pytest.raises(ConfigError) as info:
        plan_from_dict(_doc(timings="full"))
    assert "settings.timings" in str(info.value) and "summary, detailed" in str(info.value)


@pytest.mark.parametrize("metric", DETAILED_METRICS)
def test_thresholds_know_the_new_metrics(metric):
    assert metric_kind(metric) == "trend"
    t = parse_threshold(metric, "p(95)<1000")
    assert t.value == 1000
