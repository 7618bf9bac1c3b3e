"""Config input fuzzed through the `lunge-mp run` path up to the first packet: file text → loader →
plan → the checks that need the whole plan (`runner.load_or_explain`), then what the coordinator
builds from a plan before spawning anything (guardrail caps and notes, the redactor). Every
document gives a plan, or exit 104 with `error:` lines on stderr; never a traceback."""

from __future__ import annotations

import json
import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunge_mp.coordinator import warmup
from lunge_mp.coordinator.guarding import RunGuard
from lunge_mp.plan import Plan
from lunge_mp.redact import Redactor
from lunge_mp.runner import load_or_explain

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["5s", "1h", "0s", "-1s", "10m", "http://127.0.0.1:1/", "/x", "{{baseUrl}}/a", "*.a.b", "*",
                     "10.0.0.0/8", "[::1]:80", "a*b", "${HOME}", "${NOPE:-d}", "${NOPE}", "p95 < 5", "ramp",
                     "constant-arrival-rate", "constant-vus", "pattern", ""]))
_json = st.recursive(_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), children, max_size=4)), max_leaves=20)

def _maybe(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a valid value, one time in ten anything."""
    return st.integers(0, 9).flatmap(lambda i: _json if i == 0 else valid)


_guardrails = st.fixed_dictionaries({}, optional={
    "maxRate": _maybe(st.integers(1, 100_000)), "maxTotalRequests": _maybe(st.integers(1, 10**7)),
    "maxDuration": _maybe(st.sampled_from(["1s", "2h", 30])), "maxMemoryMB": _maybe(st.integers(1, 10**5)),
    "maxCPUPercent": _maybe(st.floats(0.01, 100)), "emergencyStop": _maybe(st.booleans()),
    "emergency_stop": _maybe(st.booleans()),
    "warnThresholds": _maybe(st.fixed_dictionaries({}, optional={
        "rate": st.floats(0.01, 1), "memory": st.floats(0.01, 1), "cpu_warning": st.floats(0.01, 1)})),
    "allowedHosts": _maybe(st.lists(st.sampled_from(
        ["127.0.0.1", "localhost", "*.example.com", "10.0.0.0/8", "[::1]:80", "*", "h:1"]), max_size=3)),
})
_urls = st.sampled_from(["/a", "http://localhost:1/b", "http://u:p@127.0.0.1:1/c", "/d?k={{key}}",
                         "http://{{host}}:1/e", "{{next}}"])
_request = st.fixed_dictionaries({"url": _maybe(_urls)}, optional={
    "headers": st.fixed_dictionaries({}, optional={"Authorization": st.sampled_from(["Bearer {{key}}", "x"])}),
    "extract": st.just([{"name": "next", "source": "header", "path": "Location"}])})
_open = st.fixed_dictionaries({
    "executor": st.sampled_from(["constant-arrival-rate"]), "rate": _maybe(st.integers(1, 200_000)),
    "duration": _maybe(st.sampled_from(["1s", "2s", 3])), "requests": st.lists(_request, min_size=1, max_size=3)},
    optional={"maxVUs": _maybe(st.integers(1, 10**5)), "startTime": _maybe(st.sampled_from(["0s", "1s"]))})
_ramp = st.fixed_dictionaries({
    "executor": st.just("ramping-arrival-rate"), "requests": st.lists(_request, min_size=1, max_size=2),
    "stages": _maybe(st.lists(st.fixed_dictionaries({"duration": st.sampled_from(["1s", "0s", "2s"]),
                                                      "target": st.integers(0, 50_000)}), min_size=1, max_size=3))})
_pattern = st.fixed_dictionaries({
    "executor": st.just("pattern"), "requests": st.lists(_request, min_size=1, max_size=2),
    "pattern": _maybe(st.one_of(
        st.fixed_dictionaries({"type": st.just("sine"), "duration": st.just("3s"), "baseRate": st.integers(10, 9000),
                               "amplitude": st.integers(0, 10), "period": st.just("1s")}),
        st.fixed_dictionaries({"type": st.just("ramp"), "duration": st.just("2s"), "startRate": st.integers(1, 5000),
                               "endRate": st.integers(1, 50_000),
                               "rampType": st.sampled_from(["linear", "exponential", "logarithmic"])})))})
_closed = st.fixed_dictionaries({
    "executor": st.just("constant-vus"), "vus": _maybe(st.integers(1, 100)), "duration": _maybe(st.just("1s")),
    "requests": st.lists(_request, min_size=1, max_size=2)})
_documents = st.fixed_dictionaries(
    {"name": _maybe(st.just("fuzz")),
     "scenarios": st.dictionaries(st.sampled_from(["a", "b", "c"]), st.one_of(_open, _ramp, _pattern, _closed),
                                  min_size=1, max_size=3),
     "settings": st.fixed_dictionaries({"baseUrl": _maybe(st.sampled_from(["http://127.0.0.1:1", "http://x:y@h"]))}),
     "variables": st.fixed_dictionaries({"key": _maybe(st.one_of(st.text(min_size=1, max_size=10), st.fixed_dictionaries(
         {"value": st.text(min_size=1, max_size=10), "secret": st.booleans()}))), "host": st.just("127.0.0.1")})},
    optional={"guardrails": _maybe(_guardrails), "options": _maybe(st.fixed_dictionaries(
        {"sequential": st.booleans()}, optional={"warmup": st.fixed_dictionaries({"duration": st.just("1s"),
                                                                                  "rate": st.integers(1, 100)})}))})


def _check(tmp_path, text: str, capsys, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_text(text)
    plan = load_or_explain(str(path), {})
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if plan is None:
        assert err.startswith("error: ") and len(err.splitlines()) >= 2, err
        return
    assert isinstance(plan, Plan)
    guard = RunGuard(plan, warmup.with_warmup(plan), warmup.offset(plan))
    assert set(guard.caps) <= {s.name for s in guard.worker_plan.scenarios}
    Redactor.for_plan(plan).doc({"x": [plan.name, plan.source]})


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(doc=_documents, as_json=st.booleans())
def test_structured_documents_give_a_plan_or_exit_104(tmp_path, capsys, doc, as_json: bool) -> None:
    text = json.dumps(doc, allow_nan=True) if as_json else yaml.safe_dump(doc, allow_unicode=True)
    _check(tmp_path, text, capsys, ".json" if as_json else ".yaml")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=200), st.text(alphabet=string.printable + "{}[]:-\n\t'\"&*!|>%@`",
                                                       max_size=300)))
def test_arbitrary_text_gives_a_plan_or_exit_104(tmp_path, capsys, text: str) -> None:
    _check(tmp_path, text, capsys, ".yaml")
