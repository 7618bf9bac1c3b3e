"""The coordinator's merge at cluster scale: many workers, each reporting many series a second.

    .venv/bin/python benchmarks/merge_bench.py                       # 256 workers x 100 series, 10 s
    .venv/bin/python benchmarks/merge_bench.py --workers 64 --series 20 --seconds 5

A feeder process plays the workers: one ZeroMQ DEALER socket per simulated worker (identities
w0, w1, ... as real workers have), each sending one Report a second — `--series` HDR histograms
(25 requests x 4 timing metrics for 100), a counter delta per request and a scenario delta, the
sparse HDR counts of 12 samples each with the spread of real latencies — spread over the second
as real workers' flushes are. The receiver does what the coordinator (coordinator/run.py and
core.py) does: an asyncio ROUTER socket on uvloop (one awaited frame, then those already queued
taken without awaiting; it reports the frames a wake), the identity lookup, the protocol decode and
`Aggregate.add` (validating each series' sparse counts, keeping them for the series and the
open second's bucket to be added when read: metrics/deferred.py; counters, gauges); once a second what the guardrail check and the live
line read (the last complete second's row, with its percentiles, and the run's counters, twice);
and the garbage collection every 10 s after `gc.freeze()`. (Not played: the workers' heartbeats,
one a second each.) It prints the receiver's CPU over the
steady seconds as a share of one core. `--partial-reports` adds the counters-only reports real
workers send between whole seconds (worker/main.py `counters_per_second`: 9 up to 8 workers, 4
up to 16, 1 up to 40, none beyond), by default as many as real workers of that count send. Run
it under the bench lock; figures go to benchmarks/results/merge.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import random
import tempfile
import time
from pathlib import Path

import uvloop
import zmq
import zmq.asyncio

from lunge_mp.coordinator.run import GC_EVERY_S, RECEIVE_BATCH
from lunge_mp.metrics import hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.protocol import messages as m
from lunge_mp.worker.main import counters_per_second

RUN_ID = "merge-bench"
METRICS = ("http_req_duration", "http_req_waiting", "http_req_response_time", "http_req_receiving")
RESULTS = Path(__file__).resolve().parent / "results" / "merge.json"


def _report(worker: int, second: int, series: int, rng: random.Random) -> m.Report:
    requests = max(1, series // len(METRICS))
    deltas, counters = [], []
    for r in range(requests):
        name = f"req-{r:02d}"
        for metric in METRICS[: min(len(METRICS), series - r * len(METRICS))]:
            t = hdr.Tally()
            t.add_values([int(rng.lognormvariate(9.5, 0.6)) for _ in range(12)])   # ~13 ms
            deltas.append(m.SeriesDelta.of("steady", name, metric, t.counts, t.n, t.lo, t.hi))
        counters.append(m.CounterDelta("steady", name, requests=12, bytes_in=12 * 600,
                                       bytes_out=12 * 120, checks_passed=12, check_runs=12))
    scenario = m.ScenarioDelta("steady", iterations=12 * requests, active_vus=3, vus=8,
                               scheduled=12 * requests)
    return m.Report(worker=worker, run_id=RUN_ID, seq=second, bucket=second,
                    series=deltas, counters=counters, scenarios=[scenario])


def _messages(workers: int, series: int, seconds: int, partials: int) -> list[tuple[float, int, bytes]]:
    """Every frame the workers send, (offset from the start in s, worker, frame), in time order:
    each worker's Report for second s at s + its own offset, and `partials` counters-only
    reports (as worker/main.py sends them) evenly spaced after it."""
    rng = random.Random(7)
    out = []
    for w in range(workers):
        templates = [_report(w, 0, series, rng) for _ in range(2)]      # a few distinct ones
        offset = rng.random() * 0.9        # flushes spread over the second
        seq = 0
        for second in range(seconds):
            full = templates[second % 2]
            full.seq, full.bucket = seq, second
            out.append((second + 1 + offset, w, m.encode(full)))
            seq += 1
            for k in range(1, partials + 1):
                part = m.Report(worker=w, run_id=RUN_ID, seq=seq, bucket=second + 1, partial=True,
                                counters=full.counters, scenarios=full.scenarios)
                out.append((second + 1 + offset + k / (partials + 1), w, m.encode(part)))
                seq += 1
    out.sort(key=lambda e: e[0])
    return out


def _feed(endpoint: str, workers: int, series: int, seconds: int, partials: int, pipe) -> None:
    """The simulated workers. Every frame is encoded before the start, so the feeder's own
    cost stays out of the receiver's way; then it says so and waits for the start instant."""
    ctx = zmq.Context()
    socks = []
    for w in range(workers):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.IDENTITY, f"w{w}".encode())
        s.setsockopt(zmq.LINGER, 2000)
        s.connect(endpoint)
        socks.append(s)
    frames = _messages(workers, series, seconds, partials)
    pipe.send(len(frames))
    start_at = pipe.recv()
    for at, w, data in frames:
        delay = start_at + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        socks[w].send(data)
    for s in socks:
        s.close()
    ctx.term()


