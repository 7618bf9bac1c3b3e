"""Folding old 1-second buckets (issue 12): a day-long run keeps bounded memory while totals,
folded buckets' percentiles and windowed thresholds (even windows shorter than a folded bucket)
stay exactly what they would be with every second kept. Small tiers stand in for the hour."""

from __future__ import annotations

import random

from lunge_mp.analysis.verdict import verdicts
from lunge_mp.analysis.window_judge import WindowJudge
from lunge_mp.config.thresholds import parse_thresholds
from lunge_mp.config.errors import Errors
from lunge_mp.metrics import hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.protocol.messages import Report

TIERS = ((60, 10), (180, 60))      # 1 s for the newest minute, 10 s until 3 min, then 60 s
SECONDS = 500


def _reports(seconds: int = SECONDS):
    rng = random.Random(5)
    for t in range(seconds):
        for w in range(2):
            rec = Recorder()
            slow = 150 <= t < 153            # a 3-second spike, shorter than a folded bucket
            for _ in range(20):
                us = rng.randint(900, 1100) * (50 if slow else 1)
                fail = rng.random() < (0.5 if slow else 0.01)
                rec.request_done("s", "r", us, None, fail, "http_5xx" if fail else None, None, 10, 1)
                rec.iteration_done("s", us)
            series, counters, scenarios = rec.drain()
            yield Report(worker=w, run_id="x", seq=t, bucket=t, series=series, counters=counters,
                         scenarios=scenarios)


def _thresholds():
    errs = Errors()
    out = parse_thresholds({"http_req_duration": ["p95 < 20 over 2s", "p99 < 500 over 5s"],
                            "http_req_failed": ["rate < 0.2 over 2s"], "http_reqs": ["count > 30 over 3s"]},
                           "thresholds", errs, ["s"])
    assert not errs, errs.items
    return out


def test_folded_buckets_are_exact_and_few():
    full, folded = Aggregate("x", tiers=()), Aggregate("x", tiers=TIERS)
    for r in _reports():
        full.add(r)
        folded.add(r)
    assert folded.counters() == full.counters()
    assert folded.summary("http_req_duration") == full.summary("http_req_duration")
    rows = folded.buckets()
    spans = [b.get("span", 1) for b in rows]
    assert spans.count(60) and spans.count(10) and spans.count(1) <= 70
    assert len(rows) < 100 and len(full.buckets()) == SECONDS
    assert sum(b["requests"] for b in rows) == sum(b["requests"] for b in full.buckets())
    # a folded bucket's percentiles are those of every sample of its seconds
    by_t = {b["t"]: b for b in rows}
    ten = next(b for b in rows if b.get("span") == 10)
    merged = hdr.new_histogram()
    full.finish()
    for sec in range(ten["t"], ten["t"] + 10):
        hdr.merge(merged, hdr.decode(full._buckets.find(sec).encoded[(None, "http_req_duration")]))
    assert by_t[ten["t"]]["p99"] == round(hdr.percentiles(merged, [99.0])[99.0] / 1000, 3)
    # a late report for a folded second lands in the bucket that holds it
    folded.add(Report(worker=0, run_id="x", seq=SECONDS, bucket=3, counters=[], scenarios=[]))


def test_windows_judged_as_the_run_goes_equal_the_windows_over_every_second():
    thresholds = _thresholds()
    full, folded = Aggregate("x", tiers=()), Aggregate("x", tiers=TIERS)
    judge = WindowJudge(thresholds, ["s"], 0.0)
    folded.on_retire(judge.retire)
    for r in _reports():
        full.add(r)
        folded.add(r)
    folded.retire_rest()
    results = {"scenarios": {"s": {}}, "requests": {}, "metrics": {}, "buckets": full.buckets(),
               "measuredFrom": 0}
    expected = verdicts(thresholds, results, full.percentile_ms, full.bucket_counts)
    got = verdicts(thresholds, results, full.percentile_ms, None, judge.verdicts())
    assert got == expected
    spike = [v for v in got if v["expression"] == "p95 < 20 over 2s"][0]
    assert not spike["ok"] and spike["firstFailure"] in (149, 150, 151, 152)   # folded away since
