"""Permits for closed-model requests, a worker's side: pure, time in integer nanoseconds.

Closed-model VUs loop as fast as the target answers, so the guardrails must hold them back
before each request (arrivals of the open model are capped by the coordinator instead):

TokenBucket (maxRate)
    One per closed scenario and worker, at that worker's share r of the scenario's share of
    maxRate. Each permit has a slot; slots are at least I = ⌈10⁹ / r⌉ ns apart (rounded up:
    the rate is never exceeded): s_{k+1} = max(s_k + I, h − E), where h is when the permit is
    handed out. A permit may be handed out up to E = `EARLY_NS` before its slot (the event
    loop's timers tick in whole milliseconds: without it, VUs finishing in the same loop turn
    would wait a millisecond each at any rate) and is never handed out later than E after it
    (slots a late timer missed are handed out, but no more than that). So |h − s| ≤ E, and
    any window [a, a+T) holds at most ⌈(T + 2E) / I⌉ ≤ ⌈r·(T + 2E)⌉ < r·T + r·2E + 1
    permits: with E = 1 ms, r·T + 1 up to r = 500/s, one more per 500/s of r above it.
    Over W workers that is at most R·T + R·2E + W: 1 s windows at R = 500/s hold at most 502. (A request leaves a little after its
    permit: the event loop's delay.)

Lease (maxTotalRequests)
    The worker's permits granted by the coordinator (`coordinator/permits.py` hands them out
    so that their sum never exceeds the limit). One is used per request; when what is left
    falls to half the last grant, the worker asks for more (one question at a time), sized to
    what it used over the last `LEASE_S` at its recent pace. When the coordinator says no more
    will come (`final`), the worker reports once more when it has used its last permit, so the
    coordinator knows the whole budget was sent.
"""

from __future__ import annotations

import math

EARLY_NS = 1_000_000   # a permit may go up to this long before (or after) its slot
LEASE_S = 0.5          # a grant covers about this long at the worker's pace
MIN_ASK = 16           # the smallest grant asked for (and the first one)
MAX_ASK = 50_000       # the largest


class TokenBucket:
    """At most one permit every `interval_ns` (see the module docstring)."""

    __slots__ = ("interval_ns", "early_ns", "next_ns")

    def __init__(self, rate_per_s: float, early_ns: int = EARLY_NS) -> None:
        if not rate_per_s > 0:
            raise ValueError(f"rate must be > 0, got {rate_per_s}")
        self.interval_ns = max(1, math.ceil(1e9 / rate_per_s))
        self.early_ns = early_ns
        self.next_ns = -(2**62)             # the first permit is due at once

    def take(self, now_ns: int) -> bool:
        """A permit now, if its slot is at most `early_ns` away (the next slot follows it)."""
        next_ns = self.next_ns
        if next_ns > now_ns + self.early_ns:
            return False
        slot = now_ns - self.early_ns
        self.next_ns = (next_ns if next_ns > slot else slot) + self.interval_ns
        return True

    def wait_ns(self, now_ns: int) -> int:
        """How long until a permit can be taken (0: now)."""
        return max(0, self.next_ns - self.early_ns - now_ns)


class Lease:
    """The permits the coordinator granted this worker for maxTotalRequests."""

    __slots__ = ("left", "used", "asked", "final", "reported", "low", "_mark_used", "_mark_ns")

    def __init__(self) -> None:
        self.left = 0               # permits granted and not used yet
        self.used = 0               # permits used so far (requests sent or about to be)
        self.asked = False          # a question is on its way: ask nothing more until answered
        self.final = False          # the coordinator has no more to give
        self.reported = False       # final: the last permit's use was reported
        self.low = 0                # ask for more when `left` falls to this
        self._mark_used = 0         # pace: permits used ...
        self._mark_ns: int | None = None    # ... since this instant (the last question)

    def take(self) -> bool:
        """Use one permit, if there is one."""
        if self.left > 0:
            self.left -= 1
            self.used += 1
            return True
        return False

    def ask(self, now_ns: int) -> int | None:
        """How many permits to ask the coordinator for now, or None (nothing to ask).

        0 after a final grant, once, when the last permit has been used: a report of `used`.
        """
        if self.asked:
            return None
        if self.final:
            if self.left == 0 and not self.reported:
                self.reported = self.asked = True
                return 0
            return None
        if self.left > self.low:
            return None
        want = MIN_ASK
        if self._mark_ns is not None and now_ns > self._mark_ns:
            pace = (self.used - self._mark_used) * 1e9 / (now_ns - self._mark_ns)
            want = min(MAX_ASK, max(MIN_ASK, math.ceil(pace * LEASE_S)))
        self._mark_used, self._mark_ns = self.used, now_ns
        self.asked = True
        return want

    def granted(self, permits: int, final: bool) -> None:
        """The coordinator's answer: `permits` more; `final`: none after these."""
        self.asked = False
        self.left += max(0, permits)
        self.low = max(0, permits) // 2
        self.final = self.final or final
