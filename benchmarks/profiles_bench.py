"""Saved profiles at seed 004's scale: 1,000 profiles; list under 100 ms, save and load under 10 ms.

Fills a fresh store (a real SQLite file in a temporary folder, WAL, the key in a 0600 key file)
with 1,000 profiles of a realistic config with three secrets, then times:

- save: `ProfileStore.save` of a new profile (secrets found, encrypted, one write transaction)
  on an open store, as the API keeps it; and opening and closing the store around each save,
  as one CLI command does (its fsyncs: the WAL made anew, a checkpoint at the last close);
- load: `get` + `reveal` (read, decompress, decrypt: what a run needs), the same two ways;
- list: `profiles()` of all 1,000 (what `profile list` and GET /profiles read).

Prints median and p95 of each, and one PASS/FAIL line per bar on the open store (the bars
are the store's; a CLI command adds its open and close, and Python's start-up, to them).
Run it under the bench lock:
    flock /tmp/lunge-bench.lock .venv/bin/python benchmarks/profiles_bench.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lunge_mp.store.profile_crypto import KeyRing  # noqa: E402
from lunge_mp.store.profiles import ProfileStore  # noqa: E402

BARS_MS = {"list": 100.0, "save": 10.0, "load": 10.0}


def config(i: int) -> dict:
    return {
        "name": f"service {i} nightly",
        "description": "a nightly regression test of one service",
        "settings": {"baseUrl": f"https://svc{i}.staging.example.com", "timeout": "10s",
                     "headers": {"Authorization": f"Bearer token-{i:06d}-abcdefghijklmnop",
                                 "Accept": "application/json"}},
        "variables": {"api_key": {"value": f"key-{i:06d}-qrstuvwxyz", "secret": True}, "region": "eu"},
        "scenarios": {
            "browse": {"executor": "ramping-arrival-rate", "startRate": 10, "preAllocatedVUs": 50,
                       "maxVUs": 200, "stages": [{"duration": "1m", "target": 200},
                                                 {"duration": "5m", "target": 200},
                                                 {"duration": "1m", "target": 0}],
                       "requests": [{"name": f"GET /items/{k}", "url": f"/items/{k}?page={{{{iteration}}}}",
                                     "headers": {"X-Api-Key": "{{api_key}}"},
                                     "assertions": [{"type": "status", "condition": "eq", "value": "200"}]}
                                    for k in range(5)]},
            "checkout": {"executor": "pattern", "preAllocatedVUs": 20, "maxVUs": 100,
                         "pattern": {"type": "sine", "duration": "10m", "baseRate": 50, "amplitude": 25,
                                     "period": "2m"},
                         "requests": [{"url": "/checkout", "method": "POST",
                                       "body": {"cart": [1, 2, 3], "coupon": "NONE"}}]}},
        "thresholds": {"http_req_duration": ["p95 < 500ms"], "http_req_failed": ["rate < 0.01"]},
    }


def ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profiles", type=int, default=1000, help="how many profiles (default 1000)")
    p.add_argument("--lists", type=int, default=30, help="how many times to time list (default 30)")
    p.add_argument("--loads", type=int, default=300, help="how many loads to time (default 300)")
    args = p.parse_args(argv)
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="lunge-profiles-bench-") as tmp:
        db = Path(tmp) / "history.db"
        env: dict[str, str] = {}
        configs = [config(i) for i in range(args.profiles)]
        with ProfileStore(db) as store:
            saves = [timed(store.save, f"profile-{i:04d}", configs[i], by="bench", keys=KeyRing(db, env),
                           tags=["nightly", f"team-{i % 10}"], description=f"profile {i}")
                     for i in range(args.profiles)]
            rows.append(("save", f"new profile, open store (x{len(saves)})", *ms(saves)))
            lists = [timed(store.profiles) for _ in range(args.lists)]
            rows.append(("list", f"all {len(store.profiles())} profiles (x{len(lists)})", *ms(lists)))
            names = [f"profile-{random.randrange(args.profiles):04d}" for _ in range(args.loads)]
            loads = [timed(lambda n: store.get(n).reveal(KeyRing(db, env)), n) for n in names]
            rows.append(("load", f"get + decrypt, open store (x{len(loads)})", *ms(loads)))

        def save_fresh(i: int) -> None:
            with ProfileStore(db) as store:
                store.save(f"profile-{i:04d}", configs[i], by="bench", keys=KeyRing(db, env))

        def load_fresh(name: str) -> None:
            with ProfileStore(db) as store:
                store.get(name).reveal(KeyRing(db, env))

        fresh = [timed(save_fresh, i) for i in range(0, args.profiles, max(1, args.profiles // 100))]
        rows.append(("save*", f"next version, store opened per call (x{len(fresh)})", *ms(fresh)))
        fresh = [timed(load_fresh, n) for n in names[:100]]
        rows.append(("load*", f"get + decrypt, store opened per call (x{len(fresh)})", *ms(fresh)))
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
    print(f"\n  profiles benchmark: {args.profiles} profiles, store {size / 1e6:.1f} MB "
          f"(the machine is shared: figures are noisy; compare medians)\n")
    print(f"  {'op':<5} {'what':<52} {'median':>9} {'p95':>9}")
    for op, what, median, p95 in rows:
        print(f"  {op:<5} {what:<52} {median:>7.2f}ms {p95:>7.2f}ms")
    print("  * a CLI command's share: the store opened and closed around the operation\n")
    for op, bar in BARS_MS.items():
        worst = max(median for o, _, median, _ in rows if o == op)
        print(f"  {'PASS' if worst < bar else 'FAIL'}  {op}: median {worst:.2f} ms < {bar:.0f} ms (seed 004)")
    return 0        # the bars are reported, never the exit code (as in bench.py)


if __name__ == "__main__":
    sys.exit(main())
