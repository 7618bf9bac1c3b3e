"""Remote workers' clocks during the run: re-measured on the heartbeats, applied smoothly. Pure.

The handshake measured each remote worker's offset once (admission.py); clocks drift apart
over a long run. From the first heartbeat after Go, each remote worker has a `ClockTracker`
(protocol/clock.py): a probe rides on the coordinator's heartbeat to it, the answer on the
worker's next heartbeat; the offset is the minimum-round-trip sample of the last few, and the
offset applied moves towards it by at most 0.5 ms a second. Once it has moved, every
heartbeat carries the run's t0 on the worker's clock (`Heartbeat.t0_us`): arrivals dealt from
then on, per-second boundaries and deadlines follow it. A worker whose offset is known only to
more than ±2 ms during the run is warned about once. Each worker's offset history and drift
go into results.json (`clockHistory`, `clockDriftPpm`, `clockAppliedOffsetMs`).
"""

from __future__ import annotations

from lunge_mp.coordinator.outbox import Outbox
from lunge_mp.outcome import WorkerInfo
from lunge_mp.protocol import clock
from lunge_mp.protocol import messages as m


class ClockWatch:
    def __init__(self, estimates: dict[int, clock.Estimate], info: list[WorkerInfo], out: Outbox) -> None:
        self.estimates = estimates          # the handshake's, per remote worker (admission.py)
        self.info = info
        self.out = out
        self.trackers: dict[int, clock.ClockTracker] = {}
        self._warned: set[int] = set()
        self._t0: dict[int, int] = {}        # the t0 last moved to, per worker (µs, its clock)

    def heartbeat(self, worker: int, now: float, t0_us: int) -> m.Heartbeat:
        """The heartbeat to send to `worker`: with a probe when one is due, and its t0 anew
        when the applied offset moved (running only: `t0_us` set)."""
        if not t0_us or worker not in self.estimates:
            return m.Heartbeat()
        now_ns = int(now * 1e9)
        tracker = self.trackers.get(worker)
        if tracker is None:      # from Go on: the slew starts from the offset t0 was sent with
            tracker = self.trackers[worker] = clock.ClockTracker(self.estimates[worker], now_ns)
            self._history(worker, tracker, t0_us / 1e6)
        moved = tracker.slew(now_ns)
        if moved is not None:
            self.info[worker].clock_applied_ms = round(moved / 1e6, 3)
            self._t0[worker] = t0_us + moved // 1000
        # the t0 in force on every heartbeat, not only when it moves: a lost heartbeat (a
        # reconnection drops what was queued) must not leave a correction unapplied for good
        return m.Heartbeat(probe=tracker.probe(now_ns) or 0, t0_us=self._t0.get(worker, 0))

    def echoed(self, worker: int, beat: m.Heartbeat, now: float, t0: float) -> None:
        """A worker's heartbeat answering a probe (`t0`: the run's zero on the loop's clock)."""
        tracker = self.trackers.get(worker)
        if tracker is None or not beat.echo:
            return
        last = tracker.history[-1]
        answered = tracker.answered(beat.echo, beat.echo_received_ns, beat.echo_sent_ns, int(now * 1e9))
        if not answered or tracker.history[-1] is last:
            return       # no answer to a probe in flight, or the estimate did not change
        self._history(worker, tracker, t0)
        info, est = self.info[worker], tracker.estimate
        if est.uncertainty_ns > clock.WARN_UNCERTAINTY_NS and worker not in self._warned:
            self._warned.add(worker)
            self.out.log(f"worker {worker} ({info.name} on {info.host}): during the run its clock offset is "
                         f"known only to ± {est.uncertainty_ns / 1e6:.1f} ms (the best round trip of its last "
                         f"{est.samples} heartbeats was {est.rtt_ns / 1e6:.1f} ms): its arrivals may start up to "
                         f"that early or late, and its per-second buckets may not line up at the edges")

    def _history(self, worker: int, tracker: clock.ClockTracker, t0: float) -> None:
        info = self.info[worker]
        info.clock_history = [[round(t / 1e9 - t0, 3), round(off / 1e6, 3), round(unc / 1e6, 3)]
                              for t, off, unc in tracker.history]
        info.clock_drift_ppm = tracker.drift_ppm()
