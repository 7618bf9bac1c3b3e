"""The handshake before a run: Hello → Start → Ready from every worker, then Go(t0). Pure.

Each worker has a `Joining` record: when its Start went out, its Start → Ready round trip,
and its clock's offset from the coordinator's (0 for a worker on this box: one monotonic
clock). `Go` carries t0 on the worker's own clock, so a step that measures the offset (a
remote worker) only has to fill `clock_offset_us`. t0 is set a moment ahead, so every worker
has Go before t0: twice the slowest round trip (a message each way plus the worker's own
set-up), within START_DELAY_S and MIN_START_DELAY_S.
"""

from __future__ import annotations

from dataclasses import dataclass

from lunge_mp.protocol import messages as m

HANDSHAKE_TIMEOUT_S = 20.0
START_DELAY_S = 0.3
MIN_START_DELAY_S = 0.02


@dataclass
class Joining:
    start_sent: float | None = None      # when Start went out (the loop's monotonic seconds)
    round_trip: float | None = None      # Start → Ready
    clock_offset_us: int = 0             # the worker's clock minus the coordinator's


class Handshake:
    def __init__(self, workers: int, timeout_s: float = HANDSHAKE_TIMEOUT_S) -> None:
        self.joining = [Joining() for _ in range(workers)]
        self.deadline: float | None = None
        self.timeout_s = timeout_s        # run --listen: --wait (remote workers join meanwhile)

    def begin(self, now: float) -> None:
        if self.deadline is None:
            self.deadline = now + self.timeout_s

    def timed_out(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def start_sent(self, worker: int, now: float) -> None:
        self.joining[worker].start_sent = now

    def ready(self, worker: int, now: float) -> None:
        j = self.joining[worker]
        if j.start_sent is not None:
            j.round_trip = now - j.start_sent

    def start_delay(self) -> float:
        """Seconds from Go to t0."""
        slowest = max((j.round_trip or 0.0 for j in self.joining), default=0.0)
        return min(START_DELAY_S, max(MIN_START_DELAY_S, 2 * slowest))

    def go(self, worker: int, t0_us: int) -> m.Go:
        return m.Go(t0_us=t0_us + self.joining[worker].clock_offset_us)
