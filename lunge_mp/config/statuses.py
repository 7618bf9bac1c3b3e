"""`expectedStatuses`: which response statuses count as a successful request (k6's
`http.setResponseCallback(http.expectedStatuses(...))`). Pure.

A list whose items are a status (`404`), a range as text (`"200-299"`) or as a mapping
(`{min: 200, max: 299}`, k6's spelling); a single item may stand alone. Default 200-399, as
in k6. A request whose status is outside the set fails (`http_req_failed`), with class
http_4xx, http_5xx, or unexpected_status for a 1xx-3xx one; a status inside it does not fail
the request, whatever the checks say (they are counted by `checks`; see checksFailRequests).
"""

from __future__ import annotations

from collections.abc import Mapping

from lunge_mp.config.errors import Errors, describe, index

DEFAULT = ((200, 399),)
LOWEST, HIGHEST = 100, 599
HINT = "write a status (404), a range (\"200-299\") or {min: 200, max: 299}, or a list of them"


def parse_expected(value: object, path: str, errs: Errors) -> tuple[tuple[int, int], ...] | None:
    """The ranges (inclusive), or None after recording what is wrong."""
    items = value if isinstance(value, list) else [value]
    if not items:
        errs.add(path, f"must not be empty; {HINT}")
        return None
    out = []
    for i, item in enumerate(items):
        at = index(path, i) if isinstance(value, list) else path
        span = _one(item)
        if span is None:
            errs.add(at, f"{describe(item)} is not a status or range; {HINT}")
            return None
        lo, hi = span
        if not (LOWEST <= lo <= hi <= HIGHEST):
            errs.add(at, f"{lo}-{hi}: statuses run from {LOWEST} to {HIGHEST}, low to high")
            return None
        out.append(span)
    return tuple(out)


def _one(item: object) -> tuple[int, int] | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return item, item
    if isinstance(item, str):
        lo, sep, hi = item.partition("-")
        if lo.strip().isdigit() and (not sep or hi.strip().isdigit()):
            return int(lo), int(hi if sep else lo)
        return None
    if isinstance(item, Mapping) and set(item) == {"min", "max"}:
        lo, hi = item["min"], item["max"]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)):
            return lo, hi
    return None


def status_set(ranges: tuple[tuple[int, int], ...]) -> frozenset[int]:
    return frozenset(s for lo, hi in ranges for s in range(lo, hi + 1))


def describe_ranges(ranges: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)
