"""The coordinator's merge at cluster scale: many workers, each reporting many series a second.

    .venv/bin/python benchmarks/merge_bench.py                       # 256 workers x 100 series, 10 s
    .venv/bin/python benchmarks/merge_bench.py --workers 64 --series 20 --seconds 5

A feeder process plays the workers: one ZeroMQ DEALER socket per simulated worker (identities
w0, w1, ... as real workers have), each sending one Report a second — `--series` HDR histograms
(25 requests x 4 timing metrics for 100), a counter delta per request and a scenario delta, the
sparse HDR counts of 12 samples each with
the spread of real latencies — spread over the second as real workers'
flushes are. The receiver does what the coordinator does with each frame: a ROUTER socket,
the protocol decode and `Aggregate.add` (HDR decode and merge into the totals and the
per-second bucket, counters, gauges), plus the garbage collection the coordinator runs every
10 s. It prints the receiver's CPU over the steady seconds as a share of one core. Run it under
the bench lock; figures go to benchmarks/results/merge.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import random
import re
import tempfile
import time
from pathlib import Path

import zmq

from lunge_mp.metrics import hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.protocol import messages as m

RUN_ID = "merge-bench"
METRICS = ("http_req_duration", "http_req_waiting", "http_req_response_time", "http_req_receiving")
IDENTITY = re.compile(rb"w(\d{1,6})")
RESULTS = Path(__file__).resolve().parent / "results" / "merge.json"


def _report(worker: int, second: int, series: int, rng: random.Random) -> bytes:
    requests = max(1, series // len(METRICS))
    deltas, counters = [], []
    for r in range(requests):
        name = f"req-{r:02d}"
        for metric in METRICS[: min(len(METRICS), series - r * len(METRICS))]:
            t = hdr.Tally()
            t.add_values([int(rng.lognormvariate(9.5, 0.6)) for _ in range(12)])   # ~13 ms
            deltas.append(m.SeriesDelta("steady", name, metric, t.counts, t.n, t.lo, t.hi))
        counters.append(m.CounterDelta("steady", name, requests=12, bytes_in=12 * 600,
                                       bytes_out=12 * 120, checks_passed=12, check_runs=12))
    scenario = m.ScenarioDelta("steady", iterations=12 * requests, active_vus=3, vus=8,
                               scheduled=12 * requests)
    return m.encode(m.Report(worker=worker, run_id=RUN_ID, seq=second, bucket=second,
                             series=deltas, counters=counters, scenarios=[scenario]))


def _feed(endpoint: str, workers: int, series: int, seconds: int, start_at: float) -> None:
    """The simulated workers: every second, each sends its Report at its own offset."""
    rng = random.Random(7)
    ctx = zmq.Context()
    socks = []
    for w in range(workers):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.IDENTITY, f"w{w}".encode())
        s.setsockopt(zmq.LINGER, 2000)
        s.connect(endpoint)
        socks.append(s)
    # a few distinct reports per worker, prepared ahead: the feeder's own cost stays out of the way
    templates = [[_report(w, 0, series, rng) for _ in range(2)] for w in range(workers)]
    offsets = sorted((rng.random() * 0.9, w) for w in range(workers))
    for second in range(seconds):
        for offset, w in offsets:
            delay = start_at + second + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            data = templates[w][second % 2]
            report = m.decode(data)
            report.seq = report.bucket = second
            socks[w].send(m.encode(report))
    for s in socks:
        s.close()
    ctx.term()


def run(workers: int, series: int, seconds: int, warmup_s: int = 2) -> dict:
    endpoint = f"ipc://{tempfile.mkdtemp(prefix='lunge-merge-')}/c.sock"
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.RCVHWM, 0)
    router.bind(endpoint)
    start_at = time.monotonic() + 1.5 + workers * 0.004     # the feeder's sockets connect first
    feeder = multiprocessing.get_context("spawn").Process(
        target=_feed, args=(endpoint, workers, series, seconds + warmup_s, start_at))
    feeder.start()
    aggregate = Aggregate(RUN_ID)
    received = merged_series = 0
    cpu_start = wall_start = None
    steady_from = start_at + warmup_s
    end = start_at + warmup_s + seconds
    next_gc = start_at + 10.0
    try:
        while time.monotonic() < end + 1.0:
            if cpu_start is None and time.monotonic() >= steady_from:
                cpu_start, wall_start = time.process_time(), time.monotonic()
                received_at_start = received
            if not router.poll(50):
                continue
            identity, data = router.recv_multipart()
            if not IDENTITY.fullmatch(identity):
                continue
            report = m.decode(data)
            aggregate.add(report)
            received += 1
            merged_series += len(report.series)
            if time.monotonic() >= next_gc:
                gc.collect()
                next_gc += 10.0
            if received == workers * (seconds + warmup_s):
                break
        cpu = time.process_time() - cpu_start
        wall = time.monotonic() - wall_start
    finally:
        feeder.join(30)
        if feeder.is_alive():
            feeder.kill()
        router.close(0)
        ctx.term()
    steady_reports = received - received_at_start
    return {"workers": workers, "series_per_report": series, "seconds": seconds,
            "reports": received, "series_merged": merged_series,
            "steady_reports_per_s": round(steady_reports / wall, 1),
            "receiver_cpu_share_of_a_core": round(cpu / wall, 4),
            "cpu_us_per_report": round(cpu / max(1, steady_reports) * 1e6, 1),
            "complete": received == workers * (seconds + warmup_s),
            "load_average": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=256)
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    result = run(args.workers, args.series, args.seconds)
    share = result["receiver_cpu_share_of_a_core"]
    print(f"merge: {result['workers']} workers x {result['series_per_report']} series/s: "
          f"coordinator merge {share:.1%} of a core ({result['cpu_us_per_report']:,.0f} µs a "
          f"report; {result['steady_reports_per_s']:,.0f} reports/s; "
          f"{'all' if result['complete'] else 'NOT all'} reports received; "
          f"load {result['load_average']:.1f})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
