"""A worker's clock offset and round-trip time, from timestamped exchanges (NTP's on-wire method).

Each host has its own monotonic clock. In one exchange the coordinator sends a probe at t1 (its
clock), the worker receives it at t2 and answers at t3 (its clock), the answer arrives at t4:

    round trip  δ = (t4 − t1) − (t3 − t2)
    offset      θ = ((t2 − t1) + (t3 − t4)) / 2        (worker clock − coordinator clock)

Whatever the asymmetry of the path, the true offset lies in [θ − δ/2, θ + δ/2]; so of several
exchanges the one with the smallest δ is the best, and δ/2 its uncertainty (NTP's clock filter
keeps the minimum-delay sample the same way). A coordinator instant t is the worker's t + θ.

Pure: no sockets, no clock of its own — every instant is an argument (sans-IO). `ClockProbe`
says when to send which probe; the caller sends it, and feeds the answers back.

Clocks drift apart (tens of ppm: a few ms an hour), so during the run `ClockTracker` goes on
measuring: one exchange riding on the heartbeats both sides send anyway (the coordinator's
carries a probe; the worker's next one, up to a second later, its t2 and t3: the time it held
the probe is subtracted like any other). The estimate is the minimum-round-trip sample of the
last WINDOW exchanges (the handshake's estimate among them at first). The offset applied to
the worker (its t0) moves towards the estimate by at most SLEW of the time passed (0.5 ms a
second), never in a jump: for arrivals a1 < a2 dealt one after the other, the worker's instants
keep their order, so no arrival instant of a worker ever moves back before one already given.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

EXCHANGES = 8                   # answered exchanges to take the best of
PROBE_TIMEOUT_NS = 1_000_000_000   # an unanswered probe is given up after this; the next goes out
MAX_PROBES = 3 * EXCHANGES      # then the estimate is made from what was answered (or none)
WARN_UNCERTAINTY_NS = 2_000_000  # beyond ±2 ms, per-second buckets may not line up: warned about
WINDOW = 8                      # during the run: the estimate is the best of the last 8 exchanges
ECHO_TIMEOUT_NS = 3_000_000_000  # a heartbeat probe is answered by the worker's next heartbeat (≤ 1 s)
SLEW = 0.0005                   # the applied offset moves at most 0.5 ms per second (500 ppm)
HISTORY = 64                    # offset history entries kept per worker (thinned beyond)
DRIFT_AFTER_NS = 60_000_000_000  # a drift is reported once the history spans a minute


@dataclass(frozen=True)
class Sample:
    t1: int     # probe sent (coordinator clock, ns)
    t2: int     # probe received (worker clock)
    t3: int     # answer sent (worker clock)
    t4: int     # answer received (coordinator clock)

    @property
    def rtt_ns(self) -> int:
        return (self.t4 - self.t1) - (self.t3 - self.t2)

    @property
    def offset_ns(self) -> int:
        return ((self.t2 - self.t1) + (self.t3 - self.t4)) // 2


@dataclass(frozen=True)
class Estimate:
    offset_ns: int          # worker clock − coordinator clock
    rtt_ns: int             # of the sample used (the smallest)
    uncertainty_ns: int     # the true offset is within offset ± this (rtt / 2)
    samples: int            # answered exchanges it was chosen from

    def to_worker(self, coordinator_ns: int) -> int:
        """A coordinator-clock instant on the worker's clock."""
        return coordinator_ns + self.offset_ns


SAME_CLOCK = Estimate(offset_ns=0, rtt_ns=0, uncertainty_ns=0, samples=0)   # a worker on this host


