"""An example consumer that processes jobs from a Redis queue at a fixed rate.

    python scripts/queue_consumer.py --url redis://127.0.0.1:6379/0 --key jobs --rate 300

Run it beside a queue load test (configs/queue-sine.yaml): while lunge_mp enqueues above
`--rate`, the backlog grows; below it, the consumer drains it. The report's chart "enqueue
rate, processing rate and queue depth" shows both.

Kinds: `list` (RPOP: the oldest of an LPUSH queue), `stream` (XREADGROUP + XACK in group
`--group`, created if missing), `zset` (delayed jobs: ZPOPMIN of those whose score, unix ms,
is due). Every 10 ms it takes the jobs it owes at `--rate` (at most `--rate` a second, never a
burst to catch up on a second it found the queue empty). Stops at `--duration` or Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

import redis

TICK_S = 0.01


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--key", default="jobs")
    ap.add_argument("--kind", choices=("list", "stream", "zset"), default="list")
    ap.add_argument("--rate", type=float, default=300.0, help="jobs per second")
    ap.add_argument("--group", default="workers", help="stream consumer group")
    ap.add_argument("--duration", type=float, default=0.0, help="seconds (0: until Ctrl-C)")
    args = ap.parse_args(argv)
    r = redis.Redis.from_url(args.url)
    if args.kind == "stream":
        try:
            r.xgroup_create(args.key, args.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    start = time.monotonic()
    owed = 0.0
    done = 0
    last = start
    while not stop and (not args.duration or time.monotonic() - start < args.duration):
        time.sleep(TICK_S)
        now = time.monotonic()
        owed = min(owed + (now - last) * args.rate, args.rate * TICK_S * 2)   # no catch-up burst
        last = now
        n = int(owed)
        if n <= 0:
            continue
        try:
            got = take(r, args, n)
        except redis.ConnectionError:
            time.sleep(0.2)
            continue
        owed -= got
        done += got
    print(f"processed {done} jobs in {time.monotonic() - start:.1f}s", file=sys.stderr)
    return 0


def take(r: redis.Redis, args: argparse.Namespace, n: int) -> int:
    if args.kind == "list":
        jobs = r.rpop(args.key, n)
        return len(jobs or [])
    if args.kind == "zset":
        due = r.zrangebyscore(args.key, "-inf", int(time.time() * 1000), start=0, num=n)
        return r.zrem(args.key, *due) if due else 0
    reply = r.xreadgroup(args.group, "consumer-1", {args.key: ">"}, count=n)
    ids = [entry_id for _, entries in reply or [] for entry_id, _ in entries]
    if ids:
        r.xack(args.key, args.group, *ids)
    return len(ids)


if __name__ == "__main__":
    sys.exit(main())
