"""The coordinator's aggregation over a day-long run: memory with and without folding.

    .venv/bin/python benchmarks/aggregation_memory.py        # folded 24 h, unfolded 6 h (~2.5 min)
    .venv/bin/python benchmarks/aggregation_memory.py --hours 2 --unfolded-hours 2
    .venv/bin/python benchmarks/aggregation_memory.py --groups 20 --unfolded-hours 0

Feeds synthetic Reports, one a second of run time (an open-model scenario at ~1,000 it/s:
http_req_duration, http_req_response_time, schedule_lag and iteration_duration histograms of
realistic spread, counters, gauges) into `Aggregate` as the coordinator does (with the
collection it runs every 10 s of run time), each mode in a fresh process, and prints its RSS
every few hours of run time. What grows with a run's length is the per-second buckets, so one
worker and these series show it; more workers or series cost time here, not bucket memory.
`unfolded` is the aggregation before issue 12 (every 1-second bucket kept: tiers=()); it runs
fewer hours (it grows linearly: the 24 h figure is extrapolated and said so). `folded` is
today's (1 s for the newest hour, then 10 s, then 60 s buckets). `--groups N` adds N window
groups (N windowed thresholds with request filters, `over 30s`, judged as the runner does:
analysis/window_groups.py), each keeping its counters and an http_req_duration histogram per
second. Run it under the bench lock.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lunge_mp.metrics.aggregate import Aggregate  # noqa: E402
from lunge_mp.metrics.recorder import Recorder  # noqa: E402
from lunge_mp.protocol.messages import Report  # noqa: E402

VARIANTS = 64            # distinct seconds of data, reused in turn


def _variants() -> list[Report]:
    """VARIANTS distinct seconds of one worker's reports at ~1,000 it/s."""
    rng = random.Random(1)
    out = []
    for _ in range(VARIANTS):
        rec = Recorder()
        for _ in range(1000):
            us = int(rng.lognormvariate(7.0, 0.6))
            fail = rng.random() < 0.002
            rec.request_done("s", "get", us, us + rng.randint(0, 2000), fail,
                             "http_5xx" if fail else None, None, 512, 128)
            rec.iteration_done("s", us + 50, rng.randint(0, 1500))
        rec.scheduled("s", 1000)
        rec.set_gauges("s", rng.randint(5, 30), 50)
        series, counters, scenarios = rec.drain()
        out.append(Report(worker=0, run_id="b", seq=0, bucket=0, series=series, counters=counters,
                          scenarios=scenarios))
    return out


def _with_groups(agg: Aggregate, n: int) -> None:
    """n window groups over the one request, each judged by a windowed threshold."""
    from lunge_mp.analysis.thresholds import parse_threshold
    from lunge_mp.analysis.window_judge import WindowJudge
    thresholds = [parse_threshold(f"http_req_duration{{request:get,g:{i}}}", "p95 < 100 over 30s")
                  for i in range(n)]
    groups = type("Groups", (), {})()       # what WindowJudge reads of analysis.WindowGroups
    groups.source = lambda t: ("trend", "http_req_duration", 1 + thresholds.index(t))
    agg.keep_groups({("s", "get"): tuple(range(1, n + 1))},
                    {g: frozenset(("http_req_duration",)) for g in range(1, n + 1)})
    agg.on_retire(WindowJudge(thresholds, ["s"], 0.0, groups).retire)


def feed(hours: float, folded: bool, every_h: float, groups: int = 0) -> list[tuple[float, float]]:
    variants = _variants()
    agg = Aggregate(run_id="b") if folded else Aggregate(run_id="b", tiers=())
    if groups:
        _with_groups(agg, groups)
    proc = psutil.Process()
    gc.collect()
    rows = [(0.0, proc.memory_info().rss / 2**20)]
    replace = msgspec.structs.replace
    started = time.perf_counter()
    step = max(1, int(every_h * 3600))
    for t in range(int(hours * 3600)):
        agg.add(replace(variants[t % VARIANTS], seq=t, bucket=t))
        if t % 10 == 9:
            gc.collect()      # the coordinator collects every 10 s (coordinator/run.py GC_EVERY_S)
        if (t + 1) % step == 0:
            rows.append(((t + 1) / 3600, proc.memory_info().rss / 2**20))
            print(f"  {'folded' if folded else 'unfolded':8s} {(t + 1) / 3600:5.1f} h of run  "
                  f"RSS {rows[-1][1]:7.1f} MB  ({time.perf_counter() - started:4.0f} s)", file=sys.stderr, flush=True)
    return rows


def measure(hours: float = 24.0, unfolded_hours: float = 6.0, every: float = 3.0, groups: int = 0) -> dict:
    """Both modes, each in a fresh process: {mode: {"hours", "startMB", "endMB", "growthMB",
    "per24hMB"}}."""
    out = {}
    for mode, h in (("folded", hours), ("unfolded", unfolded_hours)):
        if h <= 0:
            continue
        proc = subprocess.run([sys.executable, __file__, "--child", mode, "--hours", str(h), "--every", str(every),
                               "--groups", str(groups)],
                              capture_output=True, text=True, check=True)
        sys.stderr.write(proc.stderr)
        rows = json.loads(proc.stdout.splitlines()[-1])
        start, end = rows[0][1], rows[-1][1]
        extrapolated = mode == "unfolded" and h < 24   # it grows linearly; folded memory does not
        per24 = end - start
        if extrapolated:
            # the slope after the first sample (start-up is common to both modes)
            (h0, m0), (h1, m1) = (rows[1] if len(rows) > 2 else rows[0]), rows[-1]
            per24 = end - start + (m1 - m0) / (h1 - h0) * (24 - h)
        out[mode] = {"hours": h, "startMB": round(start, 1), "endMB": round(end, 1),
                     "growthMB": round(end - start, 1),
                     "per24hMB": round(per24, 1) if extrapolated or h >= 24 else None,
                     "extrapolated": extrapolated}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=24.0, help="hours of run fed to the folded aggregation")
    p.add_argument("--unfolded-hours", type=float, default=6.0, help="... to the unfolded one (0: skip)")
    p.add_argument("--every", type=float, default=3.0, help="print every this many hours of run")
    p.add_argument("--groups", type=int, default=0, help="window groups kept (filtered windowed thresholds)")
    p.add_argument("--child", choices=("folded", "unfolded"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(feed(a.hours, a.child == "folded", a.every, a.groups)))
        return
    for mode, r in measure(a.hours, a.unfolded_hours, a.every, a.groups).items():
        day = "" if r["per24hMB"] is None else (
            f"; over 24 h: +{r['per24hMB']:,.1f} MB ("
            + (f"extrapolated from {r['hours']:g} h" if r["extrapolated"] else "measured") + ")")
        print(f"  {mode:8s} RSS {r['startMB']:6.1f} MB at start, {r['endMB']:6.1f} MB after {r['hours']:g} h "
              f"(+{r['growthMB']:,.1f} MB){day}")


if __name__ == "__main__":
    main()
