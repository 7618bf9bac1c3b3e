"""What a worker does when its coordinator is silent (the I/O side; the decisions about
parking are worker/parking.py's).

- After LOST_AFTER_S (3 s, when the coordinator takes the worker for lost and gives its
  closed-model VUs to the others) it parks its closed-model VUs (`park_when_silent`); when
  it hears the coordinator again it runs them as the coordinator now says (`heard_again`,
  `told`). Local and remote workers alike: a local worker's coordinator silent for 3 s is
  stuck or gone, and starting nothing new is the safe choice either way.
- After COORDINATOR_TIMEOUT_S (a remote worker: REMOTE_COORDINATOR_TIMEOUT_S), or when its
  parent is no longer the coordinator, it exits (`watchdog`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import zmq

Worker = Any        # worker/main.py's Worker (not imported: main imports this module)

COORDINATOR_TIMEOUT_S = 5.0
# a remote worker rides out a short network partition (the coordinator takes it for lost after
# 3 s and takes it back when it speaks again); its closed-model VUs are parked meanwhile
REMOTE_COORDINATOR_TIMEOUT_S = 10.0
PARK_CHECK_S = 0.05       # how soon after the silence limit the VUs park (and the poll while cut off)


def _say(w: Worker, text: str) -> None:
    print(f"worker {w.remote.name if w.remote is not None else w.id}: {text}", file=sys.stderr, flush=True)


async def park_when_silent(w: Worker) -> None:
    """Park the closed-model VUs once the coordinator has been silent for the limit; from Go
    until the worker stops."""
    while not w.stopping:
        wait = w.last_heard + w.parking.limit_s - time.monotonic()
        # cut off already, or messages wait unread (this process was stopped or late): look later
        if wait > 0 or w.parking.cut_off or w.sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            await asyncio.sleep(max(wait, 0.0) + PARK_CHECK_S)
            continue
        running = {name: not c.iteration_based for name, c in w.closed.items() if not c.ending}
        silent_s = time.monotonic() - w.last_heard
        names = w.parking.silence(silent_s, running)
        for name in names:
            w.closed[name].park()
        if names:
            _say(w, f"nothing heard from the coordinator for {silent_s:.1f}s: closed-model VUs parked "
                    f"(no new iterations) in {', '.join(names)}")


def heard_again(w: Worker, silent_s: float) -> None:
    """The coordinator speaks after a silence that parked the VUs: the iteration-based
    scenarios run again; the time-based ones wait for their share (`told`)."""
    now = w.parking.heard()
    for name in now:
        w.closed[name].unpark()
    waiting = list(w.parking.parked)
    if not now and not waiting:         # nothing was parked (open-model scenarios only)
        return
    _say(w, f"the coordinator spoke again after {silent_s:.1f}s"
            + (f"; running again: {', '.join(now)}" if now else "")
            + (f"; parked until it sends the VU share of {', '.join(waiting)}" if waiting else ""))


def told(w: Worker, name: str, what: str) -> None:
    """The coordinator set a scenario's VUs or ended it: a parked one runs as told."""
    if w.parking.told(name):
        w.closed[name].unpark()
        _say(w, f"scenario {name} unparked: {what}")


async def watchdog(w: Worker) -> None:
    """Exit when the coordinator is gone: parent changed, or silent for too long."""
    ticked = time.monotonic()
    while True:
        await asyncio.sleep(0.5)
        now = time.monotonic()
        frozen = now - ticked > 1.5          # this process did not run (SIGSTOP, a paused VM)
        ticked = now
        if frozen:
            # give ZeroMQ's I/O thread a turn to take in what waited in the kernel meanwhile
            continue
        silent = now - w.last_heard if w.hello_sent or w.remote is not None else 0.0
        limit = COORDINATOR_TIMEOUT_S
        if w.remote is not None:
            if not w.heard_any:          # the coordinator may start later
                silent -= max(0.0, w.remote.wait_s - COORDINATOR_TIMEOUT_S)
            else:
                limit = REMOTE_COORDINATOR_TIMEOUT_S
        # resumed after a stop (SIGSTOP) with messages waiting: read them before judging
        waiting = silent > limit and w.sock.getsockopt(zmq.EVENTS) & zmq.POLLIN
        if os.getppid() != w.parent or (silent > limit and not waiting):
            gone = "coordinator gone" if w.heard_any else f"no coordinator answered at {w.endpoint}"
            try:
                print(f"worker {w.remote.name if w.remote else w.id}: {gone}, exiting", file=sys.stderr)
                w._interrupt_all()  # noqa: SLF001
            finally:    # leave even when that line cannot be written (EPIPE: no reader left)
                os._exit(3)
