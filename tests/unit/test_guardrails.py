"""Guardrails, pure parts: config section, allowedHosts, maxRate capping (exact), the runtime Guard."""

from __future__ import annotations

import math
from fractions import Fraction as F
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunge_mp.schedule.capped_rate import CappedRate, capped, peak_rate
from lunge_mp.analysis.guardrails import (Guard, Sample, Window, apply_caps, plan_problems, rate_caps,
                                          request_hosts, start_notes)
from lunge_mp.analysis.hosts import HostMatcher, host_pattern_problem, url_host
from lunge_mp.config import ConfigError, plan_from_dict
from lunge_mp.executors import ConstantArrivalRate
from lunge_mp.executors.shapes import shape_from
from lunge_mp.plan import Guardrails, ScenarioPlan, WarnThresholds
from lunge_mp.schedule.arrivals import ArrivalClock
from lunge_mp.schedule.rates import Constant, ExactRateFn, PiecewiseLinear


def _doc(guardrails: Any = None, url: str = "http://127.0.0.1:8080/x", **extra: Any) -> dict:
    doc = {"name": "g", "scenarios": {"s": {"executor": "constant-arrival-rate", "rate": 10, "duration": "2s",
                                            "requests": [{"url": url}]}}, **extra}
    if guardrails is not None:
        doc["guardrails"] = guardrails
    return doc


# --- config ------------------------------------------------------------------------------------

@pytest.mark.parametrize("section, expected", [
    pytest.param(None, Guardrails(), id="defaults"),
    pytest.param({}, Guardrails(), id="empty"),
    pytest.param({"maxRate": 20000, "maxTotalRequests": 5000000, "maxDuration": "2h", "maxMemoryMB": 4096,
                  "maxCPUPercent": 95, "emergencyStop": False, "warnThresholds": {"rate": 0.5},
                  "allowedHosts": ["127.0.0.1", "*.staging.example.com"]},
                 Guardrails(max_rate=20000, max_total_requests=5000000, max_duration=7200, max_memory_mb=4096,
                            max_cpu_percent=95, emergency_stop=False,
                            warn_thresholds=WarnThresholds(rate=0.5),
                            allowed_hosts=("127.0.0.1", "*.staging.example.com")), id="config-md"),
    pytest.param({"max_rate": 10, "max_duration": 30, "emergency_stop": False,
                  "warn_thresholds": {"rate_warning": 0.9, "cpu_warning": 0.5}},
                 Guardrails(max_rate=10, max_duration=30, emergency_stop=False,
                            warn_thresholds=WarnThresholds(rate=0.9, cpu=0.5)), id="seed-004-snake-case"),
])
def test_config_section(section: Any, expected: Guardrails) -> None:
    assert plan_from_dict(_doc(section)).guardrails == expected


@pytest.mark.parametrize("section, error", [
    ({"maxRate": 0}, "guardrails.maxRate: must be > 0"),
    ({"maxRate": "fast"}, "guardrails.maxRate: must be a number"),
    ({"maxTotalRequests": 1.5}, "guardrails.maxTotalRequests: must be an integer"),
    ({"maxDuration": "soon"}, "guardrails.maxDuration:"),
    ({"maxCPUPercent": 120}, "guardrails.maxCPUPercent: must be a percentage"),
    ({"emergencyStop": "yes"}, "guardrails.emergencyStop: must be true or false"),
    ({"warnThresholds": {"memory": 80}}, "guardrails.warnThresholds.memory: must be a fraction"),
    ({"warnThresholds": {"disk": 0.5}}, "guardrails.warnThresholds.disk: unknown field"),
    ({"allowedHosts": "127.0.0.1"}, "guardrails.allowedHosts: must be a list"),
    ({"allowedHosts": ["api.*.com"]}, "guardrails.allowedHosts[0]: '*' is only allowed"),
    ({"allowedHosts": ["h:0"]}, "guardrails.allowedHosts[0]: port '0'"),
    ({"maxRate": 1, "max_rate": 2}, "given twice"),
    ({"maxRat": 1}, "did you mean 'maxRate'?"),
    ("all of them", "guardrails: must be a mapping"),
])
def test_config_errors(section: Any, error: str) -> None:
    with pytest.raises(ConfigError) as exc:
        plan_from_dict(_doc(section))
    assert any(error in line for line in exc.value.errors), exc.value.errors


# --- allowedHosts ------------------------------------------------------------------------------