async def _receive(router, aggregate: Aggregate, workers: dict[bytes, int], state: dict) -> None:
    """The coordinator's receive path (run.py `_receive` → core.py `frames` → `_merge`): one
    awaited frame, then those already queued without awaiting, up to RECEIVE_BATCH."""
    shadow = zmq.Socket.shadow(router.underlying)
    while True:
        batch = [await router.recv_multipart()]
        try:
            while len(batch) < RECEIVE_BATCH:
                batch.append(shadow.recv_multipart(zmq.NOBLOCK))
        except zmq.Again:
            pass
        state["batches"] += 1
        for identity, data in batch:
            if workers.get(identity) is None:
                continue
            report = m.decode(data)
            aggregate.add(report)
            state["received"] += 1
            state["series"] += len(report.series)
            if state["received"] == state["expected"]:
                state["done"].set()


async def _serve(endpoint: str, pipe, expected: int, workers: int, seconds: int, warmup_s: int) -> dict:
    ctx = zmq.asyncio.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.RCVHWM, 0)
    router.bind(endpoint)
    aggregate = Aggregate(RUN_ID)
    state = {"received": 0, "series": 0, "batches": 0, "expected": expected, "done": asyncio.Event()}
    receiver = asyncio.get_running_loop().create_task(
        _receive(router, aggregate, {f"w{w}".encode(): w for w in range(workers)}, state))
    start_at = time.monotonic() + 0.5 + workers * 0.002     # the feeder's sockets connect first
    pipe.send(start_at)
    gc.freeze()                     # as run.py does before the load starts
    steady_from, end = start_at + 1 + warmup_s, start_at + 1 + warmup_s + seconds
    cpu_start = wall_start = None
    received_at_start = 0
    second = 0
    try:
        while time.monotonic() < end + 2.0 and not state["done"].is_set():
            second += 1
            try:       # the 1 s checks: guardrails (guarding.py) and the live line (runner.py)
                await asyncio.wait_for(state["done"].wait(), max(0.0, start_at + second - time.monotonic()))
            except asyncio.TimeoutError:
                pass
            if cpu_start is None and time.monotonic() >= steady_from:
                cpu_start, wall_start = time.process_time(), time.monotonic()
                received_at_start = state["received"]
            for _ in range(2):
                aggregate.counters()
                aggregate.last_complete_bucket()
            if second % GC_EVERY_S == 0:
                gc.collect()
        cpu = time.process_time() - cpu_start
        wall = time.monotonic() - wall_start
    finally:
        receiver.cancel()
        gc.unfreeze()
        router.close(0)
        ctx.term()
    steady = state["received"] - received_at_start
    return {"received": state["received"], "series": state["series"], "cpu": cpu, "wall": wall,
            "steady": steady, "batches": state["batches"]}


def run(workers: int, series: int, seconds: int, partials: int = 0, warmup_s: int = 2) -> dict:
    endpoint = f"ipc://{tempfile.mkdtemp(prefix='lunge-merge-')}/c.sock"
    here, there = multiprocessing.Pipe()
    feeder = multiprocessing.get_context("spawn").Process(
        target=_feed, args=(endpoint, workers, series, seconds + warmup_s, partials, there))
    feeder.start()
    try:
        if not here.poll(120):
            raise SystemExit("the feeder did not get ready in 120 s")
        expected = here.recv()
        r = uvloop.run(_serve(endpoint, here, expected, workers, seconds, warmup_s))
    finally:
        feeder.join(30)
        if feeder.is_alive():
            feeder.kill()
    return {"workers": workers, "series_per_report": series, "partial_reports_per_s": partials,
            "seconds": seconds, "reports": r["received"], "series_merged": r["series"],
            "steady_reports_per_s": round(r["steady"] / r["wall"], 1),
            "receiver_cpu_share_of_a_core": round(r["cpu"] / r["wall"], 4),
            "cpu_us_per_worker_second": round(r["cpu"] / r["wall"] * 1e6 / workers, 1),
            "frames_per_wake": round(r["received"] / max(1, r["batches"]), 2),
            "complete": r["received"] == expected,
            "load_average": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=256)
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--partial-reports", type=int, default=None, choices=range(10), metavar="0..9",
                    help="counters-only reports a worker sends between whole seconds (default: as many"
                         " as real workers of that count send, worker/main.py counters_per_second)")
    args = ap.parse_args()
    partials = args.partial_reports
    if partials is None:
        partials = counters_per_second(args.workers) - 1
    result = run(args.workers, args.series, args.seconds, partials)
    share = result["receiver_cpu_share_of_a_core"]
    print(f"merge: {result['workers']} workers x {result['series_per_report']} series/s: "
          f"{result['partial_reports_per_s']} partial reports/s each: "
          f"coordinator merge {share:.1%} of a core ({result['cpu_us_per_worker_second']:,.0f} µs a "
          f"worker-second; {result['steady_reports_per_s']:,.0f} reports/s; "
          f"{'all' if result['complete'] else 'NOT all'} reports received; "
          f"load {result['load_average']:.1f})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
