"""lunge_mp self-benchmark (`make bench`; `make bench PEERS=1` adds k6 and wrk).

Starts the embedded target once (one process on 127.0.0.1), then runs, one after another:

* closed  - `constant-vus`, 50 VUs, `GET /` (2-byte body), one worker and the coordinator
            pinned to CPU 0 (`taskset`), the target pinned to CPU 1; once with
            `settings.transport: fast`, once with `aiohttp`.  Bars: >= 50,000 and >= 10,000 req/s.
* open    - `constant-arrival-rate` on the whole box (nothing pinned, the target shares it),
            a search: 10k, 15k, 20k, ... it/s until efficiency drops below 99%.  Bars: 10k at
            >= 99.5% using < 0.5 core (coordinator + workers), 20k at >= 99%.
* latency - `constant-vus`, 200 VUs on `/delay/10` (pinned like `closed`): p99 - 10 ms, next
            to wrk's on the same target (wrk runs whenever it is installed).  Bar: within 2 ms.
* ramp    - `ramping-arrival-rate` 1k -> 10k it/s, then 10k held: efficiency per phase, from
            the buckets' `phase`, `scheduled` and `dropped` (and `targetRate`/`achievedRate`).
* coord   - `constant-arrival-rate` 50k it/s: the coordinator's share of a core.  Bar: < 15%.
* queue   - Redis job queue (benchmarks/bench_queue.py): redis-benchmark's LPUSH rate as the anchor,
            lunge_mp closed-loop enqueues on one core (bar: >= 50% of it) and open 10k jobs/s
            (bar: >= 99.5% efficiency), against a private redis-server pinned to CPU 1.
* peers   - (`--peers 1`) wrk and k6 on the closed and latency runs, k6 on open 10k; ratios.

The parts are in benchmarks/selfbench/ (configs and bars, process control, one run, peers,
tables, machine info); this script runs the sections.

Each configuration runs `--repeat` times (default 3) and its row shows the median of every
figure (the raw runs are all in the JSON).  Results: the table on stdout,
``<out-dir>/bench-<UTC timestamp>.json`` and ``<out-dir>/latest.md``; see benchmarks/README.md.

Acceptance bars are reported as PASS/FAIL, never enforced: the exit code is non-zero only
when something went wrong (a run crashed, no results.json, the target died, ...).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import shutil
import signal
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:          # run from a checkout without the package installed
    sys.path.insert(0, str(ROOT))

from lunge_mp.formatting import num  # noqa: E402
from lunge_mp.target import start_target  # noqa: E402
from selfbench.configs import (COORD_RATE, LG_CPU, SEARCH_EFF, SECTIONS, TARGET_CPU,  # noqa: E402
                               closed_config, open_config, ramp_config, vu_pool)
from selfbench.machine import machine_info  # noqa: E402
from selfbench.peers import k6_binary, run_k6, run_wrk  # noqa: E402
from selfbench.runs import Spec, median_row, one_run  # noqa: E402
from selfbench.tables import (COLUMNS, PEER_COLUMNS, bars, bars_md, extra_lines, md_table,  # noqa: E402
                              peer_rows, table_rows, text_table)


class Interrupted(BaseException):
    """SIGINT/SIGTERM received by the benchmark."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 s runs, one repeat (smoke check; figures are rougher)")
    p.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run (default: all of {','.join(SECTIONS)})")
    p.add_argument("--rates", default=None,
                   help="open model: these rates (comma separated) instead of the search")
    p.add_argument("--search", default="10000,5000,80000",
                   help="open-model search START,STEP,MAX (default 10000,5000,80000); 10k and 20k always run")
    p.add_argument("--duration", type=int, default=None, help="seconds per run (default 10, 3 with --quick)")
    p.add_argument("--repeat", type=int, default=None, help="runs per configuration, median shown (default 3, 1 with --quick)")
    p.add_argument("--vus", type=int, default=50, help="VUs of the closed-model runs (default 50)")
    p.add_argument("--workers", type=int, default=None,
                   help="lunge-mp workers for open/ramp/coord runs (default: lunge-mp's own, one per core)")
    p.add_argument("--peers", type=int, choices=(0, 1), default=0, help="1 also runs wrk and k6")
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    a = p.parse_args(argv)
    a.sections = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in a.sections if s not in SECTIONS]
    if bad:
        p.error(f"--only: unknown section(s) {', '.join(bad)}; known: {', '.join(SECTIONS)}")
    try:
        a.rate_list = [int(x.replace("_", "")) for x in a.rates.split(",") if x.strip()] if a.rates else None
        a.search_args = [int(x.replace("_", "")) for x in a.search.split(",")]
    except ValueError:
        p.error("--rates/--search: comma-separated integers")
    if a.rate_list is not None and any(r <= 0 for r in a.rate_list):
        p.error("--rates must be positive")
    if len(a.search_args) != 3 or min(a.search_args) <= 0:
        p.error("--search: START,STEP,MAX, all positive")
    if a.duration is None:
        a.duration = 3 if a.quick else 10
    if a.repeat is None:
        a.repeat = 1 if a.quick else 3
    if a.duration < 1 or a.repeat < 1:
        p.error("--duration and --repeat must be >= 1")
    if a.workers is not None and a.workers < 1:
        p.error("--workers must be >= 1")
    return a


