"""analysis/verdict.py: the observed value of a threshold from a results document (pure)."""

from __future__ import annotations

import pytest

from lunge_mp.analysis.thresholds import parse_threshold
from lunge_mp.analysis.verdict import observe, verdicts


def block(passes: int | None, fails: int | None, requests: int = 10, check_failures: int = 0) -> dict:
    """A metrics block; passes None = a document from before the `checks` block existed."""
    b = {"http_reqs": {"count": requests, "rate": requests / 10},
         "http_req_failed": {"count": check_failures, "rate": check_failures / requests if requests else 0.0,
                             "byClass": {"check": check_failures} if check_failures else {}}}
    if passes is not None:
        total = passes + fails
        b["checks"] = {"passes": passes, "fails": fails, "rate": round(passes / total, 6) if total else None}
    return b


def doc(run: dict, scenarios: dict | None = None, requests: dict | None = None, buckets=()) -> dict:
    return {"metrics": run, "scenarios": scenarios or {}, "requests": requests or {},
            "durationSeconds": 10.0, "measuredFrom": 0, "buckets": list(buckets)}


def no_percentile(*_):
    return None


# (id, threshold metric, document, observed)
OBSERVES = [
    ("run passes and fails", "checks", doc(block(20, 10)), 20 / 30),
    ("exact, not the rounded rate", "checks", doc(block(1, 2)), 1 / 3),
    # 3 of 10 requests had a failing assertion, but each request carried 4 assertions:
    # the rate is over assertions, not over requests (the old approximation said 0.7)
    ("over assertions, not requests", "checks", doc(block(37, 3, requests=10, check_failures=3)), 37 / 40),
    ("no assertions at all", "checks", doc(block(0, 0)), None),
    ("no requests", "checks", doc(block(0, 0, requests=0)), None),
    ("old document without checks", "checks", doc(block(None, None, check_failures=3)), None),
    ("per scenario", "checks{scenario:b}",
     doc(block(20, 10), scenarios={"a": block(20, 0), "b": block(0, 10)}), 0.0),
    ("per request", "checks{request:home}",
     doc(block(20, 10), requests={"home": {"scenario": "a", "request": "home", **block(20, 0)},
                                  "down": {"scenario": "a", "request": "down", **block(0, 10)}}), 1.0),
]


@pytest.mark.parametrize("metric,results,observed", [c[1:] for c in OBSERVES], ids=[c[0] for c in OBSERVES])
def test_checks_rate_is_passes_over_all_assertions(metric, results, observed):
    got = observe(parse_threshold(metric, "rate>0.9"), results, no_percentile)
    assert got == (pytest.approx(observed) if observed is not None else None)


def test_a_failed_checks_threshold_reports_its_observed_value_and_no_data_is_not_ok():
    results = doc(block(20, 10))
    [failed] = verdicts((parse_threshold("checks", "rate>0.9"),), results, no_percentile)
    assert failed["ok"] is False and failed["observed"] == pytest.approx(2 / 3)
    [nothing] = verdicts((parse_threshold("checks", "rate>0.9"),), doc(block(0, 0)), no_percentile)
    assert nothing["ok"] is False and nothing["observed"] is None


def test_windowed_checks_judge_each_window_on_its_own_assertions():
    # seconds 0-3: all pass; second 4: 6 of 10 fail; a 1 s window catches it, the run does not
    buckets = [{"t": t, "checksPassed": 10, "checksFailed": 0, "byScenario": {}} for t in range(4)]
    buckets.append({"t": 4, "checksPassed": 4, "checksFailed": 6, "byScenario": {}})
    buckets.append({"t": 5, "byScenario": {}})          # a bucket from before checks existed
    results = doc(block(44, 6), buckets=buckets)
    whole, windowed = verdicts((parse_threshold("checks", "rate>0.8"),
                                parse_threshold("checks", "rate>0.8 over 1s")),
                               results, no_percentile, lambda *_: [])
    assert whole["ok"] is True and whole["observed"] == pytest.approx(44 / 50)
    assert windowed["ok"] is False and windowed["observed"] == pytest.approx(0.4)
    assert windowed["firstFailure"] == 4 and windowed["windowStart"] == 4


def test_all_failed_warning_only_when_every_request_failed():
    from lunge_mp.report.results import all_failed_warning

    def metrics(requests, failed, by_class, first=None):
        return {"http_reqs": {"count": requests},
                "http_req_failed": {"count": failed, "byClass": by_class, "firstError": first or {}}}

    assert all_failed_warning(metrics(0, 0, {})) is None
    assert all_failed_warning(metrics(10, 9, {"http_5xx": 9})) is None
    text = all_failed_warning(metrics(10, 10, {"http_5xx": 4, "connect": 6}, {"connect": "refused"}))
    assert text == "every request failed (10; connect: 6, first: refused); is the target running and baseUrl right?"
    assert all_failed_warning(metrics(3, 3, {"http_4xx": 3})) == "every request failed (3; http_4xx: 3)"
