"""Baseline comparison: rule grammar, verdicts per metric and place, and the console view."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lunge_mp.analysis.compare import (
    DEFAULT_RULES,
    RuleError,
    compare,
    metric_value,
    parse_rule,
    parse_rules,
    validate_results,
)
from lunge_mp.report.compare_view import format_comparison, history_table

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "compare_baseline.json"
LATENCY_KEYS = ("min", "avg", "med", "p50", "p90", "p95", "p99", "p99.9", "max")


@pytest.fixture(scope="module")
def base() -> dict:
    """A real results document (configs/demo.yaml: scenarios open + closed, two requests)."""
    return json.loads(FIXTURE.read_text())


def blocks(doc: dict):
    yield doc["metrics"]
    yield from doc["scenarios"].values()
    yield from doc["requests"].values()


def edited(doc: dict, latency: float = 1.0, keys=LATENCY_KEYS, rate: float = 1.0,
           error_rate: float | None = None, where: str | None = None) -> dict:
    """A copy with latencies × `latency` (only `keys`), request rates × `rate`, error rate set.

    `where` limits the edit to one request (and leaves the totals alone).
    """
    out = copy.deepcopy(doc)
    out["runId"] = "edited"
    targets = [out["requests"][where]] if where else list(blocks(out))
    for b in targets:
        d = b["http_req_duration"]
        for k in keys:
            if d.get(k) is not None:
                d[k] = d[k] * latency
        b["http_reqs"]["rate"] *= rate
        if error_rate is not None:
            b["http_req_failed"]["rate"] = error_rate
    return out


# -- grammar --------------------------------------------------------------------------------

# (id, text, metric, relative part, absolute part, canonical text)
PARSES = [
    ("latency-relative", "p95=10%", "p95", 0.10, 0, "p95=+10%"),
    ("latency-relative-plus", "p99=+15%", "p99", 0.15, 0, "p99=+15%"),
    ("latency-absolute-ms", "p95=+5ms", "p95", 0, 5.0, "p95=+5ms"),
    ("latency-absolute-s", "max=1.5s", "max", 0, 1500.0, "max=+1.5s"),
    ("latency-absolute-us", "p50=+500us", "p50", 0, 0.5, "p50=+500us"),
    ("latency-both", "p95=10%+1ms", "p95", 0.10, 1.0, "p95=+10%+1ms"),
    ("latency-both-reversed", "p99 = +2ms + 5%", "p99", 0.05, 2.0, "p99=+2ms+5%"),
    ("med-is-p50", "med=5%", "p50", 0.05, 0, "p50=+5%"),
    ("avg", "avg=20%", "avg", 0.20, 0, "avg=+20%"),
    ("p90-spaces-case", "  P90 =  + 7 % ", "p90", 0.07, 0, "p90=+7%"),
    ("error-rate-pp", "error_rate=+0.5pp", "error_rate", 0, 0.005, "error_rate=+0.5pp"),
    ("error-rate-no-sign", "error_rate=2pp", "error_rate", 0, 0.02, "error_rate=+2pp"),
    ("rps-relative", "rps=-5%", "rps", 0.05, 0, "rps=-5%"),
    ("rps-no-sign", "rps=5%", "rps", 0.05, 0, "rps=-5%"),
    ("throughput-alias", "throughput=-10%", "rps", 0.10, 0, "rps=-10%"),
    ("rps-absolute", "rps=-50/s", "rps", 0, 50.0, "rps=-50/s"),
    ("rps-bare-number", "rps=-50", "rps", 0, 50.0, "rps=-50/s"),
    ("rps-both", "rps=-5%-20/s", "rps", 0.05, 20.0, "rps=-5%-20/s"),
    ("efficiency-pp", "efficiency=-1pp", "efficiency", 0, 0.01, "efficiency=-1pp"),
    ("efficiency-relative", "efficiency=-2%", "efficiency", 0.02, 0, "efficiency=-2%"),
    ("decimal", "p95=.5%", "p95", 0.005, 0, "p95=+0.5%"),
]


@pytest.mark.parametrize("text,metric,relative,absolute,canonical", [c[1:] for c in PARSES],
                         ids=[c[0] for c in PARSES])
def test_rule_parses(text, metric, relative, absolute, canonical):
    rule = parse_rule(text)
    assert (rule.metric, rule.text) == (metric, canonical)
    assert rule.relative == pytest.approx(relative)
    assert rule.absolute == pytest.approx(absolute)
    assert parse_rule(rule.text) == rule    # the canonical spelling parses back to the same rule


@pytest.mark.parametrize("text,baseline,limit", [
    pytest.param("p95=10%", 20.0, 22.0, id="latency-relative"),
    pytest.param("p95=+3ms", 20.0, 23.0, id="latency-absolute"),
    pytest.param("p95=10%+1ms", 0.4, 1.44, id="latency-both-small"),
    pytest.param("p95=10%+1ms", 200.0, 221.0, id="latency-both-large"),
    pytest.param("error_rate=+1pp", 0.02, 0.03, id="error-rate"),
    pytest.param("rps=-10%", 500.0, 450.0, id="rps-relative"),
    pytest.param("rps=-5%-20/s", 1000.0, 930.0, id="rps-both"),
    pytest.param("efficiency=-1pp", 1.0, 0.99, id="efficiency"),
])
def test_rule_limit(text, baseline, limit):
    assert parse_rule(text).limit(baseline) == pytest.approx(limit)


# (id, text, the message must contain)
REJECTS = [
    ("unknown-metric", "p96=10%", "unknown metric 'p96'"),
    ("did-you-mean", "eror_rate=+1pp", "did you mean 'error_rate'"),
    ("no-equals", "p95 10%", "'p95 10%' has no '='"),
    ("no-metric", "=10%", "names no metric"),
    ("no-number", "p95=fast", "'fast' is not a number"),
    ("empty-limit", "p95=", "is not a number"),
    ("no-unit-latency", "p95=10", "needs a unit"),
    ("two-relative-parts", "p95=10%+5%", "two relative parts"),
    ("three-parts", "p95=10%+1ms+1s", "at most two parts"),
    ("parts-not-joined", "p95=10% 1ms", "join two parts with '+'"),
    ("second-part-wrong-sign", "p95=10%-1ms", "gets worse when it rises"),
    ("junk-after", "p95=10%x", "cannot read 'x'"),
    ("wrong-unit", "p95=10pp", "unit 'pp' does not fit p95"),
    ("error-rate-percent", "error_rate=+1%", "percentage points"),
    ("latency-wrong-sign", "p95=-10%", "gets worse when it rises"),
    ("rps-wrong-sign", "rps=+5%", "gets worse when it falls"),
    ("efficiency-wrong-sign", "efficiency=+1pp", "gets worse when it falls"),
    ("rps-all-of-it", "rps=-100%", "cannot fall by 100%"),
    ("empty-between-commas", "p95=10%,,p99=5%", "empty rule"),
    ("trailing-comma", "p95=10%,", "empty rule"),
    ("twice", "p95=10%,P95=+3ms", "p95 is given twice"),
    ("alias-twice", "rps=-5%,throughput=-10%", "rps is given twice"),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in REJECTS], ids=[c[0] for c in REJECTS])
def test_rule_rejected_with_a_message_that_quotes_it(text, expected):
    with pytest.raises(RuleError) as err:
        parse_rules(text)
    assert expected in str(err.value)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_rules_means_the_defaults(text):
    rules = parse_rules(text)
    assert [r.text for r in rules] == ["p95=+10%+1ms", "p99=+15%+2ms", "error_rate=+1pp", "rps=-10%"]
    assert rules == parse_rules(DEFAULT_RULES)


def test_the_brief_example_parses():
    assert [r.text for r in parse_rules("p95=10%,error_rate=+0.5pp,rps=-5%")] == \
        ["p95=+10%", "error_rate=+0.5pp", "rps=-5%"]


@given(metric=st.sampled_from(["p50", "p90", "p95", "p99", "avg", "max", "rps", "efficiency", "error_rate"]),
       pct=st.floats(0.1, 90), base=st.floats(0.01, 1e5))
def test_the_limit_itself_passes_and_just_beyond_it_regresses(metric, pct, base):
    unit = {"error_rate": "pp", "efficiency": "pp"}.get(metric, "%")
    rule = parse_rule(f"{metric}={pct}{unit}")
    limit = rule.limit(base)
    assert not rule.regressed(base, limit)
    worse = limit * (1 + 1e-6) + 1e-6 if rule.higher_is_worse else limit * (1 - 1e-6) - 1e-6
    assert rule.regressed(base, worse)
    assert not rule.regressed(base, base)
    assert not rule.improved(base, base)


# -- comparing ------------------------------------------------------------------------------

# (id, how to make the current run, rules, regressed labels that must appear, labels that must not)
CASES = [
    ("identical", lambda b: edited(b), None, [], ["p95"]),
    ("better-run", lambda b: edited(b, latency=0.8, rate=1.2), None, [], ["p95", "rps"]),
    ("worse-p95-everywhere", lambda b: edited(b, latency=1.2, keys=("p95",)), "p95=10%,p99=15%",
     ["p95", "p95 (scenario open)", "p95 (scenario closed)", "p95 (request GET /json)"], ["p99"]),
    ("p95-exactly-at-limit", lambda b: edited(b, latency=1.1, keys=("p95",)), "p95=10%", [], ["p95"]),
    ("p95-within-looser-rule", lambda b: edited(b, latency=1.2, keys=("p95",)), "p95=25%", [], ["p95"]),
    ("p95-absolute-ms", lambda b: edited(b, latency=1.2, keys=("p95",)), "p95=+2ms",
     ["p95", "p95 (request GET /delay/20)"], ["p95 (request GET /json)"]),   # +4.4ms vs +0.26ms
    ("one-request-worse", lambda b: edited(b, latency=1.5, keys=("p99",), where="GET /json"), "p99=15%",
     ["p99 (request GET /json)"], ["p99", "p99 (request GET /delay/20)"]),
    ("error-rate-over-pp", lambda b: edited(b, error_rate=0.006), "error_rate=+0.5pp", ["error_rate"], []),
    ("error-rate-under-pp", lambda b: edited(b, error_rate=0.004), "error_rate=+0.5pp", [], ["error_rate"]),
    ("error-rate-default-1pp", lambda b: edited(b, error_rate=0.011), None, ["error_rate"], ["p95"]),
    ("rps-drop", lambda b: edited(b, rate=0.94), "rps=-5%", ["rps", "rps (scenario closed)"], []),
    ("rps-small-drop", lambda b: edited(b, rate=0.96), "rps=-5%", [], ["rps"]),
    ("throughput-alias", lambda b: edited(b, rate=0.5), "throughput=-10%", ["rps"], []),
    ("rules-replace-defaults", lambda b: edited(b, latency=2.0, rate=0.5), "error_rate=+1pp", [], ["p95", "rps"]),
]


@pytest.mark.parametrize("make,rules,must,must_not", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_compare(base, make, rules, must, must_not):
    cmp = compare(make(base), base, rules, baseline_name="nightly")
    for label in must:
        assert label in cmp.regressed
    for label in must_not:
        assert label not in cmp.regressed
    assert cmp.ok == (not must)
    assert all(r.regressed == (r.status == "regressed") for r in cmp.rows)


def test_a_better_run_is_marked_improved(base):
    cmp = compare(edited(base, latency=0.5, rate=1.5), base)
    assert cmp.ok
    assert {"p95", "p99", "rps"} <= set(cmp.improved)
    row = next(r for r in cmp.rows_for("overall") if r.metric == "p95")
    assert row.delta == pytest.approx(-base["metrics"]["http_req_duration"]["p95"] / 2)
    assert row.delta_pct == pytest.approx(-50.0)


def test_rows_cover_the_run_each_scenario_and_each_request(base):
    cmp = compare(edited(base), base, "p95=10%,rps=-5%")
    places = {(r.scope, r.name) for r in cmp.rows}
    assert places == {("overall", None), ("scenario", "open"), ("scenario", "closed"),
                      ("request", "GET /json"), ("request", "GET /delay/20")}
    assert len(cmp.rows) == 2 * len(places)


def test_scope_overall_checks_the_whole_run_only(base):
    cmp = compare(edited(base, latency=1.5, keys=("p95",), where="GET /json"), base, "p95=10%", scope="overall")
    assert {r.scope for r in cmp.rows} == {"overall"}
    assert cmp.ok


def test_missing_and_new_requests_and_scenarios_are_listed_not_regressions(base):
    cur = edited(base)
    cur["requests"]["GET /new"] = cur["requests"].pop("GET /json")
    cur["scenarios"]["added"] = cur["scenarios"].pop("open")
    cmp = compare(cur, base)
    assert cmp.missing_requests == ["GET /json"] and cmp.new_requests == ["GET /new"]
    assert cmp.missing_scenarios == ["open"] and cmp.new_scenarios == ["added"]
    assert cmp.ok
    assert not any(r.name in ("GET /json", "GET /new", "open", "added") for r in cmp.rows)
    text = format_comparison(cmp)
    assert "missing in this run: scenario 'open', request 'GET /json'" in text
    assert "new in this run" in text and "'GET /new'" in text


def test_efficiency_has_no_data_for_a_closed_scenario_and_regresses_when_it_falls(base):
    cmp = compare(edited(base), base, "efficiency=-1pp")
    status = {(r.scope, r.name): r.status for r in cmp.rows}
    assert status[("overall", None)] == "ok"
    assert status[("scenario", "closed")] == "no data"       # closed model: no efficiency
    assert ("request", "GET /json") not in status              # a scenario-level figure
    worse = edited(base)
    worse["efficiency"] = {"overall": 0.97, "byScenario": {"open": 0.97}}
    assert compare(worse, base, "efficiency=-1pp").regressed == ["efficiency", "efficiency (scenario open)"]


def test_a_request_without_samples_is_no_data_not_a_regression(base):
    cur = edited(base)
    r = cur["requests"]["GET /json"]
    r["http_reqs"] = {"count": 0, "rate": 0.0}
    r["http_req_duration"] = {"count": 0, **{k: None for k in LATENCY_KEYS}}
    cmp = compare(cur, base, "p95=10%,error_rate=+1pp")
    assert cmp.ok
    assert {r.status for r in cmp.rows if r.name == "GET /json"} == {"no data"}


@pytest.mark.parametrize("edit,note", [
    pytest.param(lambda d: d.update(name="Other"), "with a baseline from test 'Demo'", id="other-test"),
    pytest.param(lambda d: d.update(status="aborted", exitCode=105, abortReason="signal"),
                 "this run aborted (exit 105): signal", id="aborted"),
    pytest.param(lambda d: d.update(durationSeconds=60.0), "durations differ", id="durations"),
    pytest.param(lambda d: d.update(runId="2d6e172488eb"), "its own baseline", id="same-run"),
])
def test_notes_say_when_the_runs_are_hard_to_compare(base, edit, note):
    cur = edited(base)
    edit(cur)
    cmp = compare(cur, base)
    assert any(note in n for n in cmp.notes), cmp.notes
    assert cmp.ok


def test_to_dict_is_json(base):
    cmp = compare(edited(base, latency=1.3), base, baseline_name="nightly")
    data = json.loads(json.dumps(cmp.to_dict()))
    assert data["verdict"] == "regressed"
    assert "p95" in data["regressed"]
    assert data["baseline"]["baselineName"] == "nightly"
    row = data["rows"][0]
    assert set(row) >= {"scope", "name", "metric", "baseline", "current", "delta", "deltaPercent",
                        "limit", "regressed", "status"}


@pytest.mark.parametrize("doc,expected", [
    pytest.param([], "not an object", id="list"),
    pytest.param({"name": "x"}, "no 'metrics' object", id="no-metrics"),
    pytest.param({"metrics": {"http_reqs": {}}}, "metrics.http_req_duration", id="partial"),
])
def test_not_a_results_document(base, doc, expected):
    with pytest.raises(ValueError, match=expected):
        validate_results(doc)
    with pytest.raises(ValueError, match=expected):
        compare(doc, base)


def test_metric_value_reads_the_right_place(base):
    m = base["metrics"]
    assert metric_value(m, "p95") == m["http_req_duration"]["p95"]
    assert metric_value(m, "med") == m["http_req_duration"]["p50"]
    assert metric_value(m, "throughput") == m["http_reqs"]["rate"]
    assert metric_value(m, "error_rate") == m["http_req_failed"]["rate"]
    assert metric_value(m, "efficiency", 0.5) == 0.5


# -- the view --------------------------------------------------------------------------------

def test_view_marks_regressions_and_improvements(base):
    cur = edited(base, latency=1.3, keys=("p95",))
    cur = edited(cur, latency=0.5, keys=("p99",))
    text = format_comparison(compare(cur, base, parse_rules("p95=10%,p99=15%"), baseline_name="nightly"))
    assert "REGRESSED: p95, p95 (scenario open)" in text
    assert "improved:  p99" in text
    line = next(ln for ln in text.splitlines() if ln.split()[:2] == ["overall", "p95"])
    assert line.rstrip().endswith("REGRESSED") and "(+30.0%)" in line and "<= " in line
    assert "'nightly'" in text and "p95=+10%" in text


def test_view_no_regression(base):
    text = format_comparison(compare(edited(base), base))
    assert "no regression: 20 checks within their limits" in text
    assert "REGRESSED" not in text


def test_history_table_trends_against_the_previous_run_of_the_same_test():
    def run(i, name, rate, p95):
        return {"id": i, "runId": f"r{i}", "name": name, "startTime": f"2026-01-0{i}T03:00:00+00:00",
                "status": "passed", "exitCode": 0, "durationSeconds": 60.0, "requests": 6000,
                "rate": rate, "errorRate": 0.0, "p50": 1.0, "p95": p95, "p99": 3.0, "efficiency": None}
    runs = [run(3, "api", 90.0, 12.0), run(2, "other", 50.0, 1.0), run(1, "api", 100.0, 10.0)]
    lines = history_table(runs).splitlines()
    newest = next(ln for ln in lines if " r3 " in ln)
    assert "-10.0%" in newest and "+20.0%" in newest
    oldest = next(ln for ln in lines if " r1 " in ln)
    assert "%" not in oldest.split("0.00%")[0].replace("passed", "")   # nothing to trend against
    assert "no runs recorded yet" in history_table([])