def _on_signal(signum, frame) -> None:
    raise Interrupted(signal.Signals(signum).name)


class Bench:
    def __init__(self, args: argparse.Namespace, target, tmp: Path) -> None:
        self.args, self.target, self.tmp = args, target, tmp
        self.rows: list[dict] = []
        self.raw: list[dict] = []
        self.peers: list[dict] = []
        self.errors: list[str] = []
        self.search: dict | None = None
        self.queue_result: dict | None = None
        self.extra: dict[str, dict] = {}     # startup, aggregationMemory (benchmarks/startup.py, aggregation_memory.py)

    def measure(self, spec: Spec) -> dict:
        runs = []
        for n in range(self.args.repeat):
            print(f"bench: {spec.label} [{n + 1}/{self.args.repeat}] ...", end="", flush=True)
            try:
                r = one_run(spec, self.target, self.tmp, n)
            except Interrupted:
                raise
            except Exception as exc:   # a failed run is reported, the others still run
                r = {"label": spec.label, "section": spec.section, "error": f"{type(exc).__name__}: {exc}"}
            runs.append(r)
            eff = r.get("efficiency")
            print(f" {num(r.get('achievedRateTarget'), ',.0f')}/s at the target"
                  + (f", efficiency {eff:.2%}" if eff is not None else "")
                  + (f", LG {r['loadGenCoresSteady']:.2f} cores" if r.get("loadGenCoresSteady") is not None else "")
                  + (f", ERROR: {r['error']}" if r.get("error") else "")
                  + (" (busy box)" if r.get("busyBox") else ""), flush=True)
            if r.get("error"):
                tail = (r.get("stderrTail") or "").strip()
                if tail:
                    print("  lunge-mp stderr (tail):\n    " + "\n    ".join(tail.splitlines()[-10:]), flush=True)
            if not self.target.alive:
                raise RuntimeError("the target died")
        self.raw.extend(runs)
        row = median_row(runs)
        self.rows.append(row)
        if row.get("error"):
            self.errors.append(f"{spec.label}: {row['error']}")
        return row

    def peer(self, fn, *a, **kw) -> None:
        runs = []
        for n in range(self.args.repeat):
            label = a[0]
            print(f"bench: peer {fn.__name__[4:]} {label} [{n + 1}/{self.args.repeat}] ...", end="", flush=True)
            try:
                r = fn(*a, **kw)
            except Interrupted:
                raise
            except Exception as exc:
                r = {"tool": fn.__name__[4:], "label": label, "error": f"{type(exc).__name__}: {exc}"}
            runs.append(r)
            print(f" {num(r.get('achievedRateTarget'), ',.0f')}/s, p99 {num(r.get('p99Ms'), '.2f')} ms"
                  + (f", ERROR: {r['error']}" if r.get("error") else ""), flush=True)
        ok = [r for r in runs if not r.get("error")] or runs
        row = dict(ok[len(ok) // 2])
        for k, v in list(row.items()):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                vals = [r[k] for r in ok if isinstance(r.get(k), (int, float))]
                row[k] = statistics.median(vals) if vals else v
        row["runs"] = runs
        self.peers.append(row)

    # -- sections --------------------------------------------------------------------------

    def closed(self) -> None:
        d = self.args.duration
        for transport in ("fast", "aiohttp"):
            text, info = closed_config(self.args.vus, d, transport)
            self.measure(Spec(f"closed {self.args.vus} VUs {transport} (1 core)", "closed", "closed",
                              text, info, d, pinned=True, workers=1))

    def open(self) -> None:
        d, w = self.args.duration, self.args.workers
        if self.args.rate_list:
            for rate in self.args.rate_list:
                self.measure(Spec(f"open {rate}/s", "open", "open", *open_config(rate, d), d, rate=rate, workers=w))
            return
        start, step, top = self.args.search_args
        tried, highest, rate = [], None, start
        while rate <= top:
            text, info = open_config(rate, d)
            row = self.measure(Spec(f"open {rate}/s", "open", "open", text, info, d, rate=rate, workers=w))
            tried.append(rate)
            eff = row.get("efficiency")
            if eff is not None and eff >= SEARCH_EFF and not row.get("error"):
                highest = rate
            elif rate >= 20_000:
                break
            rate += step
        if 20_000 not in tried and 20_000 <= top:        # the 20k bar is always measured
            self.measure(Spec("open 20000/s", "open", "open", *open_config(20_000, d), d, rate=20_000, workers=w))
        self.search = {"tried": tried, "highest": highest, "threshold": SEARCH_EFF}

    def latency(self) -> None:
        d = self.args.duration
        text, info = closed_config(200, d, "auto", "/delay/10")
        self.measure(Spec("latency 200 VUs /delay/10", "latency", "closed", text, info, d, pinned=True, workers=1))
        if shutil.which("wrk"):
            self.peer(run_wrk, "latency 200 VUs /delay/10", self.target.url + "/delay/10", 200, d,
                      self.target, self.tmp, True)

    def ramp(self) -> None:
        ramp_s = 6 if self.args.quick else 10
        hold_s = 3 if self.args.quick else 5
        text, info = ramp_config(1000, 10_000, ramp_s, hold_s)
        self.measure(Spec("ramp 1k->10k/s", "ramp", "open", text, info, ramp_s + hold_s, workers=self.args.workers))

    def coord(self) -> None:
        d = self.args.duration
        text, info = open_config(COORD_RATE, d)
        self.measure(Spec(f"coord {COORD_RATE // 1000}k/s", "coord", "open", text, info, d, rate=COORD_RATE,
                          workers=self.args.workers))

    def queue(self) -> None:
        from bench_queue import queue_section      # its own module: benchmarks/bench_queue.py
        self.queue_result = queue_section(self.args.duration, self.args.repeat, self.args.quick, self.args.workers)

    def startup(self) -> None:
        import startup as startup_bench
        print("bench: start-up to the first request, 2 workers ...", end="", flush=True)
        r = self.extra["startup"] = startup_bench.measure(self.target, repeat=max(3, self.args.repeat), workers=2)
        print(f" median {num(r['medianSeconds'], '.3f')} s of {r['seconds']}", flush=True)

    def aggmem(self) -> None:
        import aggregation_memory
        hours, unfolded = (3.0, 1.0) if self.args.quick else (24.0, 2.0)
        print(f"bench: aggregation memory over {hours:g} h of reports (unfolded: {unfolded:g} h) ...", flush=True)
        self.extra["aggregationMemory"] = aggregation_memory.measure(hours, unfolded, every=hours / 4)

    def peers_run(self) -> None:
        d = self.args.duration
        url = self.target.url
        if shutil.which("wrk"):
            self.peer(run_wrk, f"closed {self.args.vus} VUs fast (1 core)", url + "/", self.args.vus, d,
                      self.target, self.tmp, True)
        else:
            self.errors.append("peers: wrk is not installed (make bench-peers installs it)")
        if k6_binary():
            self.peer(run_k6, f"closed {self.args.vus} VUs fast (1 core)", url + "/",
                      {"executor": "constant-vus", "vus": self.args.vus, "duration": f"{d}s"}, d,
                      self.target, self.tmp, True)
            pre, mx = vu_pool(10_000)
            self.peer(run_k6, "open 10000/s", url + "/",
                      {"executor": "constant-arrival-rate", "rate": 10_000, "timeUnit": "1s", "duration": f"{d}s",
                       "preAllocatedVUs": pre, "maxVUs": mx}, d, self.target, self.tmp, False, rate=10_000)
            self.peer(run_k6, "latency 200 VUs /delay/10", url + "/delay/10",
                      {"executor": "constant-vus", "vus": 200, "duration": f"{d}s"}, d, self.target, self.tmp, True)
        else:
            self.errors.append("peers: k6 is not installed (make bench-peers installs it)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    stamp = _dt.datetime.now(_dt.timezone.utc)
    info = machine_info()
    print(f"bench: sections {','.join(args.sections)}{' + peers' if args.peers else ''}, {args.duration}s runs x "
          f"{args.repeat}, {info['cpuCount']} CPUs, Python {info['python']}, loadavg {info['loadavg'][0]:.2f}",
          flush=True)
    interrupted = None
    tmp = Path(tempfile.mkdtemp(prefix="lunge-bench-"))
    target = None
    bench = None
    try:
        target = start_target(port=0, workers=1)
        print(f"bench: target {target.url} (pid {target.pid})", flush=True)
        bench = Bench(args, target, tmp)
        for section in SECTIONS:
            if section in args.sections:
                getattr(bench, section)()
        if args.peers:
            bench.peers_run()
    except Interrupted as exc:
        interrupted = str(exc)
        print(f"\nbench: interrupted by {interrupted}; cleaning up", flush=True)
    except Exception as exc:
        if bench is not None:
            bench.errors.append(f"{type(exc).__name__}: {exc}")
        print(f"\nbench: error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if target is not None:
            target.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    if bench is None or not (bench.rows or bench.peers or bench.queue_result or bench.extra):
        print("bench: no run completed", file=sys.stderr)
        return 130 if interrupted else 1

    rows, peers = bench.rows, bench.peers
    lunge_by_label = {r["label"]: r for r in rows}
    verdicts = bars(rows, peers, bench.search) + (bench.queue_result or {}).get("bars", [])
    title = (f"lunge_mp self-benchmark, {stamp:%Y-%m-%d %H:%M:%S} UTC — "
             f"{'quick, ' if args.quick else ''}{args.duration}s per run, median of {args.repeat}, "
             f"{info['cpuCount']} CPUs, Python {info['python']}")
    print()
    print(title)
    if rows:
        print(text_table(COLUMNS, table_rows(rows)))
    if peers:
        print()
        print(text_table(PEER_COLUMNS, peer_rows(peers, lunge_by_label)))
    if bench.queue_result:
        print()
        print(bench.queue_result["md"])
    print()
    for b in verdicts:
        verdict = "n/a " if b["pass"] is None else ("PASS" if b["pass"] else "FAIL")
        print(f"  {verdict}  {b['bar']}: {b['shown']}")
    extras = extra_lines(bench.extra)
    for line in extras:
        print(f"  {line}")

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "schemaVersion": 2,
        "timestamp": stamp.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "interrupted": interrupted,
        "errors": bench.errors,
        "settings": {"sections": args.sections, "rates": args.rate_list, "search": args.search_args,
                     "duration": args.duration, "repeat": args.repeat, "vus": args.vus,
                     "workers": args.workers, "peers": args.peers, "targetWorkers": 1,
                     "pinned": {"loadGenerator": LG_CPU, "target": TARGET_CPU}},
        "achievedRateMethod": ("mean of the target's per-second request counts over the whole seconds "
                               "strictly between the first and the last second with traffic"),
        "machine": info,
        "bars": verdicts,
        "openSearch": bench.search,
        "rows": rows,
        "peers": peers,
        "queue": bench.queue_result,
        "runs": bench.raw,
        **bench.extra,
    }
    json_path = out_dir / f"bench-{stamp:%Y%m%dT%H%M%SZ}.json"
    json_path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    md = [f"# {title}", ""] + ([md_table(COLUMNS, table_rows(rows)), ""] if rows else [])
    if peers:
        md += ["Peers (same target, same pinning):", "", md_table(PEER_COLUMNS, peer_rows(peers, lunge_by_label)), ""]
    if bench.queue_result:
        md += [bench.queue_result["md"], ""]
    md += ["Acceptance bars:", "", bars_md(verdicts), "", *[f"- {line}" for line in extras],
           "" if extras else None,
           "Packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v)
           + (f"; wrk: {info['wrk']}" if info.get("wrk") else "") + (f"; k6: {info['k6']}" if info.get("k6") else ""),
           f"Commit: {info['git']['commit'] or '?'}{' (dirty tree)' if info['git']['dirty'] else ''}; "
           f"load average before: {info['loadavg'][0]:.2f}",
           f"Raw figures: `{json_path.name}`. Columns: see `benchmarks/README.md`."]
    if any(r.get("busyBox") for r in rows):
        md.append("\n\"(busy box)\": other processes used more than 15% of the machine's CPU during "
                  "at least one repeat; its figures are suspect.")
    if interrupted:
        md.append(f"\n**Interrupted ({interrupted}) — partial results.**")
    for e in bench.errors:
        md.append(f"\n**Error:** {e}")
    md = [line for line in md if line is not None]
    # a run of some sections only must not replace the tables of the last whole run
    latest = "latest.md" if set(args.sections) == set(SECTIONS) else f"latest-{'-'.join(args.sections)}.md"
    (out_dir / latest).write_text("\n".join(md) + "\n")
    print(f"\nbench: wrote {json_path} and {out_dir / latest}")
    for e in bench.errors:
        print(f"bench: error: {e}", file=sys.stderr)
    if interrupted:
        return 130
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
