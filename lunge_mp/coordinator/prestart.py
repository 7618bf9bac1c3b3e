"""Worker processes started before the config is read, so their start-up overlaps the
coordinator's (a worker's imports take ~0.1-0.2 s of CPU; the config takes milliseconds to a
fraction of a second). On Linux they are forks of the CLI process made after the imports both
sides need (coordinator/forking.py); elsewhere `python -m lunge_mp.worker` processes.

`run` and `perf` call `start(n)` first thing; the Coordinator `take(n)`s that pool instead of
spawning its own. The workers connect to an endpoint nobody listens on yet (ZeroMQ retries
every 10 ms: worker/main.py) and say Hello once the coordinator binds. If the run never
starts (an invalid config), the pool is stopped when the process exits; the workers, never
sent Start, exit without sending anything anywhere.
"""

from __future__ import annotations

import atexit

from lunge_mp.coordinator import forking
from lunge_mp.coordinator.pool import WorkerPool

_pool: WorkerPool | None = None


def start(count: int, worker_main: forking.WorkerMain | None = None) -> None:
    """Start `count` workers now (once per process): forks running `worker_main(endpoint, id, pid)`
    where that is safe (forking.py), else spawned processes."""
    global _pool
    if _pool is None:
        _pool = WorkerPool(count)
        if worker_main is not None and forking.usable():   # after the imports both sides need
            forking.preload()
            _pool.fork(worker_main)
        else:
            _pool.spawn()
        atexit.register(_stop_unused)


def adopt(pool) -> None:
    """Use `pool` (a RemoteWorkers of `run --listen`): its local workers start now."""
    global _pool
    if _pool is None:
        _pool = pool
        pool.spawn()
        atexit.register(_stop_unused)


def remote_count() -> int:
    """How many of the run's workers join from other machines (run --listen), so far as known."""
    return getattr(_pool, "remote", 0)


def take(count: int) -> WorkerPool | None:
    """The pool started early, if it has `count` workers (else it is stopped: None)."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None and pool.count != count:
        pool.stop(grace_s=0)
        return None
    return pool


def _stop_unused() -> None:
    global _pool
    if _pool is not None:
        _pool.stop(grace_s=0)
        _pool = None