def estimate(samples: list[Sample]) -> Estimate:
    """The minimum-round-trip sample's offset. Samples with a negative round trip (a worker
    that answered before it was asked: a lying or broken clock) are ignored."""
    valid = [s for s in samples if s.rtt_ns >= 0]
    if not valid:
        raise ValueError("no valid clock sample")
    best = min(valid, key=lambda s: s.rtt_ns)
    return Estimate(offset_ns=best.offset_ns, rtt_ns=best.rtt_ns,
                    uncertainty_ns=(best.rtt_ns + 1) // 2, samples=len(valid))


@dataclass
class ClockProbe:
    """One worker's exchanges, one probe in flight at a time.

        seq = probe.next_probe(now)        # a probe to send now, or None (waiting, or done)
        probe.answered(seq, t2, t3, now)   # its answer arrived
        probe.done → probe.result()        # the estimate (None if nothing was answered)
    """
    exchanges: int = EXCHANGES
    timeout_ns: int = PROBE_TIMEOUT_NS
    max_probes: int = MAX_PROBES
    samples: list[Sample] = field(default_factory=list)
    _sent: dict[int, int] = field(default_factory=dict)   # seq → t1
    _in_flight: int | None = None
    _probes: int = 0

    @property
    def done(self) -> bool:
        return len(self.samples) >= self.exchanges or (
            self._probes >= self.max_probes and self._in_flight is None)

    def next_probe(self, now_ns: int) -> int | None:
        if self._in_flight is not None:
            if now_ns - self._sent[self._in_flight] < self.timeout_ns:
                return None
            self._in_flight = None          # given up: a late answer is ignored
        if self.done:
            return None
        seq = self._probes
        self._probes += 1
        self._sent[seq] = now_ns
        self._in_flight = seq
        return seq

    def answered(self, seq: int, t2: int, t3: int, now_ns: int) -> bool:
        """False for an answer to a probe not in flight (late, repeated or never sent)."""
        if seq != self._in_flight:
            return False
        self._in_flight = None
        self.samples.append(Sample(self._sent[seq], t2, t3, now_ns))
        return True

    def result(self) -> Estimate | None:
        try:
            return estimate(self.samples)
        except ValueError:
            return None


@dataclass
class ClockTracker:
    """One remote worker's offset during the run, from its handshake estimate on.

        seq = tracker.probe(now)              # a probe to ride on the next heartbeat, or None
        tracker.answered(seq, t2, t3, now)    # the worker's heartbeat brought its answer
        offset = tracker.slew(now)            # the offset to apply now, if it moved
    """
    start: Estimate
    started_ns: int                   # when the handshake estimate was made (coordinator clock)
    applied_ns: int = 0               # the offset the worker's t0 carries now
    window: deque = field(default_factory=lambda: deque(maxlen=WINDOW))   # (rtt, offset) pairs
    history: list = field(default_factory=list)   # [t_ns, offset_ns, uncertainty_ns] per estimate change
    _in_flight: tuple[int, int] | None = None     # (seq, t1)
    _seq: int = 0
    _slewed_at: int = 0

    def __post_init__(self) -> None:
        self.applied_ns = self.start.offset_ns
        self._slewed_at = self.started_ns
        self.window.append((self.start.rtt_ns, self.start.offset_ns))
        self.history.append([self.started_ns, self.start.offset_ns, self.start.uncertainty_ns])

    @property
    def estimate(self) -> Estimate:
        rtt, offset = min(reversed(self.window), key=lambda e: e[0])     # ties: the newest
        return Estimate(offset_ns=offset, rtt_ns=rtt, uncertainty_ns=(rtt + 1) // 2, samples=len(self.window))

    def probe(self, now_ns: int) -> int | None:
        if self._in_flight is not None and now_ns - self._in_flight[1] < ECHO_TIMEOUT_NS:
            return None
        self._seq += 1
        self._in_flight = (self._seq, now_ns)
        return self._seq

    def answered(self, seq: int, t2: int, t3: int, now_ns: int) -> bool:
        """False for an answer to no probe in flight (late, repeated, or a lying clock)."""
        if self._in_flight is None or seq != self._in_flight[0]:
            return False
        sample = Sample(self._in_flight[1], t2, t3, now_ns)
        self._in_flight = None
        if sample.rtt_ns < 0:
            return False
        before = self.estimate
        self.window.append((sample.rtt_ns, sample.offset_ns))
        after = self.estimate
        if (after.offset_ns, after.uncertainty_ns) != (before.offset_ns, before.uncertainty_ns):
            self.history.append([now_ns, after.offset_ns, after.uncertainty_ns])
            if len(self.history) > HISTORY:      # keep the first and every other one after it
                self.history[1:] = self.history[2::2] if len(self.history) % 2 else self.history[1::2]
        return True

    def slew(self, now_ns: int) -> int | None:
        """The offset to apply from now, moved towards the estimate by at most SLEW of the time
        since the last move; None if it did not move (by a whole microsecond: t0 is in µs)."""
        room = int((now_ns - self._slewed_at) * SLEW)     # never saved up: a late change moves slowly too
        self._slewed_at = now_ns
        step = max(-room, min(room, self.estimate.offset_ns - self.applied_ns))
        if abs(step) < 1000:
            return None
        self.applied_ns += step
        return self.applied_ns

    def drift_ppm(self) -> float | None:
        """How fast the estimate moved from the handshake's to the latest (µs per second), once
        they are DRIFT_AFTER_NS apart (before, the uncertainties would swamp it: ±0.5 ms over
        a minute is ±8 ppm)."""
        first, last = self.history[0], self.history[-1]
        elapsed = last[0] - first[0]
        return round((last[1] - first[1]) / elapsed * 1e6, 1) if elapsed >= DRIFT_AFTER_NS else None
