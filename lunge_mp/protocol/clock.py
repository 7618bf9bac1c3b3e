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
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXCHANGES = 8                   # answered exchanges to take the best of
PROBE_TIMEOUT_NS = 1_000_000_000   # an unanswered probe is given up after this; the next goes out
MAX_PROBES = 3 * EXCHANGES      # then the estimate is made from what was answered (or none)
WARN_UNCERTAINTY_NS = 2_000_000  # beyond ±2 ms, per-second buckets may not line up: warned about


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
