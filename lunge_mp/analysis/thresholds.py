"""Threshold expressions: parse them, check them against the metric, evaluate them.

Pure code: no I/O, no clock. The config loader calls `parse_threshold` and `known_metric`
once per entry; the run loop calls `evaluate` with an observed aggregate.

Grammar (whitespace is allowed between tokens; aggregation names are case-insensitive)::

    threshold   := aggregation op value [ "over" duration ]
    aggregation := "avg" | "min" | "med" | "max" | "count" | "rate" | "value"
                 | "p(" N ")" | "p" N                  percentile, 0 <= N <= 100 (p(99.9), p95)
    op          := "<" | "<=" | ">" | ">=" | "==" | "===" | "!="     ("===" is k6's spelling of "==")
    value       := number [unit]
    unit        := duration  (ns us µs ms s m h, chained like 1m30s)   time metrics only
                 | "%"                                                  rate metrics only

Both Lunge (`p95 < 500ms`) and k6 (`p(95)<500`) spellings parse to the same Threshold.

`over 30s` (beyond k6) makes the threshold hold on every sliding window of that many
whole seconds of the measured run, not only on the run's totals, so a 20-second spike in
an hour cannot hide. Windows apply to run-wide, per-scenario and filtered metrics (trends,
rates and counters; a request or tag filter's seconds are kept as a window group,
analysis/window_groups.py); `count` over a window is the count inside it.

Metric kinds decide which aggregations make sense and what the value means (k6's model):

    kind     metrics                                               aggregations        value
    trend    http_req_duration http_req_response_time              avg min med max pN  milliseconds
             iteration_duration schedule_lag <scenario>_duration                       (no unit = ms)
             redis_cmd_duration redis_cmd_response_time http_req_blocked http_req_connecting
             http_req_tls_handshaking http_req_sending http_req_waiting http_req_receiving
    rate     http_req_failed checks <scenario>_failed              rate                fraction 0..1 (or N%)
             redis_cmd_failed http_req_queued (requests that waited at maxConnectionsPerHost)
    counter  http_reqs iterations dropped_iterations data_received count rate          total; per second
             data_sent <scenario>_reqs redis_cmds
    gauge    vus vus_max                                           value min max       plain number

A metric may carry one tag filter, `http_req_duration{request:List products}` or
`http_reqs{scenario:browse}`; the filter does not change its kind.

`evaluate(t, observed)` is `observed <op> t.value`, with `observed` in the threshold's units
(milliseconds for trends). NaN (no data) never passes: a threshold over nothing is not met.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping

from lunge_mp.plan import Threshold
from lunge_mp.units import parse_duration

TREND, RATE, COUNTER, GAUGE = "trend", "rate", "counter", "gauge"

BUILTIN_METRICS: dict[str, str] = {
    "http_req_duration": TREND,
    "http_req_response_time": TREND,
    "iteration_duration": TREND,
    "schedule_lag": TREND,
    "http_req_blocked": TREND,
    "http_req_connecting": TREND,
    "http_req_tls_handshaking": TREND,      # these four: settings.timings: detailed
    "http_req_sending": TREND,
    "http_req_waiting": TREND,
    "http_req_receiving": TREND,
    "http_req_queued": RATE,
    "http_req_failed": RATE,
    "checks": RATE,
    "http_reqs": COUNTER,
    "iterations": COUNTER,
    "dropped_iterations": COUNTER,
    "data_received": COUNTER,
    "data_sent": COUNTER,
    "vus": GAUGE,
    "vus_max": GAUGE,
    # Redis commands alone (report/redis_metrics.py); they also count in the http_* metrics
    "redis_cmd_duration": TREND,
    "redis_cmd_response_time": TREND,
    "redis_cmd_failed": RATE,
    "redis_cmds": COUNTER,
}

# <scenario><suffix> metrics that exist for every scenario
SCENARIO_SUFFIXES: dict[str, str] = {"_duration": TREND, "_failed": RATE, "_reqs": COUNTER}

AGGREGATIONS: dict[str, tuple[str, ...]] = {
    TREND: ("avg", "min", "med", "max", "pN"),
    RATE: ("rate",),
    COUNTER: ("count", "rate"),
    GAUGE: ("value", "min", "max"),
}

TAG_KEYS = ("request", "scenario")

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
    "!=": lambda a, b: not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
}

_EXPR = re.compile(r"^\s*(?P<agg>.*?)\s*(?P<op><=|>=|===|==|!=|<|>)\s*(?P<val>.*?)\s*$", re.S)
_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_PERCENTILE = re.compile(rf"p\s*(?:\(\s*(?P<paren>{_NUM})\s*\)|(?P<bare>{_NUM}))")
_VALUE = re.compile(rf"(?P<num>{_NUM})\s*(?P<unit>.*)", re.S)
_TAGGED = re.compile(r"^(?P<base>[^{}]+)\{(?P<filters>[^{}]*)\}$")

SYNTAX_HINT = "write it like 'p95 < 500ms', 'p(99)<1500', 'avg < 200', 'rate < 0.01' or 'count > 1000'"


# -- metrics -------------------------------------------------------------------------------

def split_filters(name: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """`http_req_duration{scenario:a,kind:slow}` → (`http_req_duration`, (("scenario", "a"),
    ("kind", "slow"))). Any key parses; which keys exist is the config's (unknown_metric_reason).

    Raises ValueError for a malformed filter, an empty key or value, or a key given twice.
    """
    name = name.strip()
    if "{" not in name and "}" not in name:
        return name, ()
    m = _TAGGED.match(name)
    if not m:
        raise ValueError(f"malformed tag filter in '{name}'; write it like 'http_req_duration{{request:NAME}}' "
                         f"or 'http_req_duration{{scenario:NAME,TAG:VALUE}}'")
    filters: list[tuple[str, str]] = []
    for part in m["filters"].split(","):
        key, sep, value = part.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ValueError(f"malformed tag filter '{part.strip()}' in '{name}'; write KEY:VALUE, "
                             f"several separated by commas")
        if not value:
            raise ValueError(f"empty {key} value in tag filter '{name}'")
        if any(k == key for k, _ in filters):
            raise ValueError(f"tag '{key}' appears twice in '{name}'; give each key once")
        filters.append((key, value))
    return m["base"].strip(), tuple(filters)


def split_metric(name: str) -> tuple[str, tuple[str, str] | None]:
    """`http_req_duration{request:Login}` → (`http_req_duration`, (`request`, `Login`)): the
    first filter only (split_filters has them all)."""
    base, filters = split_filters(name)
    return base, filters[0] if filters else None


def metric_kind(name: str) -> str | None:
    """trend | rate | counter | gauge for a built-in or `<scenario>_<suffix>` metric, else None."""
    try:
        base, _ = split_metric(name)
    except ValueError:
        return None
    if base in BUILTIN_METRICS:
        return BUILTIN_METRICS[base]
    for suffix, kind in SCENARIO_SUFFIXES.items():
        if base.endswith(suffix) and len(base) > len(suffix):
            return kind
    return None


def metric_names(scenario_names: Iterable[str]) -> list[str]:
    """Every metric name a threshold may use (without tag filters), for suggestions."""
    names = list(BUILTIN_METRICS)
    for scenario in scenario_names:
        names += [scenario + suffix for suffix in SCENARIO_SUFFIXES]
    return names


def known_metric(name: str, scenario_names: Iterable[str]) -> bool:
    """True for a built-in metric or `<scenario>_duration|_failed|_reqs` of a known scenario,
    optionally with one `{request:NAME}` / `{scenario:NAME}` filter (a known scenario)."""
    return unknown_metric_reason(name, scenario_names) is None


def unknown_metric_reason(name: str, scenario_names: Iterable[str],
                          request_names: Iterable[str] | None = None,
                          tag_values: Mapping[str, Iterable[str]] | None = None) -> str | None:
    """None if `name` is known, else what is wrong and what to write instead.

    Filters may use `scenario`, `request` and, with `tag_values` (tag key → the values the
    config's scenarios and requests give it), any tag key. With `request_names` and
    `tag_values`, each value must be one the config has (it would otherwise match nothing
    and judge "n/a" at the end of the run)."""
    scenarios = list(scenario_names)
    try:
        base, filters = split_filters(name)
    except ValueError as e:
        return str(e)
    known = metric_names(scenarios)
    if base not in known:
        hint = difflib.get_close_matches(base, known, n=1, cutoff=0.6)
        if hint:
            return f"unknown metric '{base}'; did you mean '{hint[0]}'?"
        return (f"unknown metric '{base}'; use a built-in metric ({', '.join(BUILTIN_METRICS)}) "
                f"or <scenario>_duration, <scenario>_failed, <scenario>_reqs")
    keys = {"scenario": scenarios}
    if request_names is not None:
        keys["request"] = request_names
    for key, values in (tag_values or {}).items():
        keys.setdefault(key, values)
    for key, value in filters:
        if key not in keys and key not in TAG_KEYS:
            hint = difflib.get_close_matches(key, list(keys) + ["request"], n=1, cutoff=0.5)
            return (f"unsupported tag '{key}' in '{name.strip()}'; " +
                    (f"did you mean '{hint[0]}'? " if hint else "") +
                    f"filter by one of: {', '.join(sorted(set(keys) | set(TAG_KEYS)))}")
        if key in keys and value not in keys[key]:
            values = sorted(set(keys[key]))
            hint = difflib.get_close_matches(value, values, n=1, cutoff=0.5)
            noun = {"scenario": "scenarios", "request": "requests"}.get(key, f"values of tag '{key}'")
            return (f"unknown {key} '{value}' in tag filter; " +
                    (f"did you mean '{hint[0]}'? " if hint else "") +
                    f"{noun} are: {', '.join(repr(v) for v in values) or '(none)'}")
    return None


def valid_aggregations(metric: str) -> tuple[str, ...]:
    """The aggregations that make sense for `metric` (all of them when its kind is unknown)."""
    kind = metric_kind(metric)
    if kind is None:
        return ("avg", "min", "med", "max", "pN", "count", "rate", "value")
    return AGGREGATIONS[kind]


# -- expressions ----------------------------------------------------------------------------

def parse_threshold(metric: str, expr: str, abort_on_fail: bool = False,
                    delay_abort_eval: float = 0.0) -> Threshold:
    """Parse one threshold expression for `metric`; ValueError quotes the offending text."""
    if not isinstance(expr, str):
        raise ValueError(f"threshold must be a string like 'p95 < 500ms', got {type(expr).__name__}")
    window = 0.0
    over = re.search(r"\s+over\s+(\S+)\s*$", expr)
    body = expr[: over.start()] if over else expr
    if over:
        window = _parse_window(over.group(1), expr, metric)
    m = _EXPR.match(body)
    if not m:
        if re.search(r"(?<![<>=!])=(?!=)", expr):
            raise ValueError(f"invalid threshold '{expr}': use '==' to compare, not '='")
        raise ValueError(f"invalid threshold '{expr}': no comparison operator (< <= > >= == !=); {SYNTAX_HINT}")
    agg_text, op, val_text = m["agg"], m["op"], m["val"]
    if op == "===":
        op = "=="
    if not agg_text:
        raise ValueError(f"invalid threshold '{expr}': missing aggregation before '{op}'; {SYNTAX_HINT}")
    if not val_text:
        raise ValueError(f"invalid threshold '{expr}': missing value after '{op}'; {SYNTAX_HINT}")

    aggregation, percentile = _parse_aggregation(agg_text, expr)
    kind = metric_kind(metric)
    allowed = valid_aggregations(metric)
    slot = "pN" if aggregation.startswith("p") else aggregation
    if slot not in allowed:
        shown = ", ".join("p(N)" if a == "pN" else a for a in allowed)
        raise ValueError(f"aggregation '{agg_text}' in '{expr}' does not apply to {metric.strip()} "
                         f"(a {kind} metric); use {shown}")
    value = _parse_value(val_text, expr, metric.strip(), kind, aggregation)
    return Threshold(
        metric=metric.strip(),
        expression=expr.strip(),
        aggregation=aggregation,
        percentile=percentile,
        op=op,
        value=value,
        abort_on_fail=abort_on_fail,
        delay_abort_eval=delay_abort_eval,
        window=window,
    )


def _parse_window(text: str, expr: str, metric: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(f"invalid window '{text}' in '{expr}': write a duration like 'over 30s'") from None
    if seconds < 1 or seconds != int(seconds):
        raise ValueError(f"window '{text}' in '{expr}' must be a whole number of seconds >= 1s")
    base, _ = split_filters(metric)
    if metric_kind(metric) == GAUGE:
        raise ValueError(f"'{expr}': windows do not apply to the gauge {base}")
    return seconds


def _parse_aggregation(text: str, expr: str) -> tuple[str, float]:
    low = text.lower()
    if low in ("avg", "min", "med", "max", "count", "rate", "value"):
        return low, 0.0
    m = _PERCENTILE.fullmatch(low)
    if m:
        n = float(m["paren"] or m["bare"])
        if not 0 <= n <= 100:
            raise ValueError(f"percentile '{text}' in '{expr}' is out of range; use p(N) with 0 <= N <= 100")
        return f"p{n:g}", n
    raise ValueError(f"unknown aggregation '{text}' in '{expr}'; use avg, min, med, max, p(N), pN, count or rate")


def _parse_value(text: str, expr: str, metric: str, kind: str | None, aggregation: str) -> float:
    m = _VALUE.fullmatch(text)
    if not m:
        raise ValueError(f"invalid value '{text}' in '{expr}': expected a number, e.g. 500, 500ms, 1.5s, 0.01")
    number = float(m["num"])
    unit = re.sub(r"\s+", "", m["unit"])
    if not math.isfinite(number):
        raise ValueError(f"invalid value '{text}' in '{expr}': must be finite")
    is_time = kind == TREND or (kind is None and aggregation not in ("count", "rate", "value"))
    is_fraction = aggregation == "rate" and kind in (RATE, None)
    if not unit:
        if kind == RATE and number > 1:
            raise ValueError(f"value '{text}' in '{expr}' is out of range: the rate of {metric} is a "
                             f"fraction 0..1; did you mean {number:g}%?")
        return number
    if unit == "%":
        if not is_fraction:
            raise ValueError(f"'{text}' in '{expr}': a percentage only applies to the rate of a rate "
                             f"metric (http_req_failed, checks, <scenario>_failed)")
        return number / 100
    if not is_time:
        raise ValueError(f"'{text}' in '{expr}' has a time unit but {aggregation} of {metric} is not a "
                         f"time; write a plain number")
    try:
        seconds = parse_duration(m["num"] + unit)
    except ValueError:
        raise ValueError(f"invalid value '{text}' in '{expr}': unknown unit '{unit}'; use ms, s, m, h, us "
                         f"(no unit means milliseconds)") from None
    return seconds * 1000.0


def evaluate(threshold: Threshold, observed: float) -> bool:
    """True when `observed` (in the threshold's units: ms for trends) satisfies the threshold."""
    if observed is None or math.isnan(observed):
        return False
    return OPS[threshold.op](float(observed), threshold.value)
