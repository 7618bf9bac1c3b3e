"""results.csv: the run's 1-second buckets as a spreadsheet, one row a second.

Columns, always in this order (optional groups appear only when the results carry them):

    t, time, [phase], requests, failures, errors_<class>..., [generator_errors], iterations,
    scheduled, dropped, interrupted, targetRate, achievedRate, p50_ms, p95_ms, p99_ms,
    [rt_p50_ms, rt_p95_ms, rt_p99_ms], [lag_p50_ms, lag_p95_ms, lag_p99_ms],
    activeVUs, vus, targetVUs

`t` is seconds since the run started and `time` the UTC wall-clock start of that second.
Error columns: one per documented failure class (names.FAILURE_CLASSES, then "other") so
two runs' files share a header, then any other class the run saw, sorted. A bucket without
an `errors` field (results written before buckets carried it) leaves those cells empty
rather than claiming zero. `generator_errors` (requests that failed in the load generator
itself, not counted in `failures`) appears when some second had any. Missing values (a
second without samples) are empty cells.
RFC 4180: comma-separated, CRLF line ends, quoting by the csv module.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from lunge_mp.metrics.names import FAILURE_CLASSES, UNKNOWN_FAILURE

_COUNTS = ("iterations", "scheduled", "dropped", "interrupted", "targetRate", "achievedRate")
_LATENCY = (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))
_RT = (("rt_p50_ms", "rtP50"), ("rt_p95_ms", "rtP95"), ("rt_p99_ms", "rtP99"))
_LAG = (("lag_p50_ms", "lagP50"), ("lag_p95_ms", "lagP95"), ("lag_p99_ms", "lagP99"))
_GAUGES = ("activeVUs", "vus", "targetVUs")
ERROR_PREFIX = "errors_"
GENERATOR_COLUMN = "generator_errors"


def error_classes(buckets: list[dict]) -> list[str]:
    """The documented failure classes in their order, then any others seen, sorted."""
    known = [*FAILURE_CLASSES, UNKNOWN_FAILURE]
    seen = {cls for b in buckets for cls in (b.get("errors") or {})}
    return known + sorted(seen - set(known))


def columns(results: dict) -> list[str]:
    """The header `write_csv` writes for these results."""
    buckets = results.get("buckets") or []
    cols = ["t", "time"]
    if any("phase" in b for b in buckets):
        cols.append("phase")
    cols += ["requests", "failures"]
    cols += [ERROR_PREFIX + cls for cls in error_classes(buckets)]
    if any(b.get("generatorErrors") for b in buckets):
        cols.append(GENERATOR_COLUMN)
    cols += list(_COUNTS)
    cols += [c for c, _ in _LATENCY]
    for group in (_RT, _LAG):
        if any(key in b for b in buckets for _, key in group):
            cols += [c for c, _ in group]
    cols += list(_GAUGES)
    return cols


def _start(results: dict) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(results["startTime"])
    except (KeyError, TypeError, ValueError):
        return None


def _cell(v: object) -> object:
    return "" if v is None else v


def rows(results: dict) -> list[dict[str, object]]:
    """One dict per bucket keyed by `columns(results)`."""
    buckets = results.get("buckets") or []
    cols = columns(results)
    start = _start(results)
    aliases = dict(_LATENCY + _RT + _LAG)
    out = []
    for b in buckets:
        errors = b.get("errors")
        row: dict[str, object] = {}
        for c in cols:
            if c == "time":
                v = ((start + dt.timedelta(seconds=b["t"])).isoformat(timespec="seconds")
                     if start is not None and b.get("t") is not None else None)
            elif c == GENERATOR_COLUMN:
                v = b.get("generatorErrors", 0)
            elif c.startswith(ERROR_PREFIX):
                v = None if errors is None else errors.get(c[len(ERROR_PREFIX):], 0)
            else:
                v = b.get(aliases.get(c, c))
            row[c] = _cell(v)
        out.append(row)
    return out


def write_csv(results: dict, path: str) -> None:
    """Write the per-second buckets of a results document to `path` as CSV (RFC 4180)."""
    from lunge_mp.safe_output import write_atomic

    cols = columns(results)
    f = io.StringIO(newline="")
    w = csv.DictWriter(f, fieldnames=cols, lineterminator="\r\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows(results))
    write_atomic(path, f.getvalue().encode("utf-8"))