@pytest.mark.parametrize("patterns, url, allowed", [
    ([], "http://anything.example.org/", True),
    (["*"], "http://anything.example.org/", True),
    (["127.0.0.1"], "http://127.0.0.1:8080/x", True),
    (["127.0.0.1"], "http://localhost:8080/x", False),          # names are not resolved
    (["127.0.0.1:8080"], "http://127.0.0.1:8080/x", True),
    (["127.0.0.1:8080"], "http://127.0.0.1:9090/x", False),
    (["api.example.com:443"], "https://API.Example.com./v1", True),
    (["*.staging.example.com"], "http://a.staging.example.com/", True),
    (["*.staging.example.com"], "http://a.b.staging.example.com/", True),
    (["*.staging.example.com"], "http://staging.example.com/", False),
    (["*.staging.example.com"], "http://evilstaging.example.com/", False),
    (["*.staging.example.com"], "http://staging.example.com.evil.org/", False),
    (["10.0.0.0/8"], "http://10.1.2.3/", True),
    (["10.0.0.0/8"], "http://11.1.2.3/", False),
    (["10.0.0.0/8"], "http://ten.example/", False),
    (["::1"], "http://[::1]:8080/", True),
    (["[::1]:8080"], "http://[::1]:8081/", False),
    (["good.example"], "http://good.example@evil.example/", False),   # userinfo is not the host
    (["good.example"], "http://user:pw@good.example/", True),
])
def test_host_matching(patterns: list[str], url: str, allowed: bool) -> None:
    matcher = HostMatcher(patterns)
    assert matcher.allows_url(url) is allowed
    assert matcher.allows_url(url) is allowed    # cached answer is the same


@pytest.mark.parametrize("pattern, ok", [
    ("127.0.0.1", True), ("localhost", True), ("*.a.b", True), ("*", True), ("fd00::/8", True),
    ("[::1]:80", True), ("a_b.internal", True), ("a*.b", False), ("*.", True), ("*.*.a", False),
    ("http://a", False), ("a..b", False), ("a b", False), ("h:x", False), ("[::1", False),
])
def test_host_pattern_shapes(pattern: str, ok: bool) -> None:
    assert (host_pattern_problem(pattern) is None) is ok


def test_url_host_defaults_the_port() -> None:
    assert url_host("https://x.example/a") == ("x.example", 443)
    assert url_host("http://x.example:81") == ("x.example", 81)
    assert url_host("/relative") is None
    assert url_host("http://x:99999999/") is None


def test_plan_hosts_are_checked_with_variables_filled_in() -> None:
    doc = _doc({"allowedHosts": ["127.0.0.1"]}, url="http://{{host}}:8080/x?k={{uuid}}",
               variables={"host": "10.9.9.9"})
    plan = plan_from_dict(doc)
    problems = plan_problems(plan)
    assert len(problems) == 1 and "host '10.9.9.9'" in problems[0] and "scenarios.s.requests[0].url" in problems[0]
    ok = plan_from_dict({**doc, "variables": {"host": "127.0.0.1"}})
    assert plan_problems(ok) == []


def test_host_known_only_at_run_time_is_left_to_the_worker() -> None:
    doc = _doc({"allowedHosts": ["127.0.0.1"]})
    doc["scenarios"]["s"]["requests"] = [
        {"url": "http://127.0.0.1:8080/login", "extract": [{"name": "next", "source": "header", "path": "Location"}]},
        {"url": "{{next}}"},
        {"url": "http://evil.example/items/{{next}}"}]
    plan = plan_from_dict(doc)
    hosts = request_hosts(plan)
    assert [h[2] for h in hosts] == [("127.0.0.1", 8080), None, ("evil.example", 80)]
    assert len(plan_problems(plan)) == 1


# --- maxRate: capped rate functions ------------------------------------------------------------

def _reference_hits(fn, cap: float, ts: list[float], steps: int = 40_000) -> list[float]:
    """∫₀ᵗ min(R, cap) for each t in `ts` by the midpoint rule on a grid over [0, D]
    (independent of the implementation); the partial cell before t is added exactly enough."""
    d = fn.duration
    h = d / steps
    cum = [0.0]
    for i in range(steps):
        cum.append(cum[-1] + min(fn.rate((i + 0.5) * h), cap) * h)
    out = []
    for t in ts:
        k = min(steps, int(t / h))
        rest = t - k * h
        out.append(cum[k] + (min(fn.rate(k * h + rest / 2), cap) * rest if rest > 0 else 0.0))
    return out


@pytest.mark.parametrize("fn, cap, total", [
    (Constant(500, 4), 200, 800),
    (PiecewiseLinear(0, [(10, 1000)]), 400, 3200),                 # 0.5·4·400 + 6·400
    (PiecewiseLinear(1000, [(10, 0)]), 400, 3200),                 # the mirror image
    (PiecewiseLinear(100, [(2, 100), (0, 900), (2, 900), (2, 100)]), 500, 200 + 1000 + 500 + 300),
    (Constant(100, 3), 200, 300),                                   # never above: unchanged
])
def test_capped_piecewise_is_exact(fn, cap: float, total: int) -> None:
    c = capped(fn, cap)
    assert isinstance(c, ExactRateFn)
    assert c.total_hits() == total
    assert peak_rate(c) <= cap
    assert ArrivalClock(c).total_expected() == total


