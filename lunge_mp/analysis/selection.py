"""Tag filters over request series: which `requests[...]` entries a filter selects, and one
block merged from several of them.

Tags are static per scenario and per request (a request's tags are its scenario's, overridden
by its own), so a filter like `{scenario:a,kind:slow}` selects a set of (scenario, request)
series: no dimension is added in the workers and the series cap is untouched.

A merged block is exact where a sum is exact: counts, failures, checks, bytes, min, max and the
count-weighted mean. Percentiles are not mergeable from summaries; the block leaves them out and
the caller reads them from the merged HDR histograms of the selected series (the `keys`).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: filter keys that name a series rather than a tag
SERIES_KEYS = ("scenario", "request")
#: rate metrics of a request block → the counter they are a fraction of
_RATE_OF = {"http_req_failed": "http_reqs", "http_req_queued": "http_reqs", "redis_cmd_failed": "redis_cmds"}


#: `<scenario><suffix>` threshold metrics → the built-in metric they read for that scenario
SCENARIO_SUFFIXES = (("_duration", "http_req_duration"), ("_failed", "http_req_failed"),
                     ("_reqs", "http_reqs"))


def target(base: str, filters: Iterable[tuple[str, str]], scenario_names: Iterable[str]
           ) -> tuple[str, str | None, dict[str, str]]:
    """What a threshold metric (split by thresholds.split_filters) reads: the built-in metric,
    the scenario it names (`<scenario>_duration` or `{scenario:NAME}`), and its request and
    tag filters ({} when there are none; with the scenario added when it names one)."""
    scenario = None
    names = set(scenario_names)
    for suffix, builtin in SCENARIO_SUFFIXES:
        name = base[: -len(suffix)]
        if base.endswith(suffix) and name in names:
            scenario, base = name, builtin
            break
    wanted = dict(filters)
    scenario = wanted.pop("scenario", scenario)
    if wanted and scenario is not None:
        wanted["scenario"] = scenario
    return base, scenario, wanted


def members(tags: Mapping[tuple[str, str], Mapping[str, str]], filters: Mapping[str, str]
            ) -> frozenset[tuple[str, str]]:
    """The (scenario, request) series of the config (`request_tags`) that match `filters`."""
    return frozenset(key for key, own in tags.items()
                     if matches({"scenario": key[0], "request": key[1], "tags": own}, filters))


def request_tags(scenarios: Iterable) -> dict[tuple[str, str], dict[str, str]]:
    """(scenario, request) → its tags: the scenario's `tags` overridden by the request's."""
    return {(s.name, r.name): {**s.tags, **r.tags} for s in scenarios for r in s.requests}


def tag_values(tags: Mapping[tuple[str, str], Mapping[str, str]]) -> dict[str, set[str]]:
    """Tag key → every value some request has (what a threshold filter may name)."""
    out: dict[str, set[str]] = {}
    for own in tags.values():
        for key, value in own.items():
            out.setdefault(key, set()).add(value)
    return out


def selects_nothing(tags: Mapping[tuple[str, str], Mapping[str, str]], filters: Mapping[str, str]) -> bool:
    """True when no (scenario, request) has every filter's value (each may exist alone:
    `{scenario:a,request:r}` with `r` only in scenario `b`)."""
    return not any(matches({"scenario": s, "request": r, "tags": own}, filters) for (s, r), own in tags.items())


def matches(entry: Mapping, filters: Mapping[str, str]) -> bool:
    """True when a `requests[...]` entry has every filter's value."""
    tags = entry.get("tags") or {}
    for key, value in filters.items():
        own = entry.get(key) if key in SERIES_KEYS else tags.get(key)
        if own != value:
            return False
    return True


def select(requests: Mapping, filters: Mapping[str, str]) -> list[Mapping]:
    """The request entries matching every filter, in document order."""
    return [entry for entry in requests.values() if matches(entry, filters)]


def merge(entries: list[Mapping]) -> dict:
    """One request block for several entries (see the module doc for what is exact)."""
    names: list[str] = []
    for entry in entries:
        names += [k for k, v in entry.items() if isinstance(v, Mapping) and k not in names and k != "tags"]
    block: dict = {}
    for name in names:
        parts = [e[name] for e in entries if isinstance(e.get(name), Mapping)]
        if "avg" in parts[0]:
            block[name] = _trend(parts)
        elif "passes" in parts[0]:
            passes, fails = (sum(p.get(k, 0) for p in parts) for k in ("passes", "fails"))
            block[name] = {"passes": passes, "fails": fails,
                           "rate": round(passes / (passes + fails), 6) if passes + fails else None}
        elif "count" in parts[0]:
            block[name] = {"count": sum(p.get("count", 0) for p in parts)}
            if "rate" in parts[0] and name not in _RATE_OF:
                block[name]["rate"] = sum(p.get("rate", 0) for p in parts)
    for name, of in _RATE_OF.items():
        if name in block:
            total = block.get(of, {}).get("count", 0)
            block[name]["rate"] = round(block[name]["count"] / total, 6) if total else 0.0
    return block


def _trend(parts: list[Mapping]) -> dict:
    filled = [p for p in parts if p.get("count")]
    count = sum(p["count"] for p in filled)
    if not count:
        return {"count": 0}
    return {"count": count,
            "min": min(p["min"] for p in filled),
            "max": max(p["max"] for p in filled),
            "avg": round(sum(p["avg"] * p["count"] for p in filled) / count, 3)}
