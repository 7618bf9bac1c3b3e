"""Anomaly notes located in time, from synthetic bucket rows."""

from lunge_mp.analysis.anomalies import find


def rows(n, overrides=None):
    overrides = overrides or {}
    out = []
    for t in range(n):
        b = {"t": t, "phase": "steady", "requests": 100, "failures": 0, "p95": 10.0, "errors": {},
             "targetRate": 100.0, "achievedRate": 100}
        b.update(overrides.get(t, {}))
        out.append(b)
    return out


def test_quiet_run_has_no_anomalies():
    assert find(rows(30)) == []


def test_latency_spike_is_located_and_joined():
    found = find(rows(30, {12: {"p95": 80.0}, 13: {"p95": 95.0}, 20: {"p95": 12.0}}))
    assert [(a["kind"], a["start"], a["end"]) for a in found] == [("latency_spike", 12, 13)]
    assert "95.0 ms" in found[0]["detail"]


def test_error_burst_names_its_classes():
    found = find(rows(30, {5: {"failures": 40, "errors": {"http_5xx": 30, "timeout": 10}}}))
    assert [(a["kind"], a["start"]) for a in found] == [("error_burst", 5)]
    assert "http_5xx 30" in found[0]["detail"]


def test_warmup_seconds_are_ignored():
    assert find(rows(10, {0: {"phase": "warmup", "p95": 500.0}})) == []


def test_knee_where_throughput_stops_following_a_ramp():
    buckets = []
    for t in range(20):
        target = 100.0 * (t + 1)
        achieved = target if target <= 1200 else 1200
        buckets.append({"t": t, "phase": "ramp-up", "requests": achieved, "failures": 0, "p95": 5.0,
                        "targetRate": target, "achievedRate": achieved})
    [k] = [a for a in find(buckets) if a["kind"] == "knee"]
    assert k["start"] == 12 and "1,300 it/s" in k["detail"]