def test_capped_constant_equals_the_constant_at_the_cap() -> None:
    c = capped(Constant(500, 4), 200)
    assert c.instants_us(0, 800) == Constant(200, 4).instants_us(0, 800)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.integers(0, 2000), stages=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2000)),
                                                   min_size=1, max_size=5),
       cap=st.integers(1, 1500))
def test_capped_piecewise_property(start: int, stages: list[tuple[int, int]], cap: int) -> None:
    fn = PiecewiseLinear(start, stages)
    if fn.duration == 0:
        return
    c = capped(fn, cap)
    assert c.duration == fn.duration
    # exact total against an exact reference: ∫ min(R, c) piece by piece in Fractions
    ref = F(0)
    v = F(start)
    for d, target in stages:
        d, target = F(d), F(target)
        if d > 0:
            lo, hi, cf = v, target, F(cap)
            if max(lo, hi) <= cf:
                ref += (lo + hi) * d / 2
            elif min(lo, hi) >= cf:
                ref += cf * d
            else:
                tau = (cf - lo) / ((hi - lo) / d)
                ref += (lo + cf) * tau / 2 + cf * (d - tau) if lo < cf else cf * tau + (cf + hi) * (d - tau) / 2
        v = target
    assert c.total_hits() == math.ceil(ref)
    # no 1-second window holds more than cap + 1 arrivals
    instants = c.instants_us(0, c.total_hits())
    j = 0
    for i, t in enumerate(instants):
        while instants[j] <= t - 1_000_000:
            j += 1
        assert i - j + 1 <= cap + 1


