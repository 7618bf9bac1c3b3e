"""Failures of the load generator itself are not the target's: take them out of http_req_failed.

The transports classify EMFILE/ENFILE (out of file descriptors) and EADDRNOTAVAIL (out of
ephemeral ports) as class "generator": the request never reached the target. In every
`http_req_failed` block of a results document (run, scenarios, requests) they are moved
out of `byClass`, `firstError`, `count` and `rate` into a sibling `generator_errors`
block {count, firstError}, so thresholds on the failure rate judge the target only.
`http_reqs` still counts them (they were attempted). Pure.

Everything that judges the target's failures sees the same split: report/results.py builds
every block (the run's end and the live ones abortOnFail reads) through `separate_block`,
and the 1-second buckets (windowed thresholds, error bursts, charts) count them in
`generatorErrors`, not in `failures` or `errors`.
"""

from __future__ import annotations

from lunge_mp.metrics.names import GENERATOR_FAILURE

GENERATOR = GENERATOR_FAILURE


def separate_block(block: dict) -> int:
    """Move one block's generator errors apart; returns how many. Idempotent: a block already
    separated (it has `generator_errors` and no "generator" class left) is left as it is."""
    failed = block.get("http_req_failed")
    if not isinstance(failed, dict):
        return 0
    done = block.get("generator_errors")
    if isinstance(done, dict) and GENERATOR not in (failed.get("byClass") or {}):
        return done.get("count", 0)
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
    total = separate_block(results.get("metrics") or {})
    for group in ("scenarios", "requests"):
        for block in (results.get(group) or {}).values():
            if isinstance(block, dict):
                separate_block(block)
    if not total:
        return None
    first = results["metrics"]["generator_errors"]["firstError"]
    return (f"{total:,} request(s) failed in the load generator itself (out of sockets or ports: "
            f"{first}); they are counted apart in generator_errors, not as the target's failures. "
            f"Raise the open-file limit, use fewer connections, or spread the load over more boxes")
