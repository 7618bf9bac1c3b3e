"""guardrails.maxTotalRequests across the run: the coordinator's ledger of permits (pure).

Every request the run may send is handed out once, from one budget of `cap` requests:
open-model arrivals take theirs when they are dealt (arrivals × requests per iteration),
closed-model workers take leases (`PermitRequest` → `PermitGrant`) and use one permit per
request, redirect hops included (`schedule/permits.py` is the worker's side).

    open + Σ granted ≤ cap            after every call (the property tests check it)

A grant is at most what the worker asked for and at most ⌈left ÷ (2·live workers)⌉, so the
last of the budget goes out in ever smaller leases and no worker sits on much of it while
another waits. A lost worker's lease stays counted as granted (whether it was sent is not
known), so nothing is ever handed out twice. The budget is used up (`used_up`) when nothing
is left to hand out and every live worker has reported using all of its lease.
"""

from __future__ import annotations


class PermitLedger:
    def __init__(self, cap: int) -> None:
        if cap < 0:
            raise ValueError(f"cap must be >= 0, got {cap}")
        self.cap = cap
        self.open = 0                            # requests of the open-model arrivals dealt
        self.granted: dict[int, int] = {}        # worker → permits granted in all
        self.used: dict[int, int] = {}           # worker → permits it has reported using
        self._granted_total = 0

    @property
    def left(self) -> int:
        """What can still be handed out."""
        return self.cap - self.open - self._granted_total

    def take_open(self, requests: int) -> int:
        """Open-model arrivals worth `requests`: how many of those requests fit (all or fewer)."""
        fit = max(0, min(requests, self.left))
        self.open += fit
        return fit

    def grant(self, worker: int, used: int, want: int, live: int) -> tuple[int, bool]:
        """A worker that has used `used` permits asks for `want` more: (permits given, final).

        `final`: nothing is left, none will come after these."""
        self.used[worker] = max(self.used.get(worker, 0), used)
        left = self.left
        fair = -(-left // (2 * max(1, live)))
        given = max(0, min(want, left, fair))
        if given:
            self.granted[worker] = self.granted.get(worker, 0) + given
            self._granted_total += given
        return given, self.left == 0

    def outstanding(self, live: list[int]) -> int:
        """Permits the live workers hold and have not reported using."""
        return sum(max(0, self.granted.get(w, 0) - self.used.get(w, 0)) for w in live)

    def used_up(self, live: list[int]) -> bool:
        """Nothing left to hand out, and the live workers have used all they were given."""
        return self.left == 0 and self.outstanding(live) == 0
