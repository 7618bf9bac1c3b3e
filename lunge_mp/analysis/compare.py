"""Baseline comparison: is this run worse than the run it is held against?

Pure code: two results documents (dicts, as `lunge-mp run --out` writes them) and a list of
rules in, a `Comparison` out. No I/O, no clock.

Rules (`--max-regression`) say how much worse a metric may get before it counts as a
regression. Grammar (whitespace allowed between tokens, names case-insensitive)::

    rules    := rule ("," rule)*
    rule     := metric "=" limit
    metric   := "p50" | "med" | "p90" | "p95" | "p99" | "avg" | "max"    latency, http_req_duration
              | "error_rate"                                            http_req_failed.rate
              | "rps" | "throughput"                                    http_reqs.rate (requests/s)
              | "efficiency"                                            open-model iterations started ÷ due
    limit    := part [sign part]          at most one relative (%) and one absolute part
    part     := [sign] N unit
    sign     := "+" | "-"

    metric       worse when   unit   allowed change                  regressed when
    latency      higher       %      +N%   relative                  c > b·(1 + N/100)
                              ms     +Nms  absolute (also s, us)     c > b + N
    error_rate   higher       pp     +Npp  percentage points         c > b + N/100
    rps          lower        %      -N%   relative                  c < b·(1 − N/100)
                              /s     -N/s  absolute (or a bare -N)   c < b − N
    efficiency   lower        pp     -Npp  percentage points         c < b − N/100
                              %      -N%   relative                  c < b·(1 − N/100)

(b = baseline, c = current). Two parts add up: `p95=10%+1ms` regresses when
c > b·1.1 + 1ms, which keeps a sub-millisecond p95 from failing on +0.2ms of jitter;
`rps=-5%-20/s` likewise. The sign may be left out of a single part; a sign pointing the wrong way
(`p95=-10%`, `rps=+5%`) is an error, because "p95 may fall by 10%" is not a limit. An
improvement is the mirror image: better than the baseline by more than the allowed change.
Equal to the limit is not a regression.

With no rules the defaults (DEFAULT_RULES) apply: p95=10%+1ms, p99=15%+2ms, error_rate=+1pp,
rps=-10%. Rules given replace the defaults entirely (`p95=10%` checks p95 and nothing else).

Every rule is checked for the whole run, for each scenario and for each request, matched
by name (the keys of `scenarios` and `requests`); names found on one side only are listed,
not counted as regressions. A metric without data on either side (a closed-model test has no
efficiency, a request that never ran has no p95) is shown as "no data", never as regressed.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

LATENCY, ERROR_RATE, RPS, EFFICIENCY = "latency", "error_rate", "rps", "efficiency"

# canonical metric name → (family, key inside http_req_duration for latencies)
METRICS: dict[str, tuple[str, str | None]] = {
    "p50": (LATENCY, "p50"),
    "p90": (LATENCY, "p90"),
    "p95": (LATENCY, "p95"),
    "p99": (LATENCY, "p99"),
    "avg": (LATENCY, "avg"),
    "max": (LATENCY, "max"),
    "error_rate": (ERROR_RATE, None),
    "rps": (RPS, None),
    "efficiency": (EFFICIENCY, None),
}
ALIASES = {"med": "p50", "throughput": "rps"}
HIGHER_IS_WORSE = {LATENCY: True, ERROR_RATE: True, RPS: False, EFFICIENCY: False}

# +1ms/+2ms of slack: sub-millisecond endpoints move tens of percent between runs on
# loopback without any real regression, and would fail every nightly run otherwise
DEFAULT_RULES = "p95=10%+1ms,p99=15%+2ms,error_rate=+1pp,rps=-10%"

# units each family accepts: unit → (kind, factor to the metric's own unit)
_UNITS: dict[str, dict[str, tuple[str, float]]] = {
    LATENCY: {"%": ("relative", 0.01), "ms": ("absolute", 1.0), "s": ("absolute", 1000.0),
              "us": ("absolute", 0.001), "µs": ("absolute", 0.001)},
    ERROR_RATE: {"pp": ("absolute", 0.01)},
    RPS: {"%": ("relative", 0.01), "/s": ("absolute", 1.0), "": ("absolute", 1.0)},
    EFFICIENCY: {"pp": ("absolute", 0.01), "%": ("relative", 0.01)},
}
_EXAMPLE = {LATENCY: "p95=10%, p95=+5ms or p95=10%+1ms", ERROR_RATE: "error_rate=+0.5pp",
            RPS: "rps=-5% or rps=-50/s", EFFICIENCY: "efficiency=-1pp"}
_TERM = re.compile(r"\s*(?P<sign>[+-]?)\s*(?P<num>(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>%|/s|[a-zA-Zµ]*)\s*")

SYNTAX_HINT = "write rules like 'p95=10%,p99=+20ms,error_rate=+0.5pp,rps=-5%'"


class RuleError(ValueError):
    """A --max-regression text that does not parse; the message quotes the bad part."""


@dataclass(frozen=True)
class Rule:
    """How much worse `metric` may get: `relative` × baseline plus `absolute`.

    `relative` is a fraction (10% → 0.1); `absolute` is in the metric's own unit (ms for
    latencies, a 0..1 fraction for pp, requests/s for rps). Either may be 0.
    """

    metric: str
    relative: float
    absolute: float
    text: str        # canonical spelling, e.g. "p95=+10%"

    @property
    def family(self) -> str:
        return METRICS[self.metric][0]

    @property
    def higher_is_worse(self) -> bool:
        return HIGHER_IS_WORSE[self.family]

    def allowed(self, baseline: float) -> float:
        """How far from the baseline a value may move (in the metric's unit, ≥ 0)."""
        return abs(baseline) * self.relative + self.absolute

    def limit(self, baseline: float) -> float:
        """The worst value that still passes."""
        step = self.allowed(baseline)
        return baseline + step if self.higher_is_worse else baseline - step

    def mirror(self, baseline: float) -> float:
        """The value beyond which the change counts as an improvement."""
        step = self.allowed(baseline)
        return baseline - step if self.higher_is_worse else baseline + step

    def regressed(self, baseline: float, current: float) -> bool:
        """Worse than the limit (equal to it passes)."""
        return self._beyond(current, self.limit(baseline), worse=True)

    def improved(self, baseline: float, current: float) -> bool:
        """Better than the baseline by more than the allowed change."""
        return self._beyond(current, self.mirror(baseline), worse=False)

    def _beyond(self, value: float, edge: float, worse: bool) -> bool:
        if _close(value, edge):
            return False
        above = value > edge
        return above if self.higher_is_worse == worse else not above


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def parse_rule(text: str) -> Rule:
    """One `metric=limit`; RuleError quotes `text` and says what to write instead."""
    raw = text.strip()
    name, sep, limit = raw.partition("=")
    name, limit = name.strip().lower(), limit.strip()
    if not sep:
        raise RuleError(f"'{raw}' has no '='; {SYNTAX_HINT}")
    if not name:
        raise RuleError(f"'{raw}' names no metric; {SYNTAX_HINT}")
    metric = ALIASES.get(name, name)
    if metric not in METRICS:
        known = sorted(set(METRICS) | set(ALIASES))
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise RuleError(f"unknown metric '{name}' in '{raw}'; {hint}known: {', '.join(known)}")
    family = METRICS[metric][0]
    worse_sign = "+" if HIGHER_IS_WORSE[family] else "-"

    terms: list[re.Match] = []
    pos = 0
    while pos < len(limit):
        m = _TERM.match(limit, pos)
        if not m or m.end() == pos:
            rest = limit[pos:]
            what = f"'{limit}' is not a number with a unit" if pos == 0 else f"cannot read '{rest}'"
            raise RuleError(f"'{raw}': {what}; write it like {_EXAMPLE[family]}")
        if terms and not m["sign"]:
            raise RuleError(f"'{raw}': join two parts with '{worse_sign}', like {_EXAMPLE[family]}")
        terms.append(m)
        pos = m.end()
    if not terms:
        raise RuleError(f"'{raw}': '' is not a number with a unit; write it like {_EXAMPLE[family]}")
    if len(terms) > 2:
        raise RuleError(f"'{raw}': at most two parts (one relative, one absolute), like {_EXAMPLE[family]}")

    amounts = {"relative": 0.0, "absolute": 0.0}
    spelled: list[str] = []
    kinds: set[str] = set()
    units = _UNITS[family]
    for m in terms:
        unit = m["unit"].lower()
        if unit == "%" and family == ERROR_RATE:
            raise RuleError(f"'{raw}': an error rate limit is in percentage points, not %: "
                            f"error_rate=+{m['num']}pp lets 1% errors become {1 + float(m['num']):g}%")
        if not unit and "" not in units:
            raise RuleError(f"'{raw}': the limit needs a unit; write it like {_EXAMPLE[family]}")
        if unit not in units:
            allowed = ", ".join(repr(u) for u in units if u)
            raise RuleError(f"'{raw}': unit '{m['unit']}' does not fit {metric} "
                            f"(use {allowed}); write it like {_EXAMPLE[family]}")
        if m["sign"] and m["sign"] != worse_sign:
            way = "rises" if HIGHER_IS_WORSE[family] else "falls"
            raise RuleError(f"'{raw}': {metric} gets worse when it {way}, so its limit is "
                            f"'{worse_sign}N', not '{m['sign']}N'; write it like {_EXAMPLE[family]}")
        kind, factor = units[unit]
        if kind in kinds:
            raise RuleError(f"'{raw}': two {kind} parts; give at most one relative (%) and one absolute")
        kinds.add(kind)
        number = float(m["num"])
        amounts[kind] = number * factor
        spelled.append(f"{worse_sign}{number:g}{'/s' if unit == '' else unit}")
    if not HIGHER_IS_WORSE[family] and amounts["relative"] >= 1.0:
        raise RuleError(f"'{raw}': {metric} cannot fall by 100% or more; use less than 100%")
    return Rule(metric=metric, relative=amounts["relative"], absolute=amounts["absolute"],
                text=f"{metric}={''.join(spelled)}")


def parse_rules(text: str | None) -> list[Rule]:
    """`"p95=10%,error_rate=+0.5pp,rps=-5%"` → rules; empty or None → the defaults.

    Raises RuleError for a bad rule, an empty one between commas, or a metric given twice.
    """
    if text is None or not text.strip():
        text = DEFAULT_RULES
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            raise RuleError(f"empty rule in '{text.strip()}' (two commas, or one at an end?)")
        rule = parse_rule(part)
        if rule.metric in seen:
            raise RuleError(f"{rule.metric} is given twice: '{seen[rule.metric]}' and '{part.strip()}'")
        seen[rule.metric] = part.strip()
        rules.append(rule)
    return rules


def default_rules() -> list[Rule]:
    return parse_rules(None)


# -- results documents -------------------------------------------------------------------

def validate_results(doc: object) -> None:
    """Raise ValueError unless `doc` looks like a lunge-mp results document."""
    if not isinstance(doc, dict):
        raise ValueError(f"not a lunge-mp results document (a JSON {type(doc).__name__}, not an object)")
    metrics = doc.get("metrics")
    if not isinstance(metrics, dict):
        raise ValueError("not a lunge-mp results document (no 'metrics' object; "
                         "write one with `lunge-mp run CONFIG --out results.json`)")
    for key in ("http_req_duration", "http_reqs", "http_req_failed"):
        if not isinstance(metrics.get(key), dict):
            raise ValueError(f"not a lunge-mp results document (no 'metrics.{key}' object)")


def _num(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return None if math.isnan(x) else x


def metric_value(block: dict | None, metric: str, efficiency: float | None = None) -> float | None:
    """A metric from one results block (`metrics`, `scenarios[S]` or `requests[R]`).

    Latencies are milliseconds from http_req_duration (None without samples); error_rate
    and efficiency are fractions 0..1; rps is requests per second. Efficiency is not inside
    a block, so it is passed in.
    """
    if block is None:
        return None
    family, key = METRICS[ALIASES.get(metric, metric)]
    if family == LATENCY:
        d = block.get("http_req_duration") or {}
        return _num(d.get(key)) if d.get("count", 1) else None
    if family == ERROR_RATE:
        if not (block.get("http_reqs") or {}).get("count"):
            return None
        return _num((block.get("http_req_failed") or {}).get("rate"))
    if family == RPS:
        return _num((block.get("http_reqs") or {}).get("rate"))
    return _num(efficiency)


def run_efficiency(doc: dict, scenario: str | None = None) -> float | None:
    eff = doc.get("efficiency") or {}
    if scenario is None:
        return _num(eff.get("overall"))
    return _num((eff.get("byScenario") or {}).get(scenario))


# -- comparison ----------------------------------------------------------------------------

OVERALL, SCENARIO, REQUEST = "overall", "scenario", "request"


@dataclass(frozen=True)
class Row:
    """One metric at one place (the whole run, a scenario or a request)."""

    scope: str                 # overall | scenario | request
    name: str | None           # scenario or request name; None for overall
    metric: str
    baseline: float | None
    current: float | None
    limit: float | None        # worst value that still passes
    rule: str
    regressed: bool
    improved: bool

    @property
    def family(self) -> str:
        return METRICS[self.metric][0]

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def delta_pct(self) -> float | None:
        """Relative change in percent; None without a non-zero baseline."""
        if self.delta is None or not self.baseline:
            return None
        return self.delta / self.baseline * 100.0

    @property
    def status(self) -> str:
        if self.baseline is None or self.current is None:
            return "no data"
        return "regressed" if self.regressed else "improved" if self.improved else "ok"

    @property
    def label(self) -> str:
        """`p95`, `p95 (scenario browse)`, `p95 (request GET /items)`."""
        return self.metric if self.scope == OVERALL else f"{self.metric} ({self.scope} {self.name})"

    def to_dict(self) -> dict:
        return {"scope": self.scope, "name": self.name, "metric": self.metric,
                "baseline": self.baseline, "current": self.current, "delta": _round(self.delta),
                "deltaPercent": _round(self.delta_pct), "limit": _round(self.limit),
                "rule": self.rule, "status": self.status, "regressed": self.regressed,
                "improved": self.improved}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


@dataclass
class Comparison:
    current: dict              # {"runId", "name", "startTime", "status", "exitCode", "durationSeconds"}
    baseline: dict             # the same for the baseline run, plus "baselineName"
    rules: list[Rule]
    rows: list[Row] = field(default_factory=list)
    missing_scenarios: list[str] = field(default_factory=list)   # in the baseline, not in this run
    new_scenarios: list[str] = field(default_factory=list)       # in this run, not in the baseline
    missing_requests: list[str] = field(default_factory=list)
    new_requests: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> list[str]:
        """Labels of the regressed metrics: `p95`, `error_rate (request Login)`, ..."""
        return [r.label for r in self.rows if r.regressed]

    @property
    def improved(self) -> list[str]:
        return [r.label for r in self.rows if r.improved]

    @property
    def ok(self) -> bool:
        return not self.regressed

    def rows_for(self, scope: str) -> list[Row]:
        return [r for r in self.rows if r.scope == scope]

    def to_dict(self) -> dict:
        return {"verdict": "passed" if self.ok else "regressed",
                "current": self.current, "baseline": self.baseline,
                "rules": [r.text for r in self.rules],
                "regressed": self.regressed, "improved": self.improved,
                "rows": [r.to_dict() for r in self.rows],
                "missing": {"scenarios": self.missing_scenarios, "requests": self.missing_requests},
                "new": {"scenarios": self.new_scenarios, "requests": self.new_requests},
                "notes": self.notes}


def _identity(doc: dict) -> dict:
    return {k: doc.get(k) for k in ("runId", "name", "startTime", "status", "exitCode", "durationSeconds")}


def _rows(scope: str, name: str | None, cur_block: dict | None, base_block: dict | None,
          cur_eff: float | None, base_eff: float | None, rules: Iterable[Rule]) -> list[Row]:
    out = []
    for rule in rules:
        if scope == REQUEST and rule.family == EFFICIENCY:
            continue    # efficiency is a scenario-level figure
        b = metric_value(base_block, rule.metric, base_eff)
        c = metric_value(cur_block, rule.metric, cur_eff)
        if b is None or c is None:
            out.append(Row(scope, name, rule.metric, b, c, None, rule.text, False, False))
            continue
        out.append(Row(scope, name, rule.metric, b, c, rule.limit(b), rule.text,
                       rule.regressed(b, c), rule.improved(b, c)))
    return out


def compare(current: dict, baseline: dict, rules: list[Rule] | str | None = None,
            baseline_name: str | None = None, scope: str = "all") -> Comparison:
    """Hold `current` against `baseline` (both results documents) under `rules`.

    `rules` is a parsed list, a rules text, or None for the defaults. `scope` "all" checks
    the run, each scenario and each request; "overall" checks the whole run only.
    Raises ValueError if either document is not a results document, RuleError for bad rules.
    """
    validate_results(current)
    validate_results(baseline)
    if scope not in ("all", OVERALL):
        raise ValueError(f"scope must be 'all' or 'overall', not '{scope}'")
    if rules is None or isinstance(rules, str):
        rules = parse_rules(rules)
    rules = list(rules) or default_rules()

    cmp = Comparison(current=_identity(current),
                     baseline={**_identity(baseline), "baselineName": baseline_name}, rules=rules)
    cmp.rows += _rows(OVERALL, None, current["metrics"], baseline["metrics"],
                      run_efficiency(current), run_efficiency(baseline), rules)

    cur_sc, base_sc = current.get("scenarios") or {}, baseline.get("scenarios") or {}
    cur_rq, base_rq = current.get("requests") or {}, baseline.get("requests") or {}
    cmp.missing_scenarios = [s for s in base_sc if s not in cur_sc]
    cmp.new_scenarios = [s for s in cur_sc if s not in base_sc]
    cmp.missing_requests = [r for r in base_rq if r not in cur_rq]
    cmp.new_requests = [r for r in cur_rq if r not in base_rq]
    if scope == "all":
        for s in cur_sc:
            if s in base_sc:
                cmp.rows += _rows(SCENARIO, s, cur_sc[s], base_sc[s], run_efficiency(current, s),
                                  run_efficiency(baseline, s), rules)
        for r in cur_rq:
            if r in base_rq:
                cmp.rows += _rows(REQUEST, r, cur_rq[r], base_rq[r], None, None, rules)
    cmp.notes = _notes(current, baseline)
    return cmp


def _notes(current: dict, baseline: dict) -> list[str]:
    """Reasons to read the comparison with care; none of them is a regression."""
    notes = []
    if current.get("runId") and current.get("runId") == baseline.get("runId"):
        notes.append("this run is its own baseline; every change is zero")
    cn, bn = current.get("name"), baseline.get("name")
    if cn and bn and cn != bn:
        notes.append(f"comparing test '{cn}' with a baseline from test '{bn}'")
    for who, doc in (("the baseline run", baseline), ("this run", current)):
        status = doc.get("status")
        if status and status != "passed":
            why = f": {doc['abortReason']}" if doc.get("abortReason") else ""
            notes.append(f"{who} {status} (exit {doc.get('exitCode')}){why}")
    cd, bd = _num(current.get("durationSeconds")), _num(baseline.get("durationSeconds"))
    if cd and bd and max(cd, bd) / min(cd, bd) > 1.25:
        notes.append(f"durations differ ({cd:g}s now, {bd:g}s in the baseline); rates and tail "
                     "percentiles may not be comparable")
    return notes
