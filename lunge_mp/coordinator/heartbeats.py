"""A worker's heartbeat on the coordinator (the core passes each one here): its CPU, loop lag
and memory; a remote worker's clock (clock_watch.py); its guardrail permit waits; and, from a
worker whose time-based closed-model VUs are parked after a silence (worker/parking.py), a
request for its VU share. Pure, like the core.

A parked worker the coordinator took for lost has rejoined by now (the core's `_rejoin`, on
this very message), and its share goes out with the re-split of the next tick; one never taken
for lost (its silence was shorter on this side) is sent the split in force, to it alone.
Either way its VUs run again, as many as the coordinator now gives it.
"""

from __future__ import annotations

from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State


def received(core, worker: int, msg: m.Heartbeat, now: float) -> None:
    info = core.info[worker]
    info.cpu_percent, info.loop_lag_ms, info.rss_mb = msg.cpu_percent, msg.loop_lag_ms, msg.rss_mb
    if msg.echo and core.remote is not None:        # its clock, re-measured (clock_watch.py)
        core.remote.clocks.echoed(worker, msg, now, core.t0 or 0.0)
    core.guard.permit_waits(worker, msg.permit_wait_s, msg.permit_waits)
    if msg.parked and core.sessions[worker].state is State.RUNNING and core.t0 is not None:
        core.dealer.resend_vus(worker, core.t(now))