@pytest.mark.parametrize("spec, cap", [
    ({"type": "sine", "duration": 20.0, "baseRate": 100, "amplitude": 50, "period": 5.0}, 120),
    ({"type": "sine", "duration": 20.0, "baseRate": 100, "amplitude": 50, "period": 5.0, "phase": 1.0}, 60),
    ({"type": "ramp", "duration": 10.0, "startRate": 10, "endRate": 1000, "rampType": "exponential"}, 300),
    ({"type": "ramp", "duration": 10.0, "startRate": 1000, "endRate": 10, "rampType": "logarithmic"}, 300),
])
def test_capped_smooth_patterns(spec: dict, cap: float) -> None:
    fn = shape_from(spec).rate_fn()
    c = capped(fn, cap)
    assert isinstance(c, CappedRate)
    d = fn.duration
    ts = [0.0, d / 7, d / 3, d / 2, d * 0.9, d]
    for t, ref in zip(ts, _reference_hits(fn, cap, ts)):
        assert c.hits(t) == pytest.approx(ref, rel=1e-4, abs=1e-2)
    assert all(c.rate(d * i / 1000) <= cap for i in range(1000))
    clock = ArrivalClock(c)
    instants = clock.take_until(math.inf)
    assert len(instants) == math.ceil(c.hits(d))
    assert instants == sorted(instants)
    per_second: dict[int, int] = {}
    for us in instants:
        per_second[us // 1_000_000] = per_second.get(us // 1_000_000, 0) + 1
    assert max(per_second.values()) <= cap + 1


def test_peak_rates() -> None:
    assert peak_rate(Constant(5, 1)) == 5
    assert peak_rate(PiecewiseLinear(0, [(1, 10), (1, 3)])) == 10
    assert peak_rate(shape_from({"type": "sine", "duration": 10.0, "baseRate": 10, "amplitude": 4,
                                 "period": 2.0}).rate_fn()) == 14


def _open(name: str, rate: float, requests: int = 1, duration: float = 10.0) -> ScenarioPlan:
    from lunge_mp.plan import RequestSpec
    return ConstantArrivalRate(name=name, rate=rate, duration=duration,
                        requests=tuple(RequestSpec(name=f"r{i}", method="GET", url="http://h/") for i in range(requests)))


@pytest.mark.parametrize("windows, max_rate, caps", [
    pytest.param([Window(_open("a", 100), 0, 10)], 5000, {}, id="under"),
    pytest.param([Window(_open("a", 8000), 0, 10)], 5000, {"a": 5000}, id="one-over"),
    pytest.param([Window(_open("a", 3000, requests=2), 0, 10)], 5000, {"a": 2500}, id="two-requests-each"),
    pytest.param([Window(_open("a", 100), 0, 10), Window(_open("b", 10000), 0, 10)], 5000, {"b": 4900},
                 id="water-filling"),
    pytest.param([Window(_open("a", 4000), 0, 10), Window(_open("b", 4000), 0, 10)], 5000,
                 {"a": 2500, "b": 2500}, id="even-split"),
    pytest.param([Window(_open("a", 4000), 0, 10), Window(_open("b", 4000), 10, 20)], 5000, {},
                 id="one-after-the-other"),
    pytest.param([Window(_open("a", 4000), 0, 10, group=1), Window(_open("b", 4000), 0, 10, group=2)], 5000, {},
                 id="sequential-groups"),
])
def test_rate_caps(windows: list[Window], max_rate: float, caps: dict[str, float]) -> None:
    assert rate_caps(windows, max_rate) == pytest.approx(caps)


def test_apply_caps_changes_the_rate_function_and_notes_say_so() -> None:
    plan = plan_from_dict(_doc({"maxRate": 4}))
    capped_plan = apply_caps(plan, {"s": 4.0})
    s = capped_plan.scenarios[0]
    assert s.rate_cap == 4.0 and s.target_fn().total_hits() == 8
    assert s.rate_fn().total_hits() == plan.scenarios[0].target_fn().total_hits() > 8
    notes = start_notes(capped_plan, planned_s=2.0, planned_requests=8)
    assert any("capped at 4 iterations/s" in n for n in notes)


def test_start_notes_name_limits_the_plan_runs_into() -> None:
    plan = plan_from_dict(_doc({"maxDuration": "1s", "maxTotalRequests": 5}))
    notes = start_notes(plan, planned_s=2.0, planned_requests=20)
    assert any("maxDuration" in n and "stopped at 1s" in n for n in notes)
    assert any("maxTotalRequests" in n and "20 requests" in n for n in notes)


# --- the runtime guard -------------------------------------------------------------------------

def _kinds(events) -> list[tuple[str, str]]:
    return [(e.guardrail, e.kind) for e in events]


def test_guard_duration_and_requests() -> None:
    g = Guard(Guardrails(max_duration=10, max_total_requests=100))
    assert g.check(Sample(t=5, requests=99)) == []
    assert _kinds(g.check(Sample(t=10, requests=100))) == [("maxDuration", "breach"), ("maxTotalRequests", "breach")]
    assert g.check(Sample(t=11, requests=200)) == []          # each guardrail breaches once


def test_guard_rate_warns_then_breaches_on_a_3_second_mean() -> None:
    g = Guard(Guardrails(max_rate=100))
    assert _kinds(g.check(Sample(1, 0, second=0, second_requests=85))) == [("maxRate", "warn")]
    assert g.check(Sample(2, 0, second=1, second_requests=150)) == []
    assert g.check(Sample(2.5, 0, second=1, second_requests=150)) == []   # same second again: ignored
    assert _kinds(g.check(Sample(3, 0, second=2, second_requests=150))) == [("maxRate", "breach")]


def test_guard_rate_tolerates_bunching_below_ten_percent() -> None:
    g = Guard(Guardrails(max_rate=100))
    events = []
    for second, n in enumerate([100, 108, 104, 100, 109]):
        events += g.check(Sample(second + 1, 0, second=second, second_requests=n))
    assert _kinds(events) == [("maxRate", "warn")]


def test_guard_memory_and_cpu() -> None:
    g = Guard(Guardrails(max_memory_mb=1000, max_cpu_percent=50))
    assert _kinds(g.check(Sample(1, 0, memory_mb=850, cpu_percent=20))) == [("maxMemoryMB", "warn")]
    assert _kinds(g.check(Sample(2, 0, memory_mb=1001, cpu_percent=60))) == [("maxMemoryMB", "breach"),
                                                                            ("maxCPUPercent", "warn")]
    assert g.check(Sample(3, 0, cpu_percent=60)) == []
    assert _kinds(g.check(Sample(4, 0, cpu_percent=60))) == [("maxCPUPercent", "breach")]
    assert g.summary()["peaks"] == {"rate": 0, "memoryMB": 1001, "cpuPercent": 60}


def test_guard_cpu_breach_needs_three_seconds_in_a_row() -> None:
    g = Guard(Guardrails(max_cpu_percent=50))
    events = []
    for i, cpu in enumerate([60, 60, 10, 60, 60, 10]):
        events += g.check(Sample(i, 0, cpu_percent=cpu))
    assert ("maxCPUPercent", "breach") not in _kinds(events)


def test_guard_default_memory_limit_is_part_of_the_box() -> None:
    assert Guard(Guardrails(), box_memory_mb=10_000).memory_mb == 8000
    assert Guard(Guardrails(max_memory_mb=64), box_memory_mb=10_000).memory_mb == 64
