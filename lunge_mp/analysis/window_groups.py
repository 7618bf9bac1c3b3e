"""Windowed thresholds with request or tag filters (`http_req_duration{request:login} p95 <
200ms over 30s`): which request series each one reads, second by second. Pure.

A 1-second bucket keeps run-wide and per-scenario figures, not per-request ones (a histogram
per request and second would grow with the request names). But tags are static (a request's
tags are its scenario's and its own), so a filter selects a fixed set of (scenario, request)
series, known before the run: the coordinator keeps, in each second, one *group* per distinct
set a filtered windowed threshold selects, with its requests, failures (the load generator's
own left out, as everywhere) and checks, and one HDR histogram for each trend metric a
threshold reads from it (metrics/buckets.py). Thresholds whose filters select the same series
share a group. How many groups a config may have is bounded at load (WINDOW_FILTERS), so the
memory is one histogram per group and metric in each open second, a few hundred bytes once the
second is sealed, and nothing once it is folded (every second is judged before that).

Groups are numbered from 1: an int key, never a scenario name (those are strings).
"""

from __future__ import annotations

from collections.abc import Iterable

from lunge_mp.analysis import selection
from lunge_mp.analysis.thresholds import split_filters
from lunge_mp.metrics.names import (DETAILED_METRICS, HTTP_REQ_BLOCKED, HTTP_REQ_CONNECTING,
                                    HTTP_REQ_DURATION, HTTP_REQ_RESPONSE_TIME)
from lunge_mp.plan import Threshold

#: the most distinct filtered windowed metrics a config may have (config/thresholds.py)
WINDOW_FILTERS = 20
#: what a group keeps per second, by the base metric a threshold reads: trends are histograms
#: of the request series; the others come from the group's counters
KINDS = {**dict.fromkeys((HTTP_REQ_DURATION, HTTP_REQ_RESPONSE_TIME, HTTP_REQ_BLOCKED,
                          HTTP_REQ_CONNECTING, *DETAILED_METRICS), "trend"),
         "http_req_failed": "rate", "checks": "rate", "http_reqs": "counter"}

Source = tuple[str, str, int]       # (kind, base metric, group id)


def narrows(metric: str) -> bool:
    """Has the metric a request or tag filter (not only `{scenario:…}`)?"""
    try:
        return any(key != "scenario" for key, _ in split_filters(metric)[1])
    except ValueError:
        return False


class WindowGroups:
    """The groups of a plan's filtered windowed thresholds (`scenarios`: the plan's)."""

    def __init__(self, thresholds: Iterable[Threshold], scenarios: Iterable) -> None:
        scenarios = list(scenarios)
        tags = selection.request_tags(scenarios)
        names = [s.name for s in scenarios]
        self._sources: dict[str, Source] = {}
        self.members: dict[int, frozenset[tuple[str, str]]] = {}
        self.trends: dict[int, frozenset[str]] = {}    # group → metrics kept as histograms
        ids: dict[frozenset, int] = {}
        for t in thresholds:
            if not t.window or t.metric in self._sources or not narrows(t.metric):
                continue
            base, _, wanted = selection.target(*split_filters(t.metric), names)
            kind = KINDS.get(base)
            found = selection.members(tags, wanted)
            if kind is None or not found:
                continue        # not kept per second: judged on the whole run, with a note
            gid = ids.setdefault(found, len(ids) + 1)
            self.members[gid] = found
            if kind == "trend":
                self.trends[gid] = self.trends.get(gid, frozenset()) | {base}
            self._sources[t.metric] = (kind, base, gid)

    def source(self, t: Threshold) -> Source | None:
        """(kind, base metric, group id) a filtered windowed threshold reads; None if none."""
        return self._sources.get(t.metric)

    def routes(self) -> dict[tuple[str, str], tuple[int, ...]]:
        """(scenario, request) → the groups it belongs to (for the coordinator's aggregate)."""
        out: dict[tuple[str, str], tuple[int, ...]] = {}
        for gid, found in self.members.items():
            for key in found:
                out[key] = out.get(key, ()) + (gid,)
        return out

    def __bool__(self) -> bool:
        return bool(self.members)
