"""Failures of the load generator itself are not the target's: take them out of http_req_failed.

The transports classify EMFILE/ENFILE (out of file descriptors) and EADDRNOTAVAIL (out of
ephemeral ports) as class "generator": the request never reached the target. In every
`http_req_failed` block of a results document (run, scenarios, requests) they are moved
out of `byClass`, `firstError`, `count` and `rate` into a sibling `generator_errors`
block {count, firstError}, so thresholds on the failure rate judge the target only.
`http_reqs` still counts them (they were attempted). Pure.
"""

from __future__ import annotations

GENERATOR = "generator"


def _separate(block: dict) -> int:
    failed = block.get("http_req_failed")
    if not isinstance(failed, dict):
        return 0
    n = (failed.get("byClass") or {}).pop(GENERATOR, 0)
    first = (failed.get("firstError") or {}).pop(GENERATOR, None)
    block["generator_errors"] = {"count": n, "firstError": first}
    if n:
        failed["count"] = max(0, failed.get("count", 0) - n)
        requests = (block.get("http_reqs") or {}).get("count", 0)
        failed["rate"] = round(failed["count"] / requests, 6) if requests else 0.0
    return n


def separate(results: dict) -> str | None:
    """Apply to the whole document; returns a warning when there were any."""
    total = _separate(results.get("metrics") or {})
    for group in ("scenarios", "requests"):
        for block in (results.get(group) or {}).values():
            if isinstance(block, dict):
                _separate(block)
    if not total:
        return None
    first = results["metrics"]["generator_errors"]["firstError"]
    return (f"{total:,} request(s) failed in the load generator itself (out of sockets or ports: "
            f"{first}); they are counted apart in generator_errors, not as the target's failures. "
            f"Raise the open-file limit, use fewer connections, or spread the load over more boxes")
