"""Requests that waited for a connection because of settings.maxConnectionsPerHost. Pure.

With no cap (the default) a worker opens a connection for each request that finds none idle,
so the connections follow the VUs. A configured cap makes the requests beyond it queue for a
connection; the fast transport counts them (`http_req_queued`) and times the wait
(`http_req_blocked`). A closed-model run whose requests queue runs fewer requests at once than
it has VUs, so it must say so: live once, and in the results with the final share.
"""

from __future__ import annotations


def _setting(cap: int, workers: int) -> str:
    each = max(1, -(-cap // max(1, workers)))
    return (f"settings.maxConnectionsPerHost is {cap:,}" +
            (f" ({each:,} per worker over {workers} workers)" if workers > 1 else ""))


def warning(cap: int, workers: int, queued: int, requests: int, final: bool = True) -> str | None:
    """The warning for `queued` of `requests` having waited at the cap, or None if none did."""
    if not queued or not requests:
        return None
    share = queued / requests
    when = "" if final else " so far"
    return (f"{_setting(cap, workers)}: {share:.1%} of requests ({queued:,} of {requests:,}){when} "
            f"waited for a connection, so fewer requests ran at once than VUs asked for; the waits are in "
            f"http_req_blocked, not in the service time. Raise maxConnectionsPerHost, or leave it out "
            f"(no cap: connections follow the load)")


class LiveWatch:
    """Says the warning once while the run goes, the first second any request has queued."""

    def __init__(self, cap: int, workers: int) -> None:
        self.cap, self.workers, self.said = cap, workers, False

    def check(self, counters: dict) -> str | None:
        if self.said or not self.cap:
            return None
        text = warning(self.cap, self.workers, counters.get("queued", 0), counters.get("requests", 0),
                       final=False)
        self.said = text is not None
        return text
