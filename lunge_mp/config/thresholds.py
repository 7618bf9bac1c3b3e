"""The `thresholds:` block → a flat tuple of plan.Threshold.

    thresholds:
      http_req_duration: ["p95 < 500ms", {threshold: "avg < 200ms", abortOnFail: true, delayAbortEval: 10s}]
      custom:
        browse_duration: ["p95 < 300ms"]

`custom:` entries are flattened in with their metric names as given. The expression grammar
and the metric rules live in lunge_mp.analysis.thresholds; this module only walks the YAML
and turns their ValueErrors into path-tagged errors. A metric that does not exist is an error
here, at load, rather than a threshold that silently never fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lunge_mp.analysis import selection
from lunge_mp.analysis.thresholds import parse_threshold, split_filters, unknown_metric_reason
from lunge_mp.analysis.window_groups import WINDOW_FILTERS, narrows
from lunge_mp.config.errors import Errors, describe, index, join
from lunge_mp.config.fields import Fields
from lunge_mp.plan import Threshold

ENTRY_KEYS = ("threshold", "abortOnFail", "delayAbortEval")


def parse_thresholds(value: object, path: str, errs: Errors, scenario_names: Iterable[str],
                     request_names: Iterable[str] | None = None,
                     series_tags: Mapping[tuple[str, str], Mapping[str, str]] | None = None) -> tuple[Threshold, ...]:
    """`series_tags`: (scenario, request) → its tags (analysis/selection.request_tags), to check
    tag filters; None when the scenarios did not parse."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        errs.add(path, f"must be a mapping of metric → list of expressions, got {describe(value)}")
        return ()
    scenarios = list(scenario_names)
    out: list[Threshold] = []
    for metric, entries in value.items():
        if metric == "custom":
            if not isinstance(entries, Mapping):
                errs.add(join(path, "custom"), f"must be a mapping of metric → list of expressions, "
                                               f"got {describe(entries)}")
                continue
            for name, inner in entries.items():
                out += _metric(name, inner, join(join(path, "custom"), name), errs, scenarios,
                               request_names, series_tags)
        else:
            out += _metric(metric, entries, join(path, metric), errs, scenarios, request_names, series_tags)
    grouped = sorted({t.metric for t in out if t.window and narrows(t.metric)})
    if len(grouped) > WINDOW_FILTERS:
        # each keeps a histogram per second of the run (analysis/window_groups.py)
        errs.add(path, f"at most {WINDOW_FILTERS} metrics with a request or tag filter may have "
                       f"windowed ('over') thresholds, each keeps its own per-second data; got "
                       f"{len(grouped)} ({', '.join(grouped[:3])}, ...): drop 'over' from some, or "
                       f"give the requests a common tag and filter by it")
    return tuple(out)


def _metric(metric: object, entries: object, path: str, errs: Errors,
            scenarios: list[str], request_names: Iterable[str] | None = None,
            series_tags: Mapping[tuple[str, str], Mapping[str, str]] | None = None) -> list[Threshold]:
    if not isinstance(metric, str):
        errs.add(path, f"metric names must be strings, got {describe(metric)}")
        return []
    tag_values = None if series_tags is None else selection.tag_values(series_tags)
    reason = unknown_metric_reason(metric, scenarios, request_names, tag_values)
    if not reason and series_tags:
        filters = dict(split_filters(metric)[1])
        if set(filters) - {"scenario"} and selection.selects_nothing(series_tags, filters):
            reason = (f"no request has every value of '{metric.strip()}' (each exists, not together); "
                      f"check which scenario the request or tag is in")
    if reason:
        errs.add(path, reason)
    if isinstance(entries, (str, Mapping)):
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        errs.add(path, f"must be a non-empty list of expressions like [\"p95 < 500ms\"], got {describe(entries)}")
        return []
    out = []
    for i, entry in enumerate(entries):
        threshold = _entry(metric, entry, index(path, i), errs)
        if threshold is not None and not reason:
            out.append(threshold)
    return out


def _entry(metric: str, entry: Any, path: str, errs: Errors) -> Threshold | None:
    abort, delay = False, 0.0
    if isinstance(entry, Mapping):
        f = Fields(errs, entry, path)
        f.check_keys(ENTRY_KEYS)
        expr = f.str("threshold", required="required: the expression, e.g. threshold: \"p95 < 500ms\"")
        abort = f.bool("abortOnFail", False)
        delay = f.duration("delayAbortEval", 0.0)
        if expr is None:
            return None
        path = f.at("threshold")
    elif isinstance(entry, str):
        expr = entry
    else:
        errs.add(path, f"must be an expression like \"p95 < 500ms\" or {{threshold: ..., abortOnFail: true}}, "
                       f"got {describe(entry)}")
        return None
    try:
        return parse_threshold(metric, expr, abort_on_fail=abort, delay_abort_eval=delay)
    except ValueError as e:
        errs.add(path, str(e))
        return None


_DETAILED = ("http_req_sending", "http_req_waiting", "http_req_receiving", "http_req_tls_handshaking")
_BREAKDOWN = ("http_req_blocked", "http_req_connecting", "http_req_queued")


def unmeasured(thresholds: Iterable[Threshold], transport: str, timings: str, path: str, errs: Errors) -> None:
    """An error for each threshold on a timing the settings leave unmeasured: it could only
    judge "no data" at the end of the run (`transport`: the one the workers use)."""
    seen = set()
    for t in thresholds:
        base = split_filters(t.metric)[0]
        if t.metric in seen:
            continue
        seen.add(t.metric)
        at = join(path, t.metric)
        if base == "http_req_tls_handshaking" and transport == "aiohttp":
            errs.add(at, "http_req_tls_handshaking is not measured with transport: aiohttp (aiohttp "
                         "opens TCP and TLS in one step: the handshake is inside http_req_connecting); "
                         "judge http_req_connecting, or use transport: fast")
        elif base in _DETAILED and timings != "detailed":
            errs.add(at, f"{base} is measured only with settings.timings: detailed (off by default: "
                         f"it costs CPU on every request); set it, or drop this threshold")
        elif base in _BREAKDOWN and transport == "aiohttp" and timings != "detailed":
            errs.add(at, f"{base} is measured with transport: aiohttp only with settings.timings: "
                         f"detailed (aiohttp's trace signals cost CPU on every request); set it, "
                         f"or use transport: fast")
