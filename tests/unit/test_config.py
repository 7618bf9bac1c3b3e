"""Config loading: Lunge v2 YAML/JSON → Plan, and every error kind with its field path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from lunge_mp import __version__
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunge_mp.config import ConfigError, expand_env, load_plan, plan_from_dict
from lunge_mp.executors.shapes import shape_from
from lunge_mp.plan import Plan

REPO = Path(__file__).resolve().parents[2]

# The example from CONFIG.md, verbatim except `guardrails: {...}` made concrete.
CONFIG_MD_EXAMPLE = r'''
name: "Checkout API"                 # required
description: "..."
settings:                            # defaults for every request
  baseUrl: "${BASE_URL:-http://127.0.0.1:8080}"
  timeout: 30s                       # per request
  maxConnectionsPerHost: 100
  maxIdleConnsPerHost: 100
  keepalive: true
  insecureSkipVerify: false
  userAgent: "lunge_mp/1.0"
  headers: {Accept: application/json}
variables:                           # visible as {{name}} everywhere
  env_name: staging
  api_key: {value: "${API_KEY:-dev-key}", secret: true}   # secret: shown as *** in every output
scenarios:                           # name → scenario; run in parallel unless options.sequential
  browse:
    executor: ramping-vus            # see Executors
    stages: [{duration: 30s, target: 20, name: ramp-up}, {duration: 1m, target: 20}, {duration: 10s, target: 0}]
    startTime: 0s                    # offset from test start
    gracefulStop: 30s                # how long running iterations may finish at the end
    gracefulRampDown: 30s            # ramping-vus: how long a VU being removed may finish
    pacing: {type: random, min: 1s, max: 3s}   # none | constant (duration) | random (min, max)
    tags: {team: web}
    requests:                        # one iteration = these requests in order
      - name: "List products"        # metric series name (default: METHOD + URL template)
        method: GET
        url: "{{baseUrl}}/products?page={{iteration}}"
        headers: {Authorization: "Bearer {{api_key}}"}
        body: '{"q": "x"}'           # string, or a YAML/JSON object sent as JSON
        timeout: 5s
        thinkTime: 500ms             # pause after this request
        assertions:
          - {type: status, condition: eq, value: "200"}
          - {type: duration, condition: lt, value: 500ms}
          - {type: body, path: "$.items[0].id", condition: exists}
          - {type: header, name: Content-Type, condition: contains, value: json}
        extract:
          - {name: productId, source: body, path: "$.items[0].id"}
          - {name: reqId, source: header, path: X-Request-ID}
          - {name: token, source: body, regex: 'token=(\w+)'}
thresholds:
  http_req_duration: ["p95 < 500ms", "p(99)<1500", {threshold: "avg < 200ms", abortOnFail: true, delayAbortEval: 10s}]
  http_req_failed: ["rate < 0.01"]
  http_reqs: ["count > 1000", "rate > 50"]
  custom:                            # per scenario: <scenario>_duration, <scenario>_failed, ...
    browse_duration: ["p95 < 300ms"]
options:
  sequential: false
  iterationsTimeout: 60s
guardrails: {maxRate: 20000, emergencyStop: true}
output: {html: {enabled: true, path: report.html}, json: {enabled: true, path: results.json}}
'''


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def base() -> dict[str, Any]:
    """The smallest valid document; cases mutate a copy of it."""
    return {
        "name": "t",
        "settings": {"baseUrl": "http://127.0.0.1:8080"},
        "scenarios": {"api": {"executor": "constant-vus", "vus": 2, "duration": "5s",
                              "requests": [{"url": "/health"}]}},
    }


def put(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set `a.b.0.c` in a deep copy of doc; the value `DELETE` removes the key."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    key: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return doc


DELETE = object()


def scenario(**fields: Any) -> dict[str, Any]:
    return {"requests": [{"url": "/"}], **fields}


def errors_of(doc: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        plan_from_dict(doc)
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


# -- the CONFIG.md example ----------------------------------------------------------------------

def test_config_md_example_loads(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, "checkout.yaml", CONFIG_MD_EXAMPLE), environ={})
    assert plan.name == "Checkout API" and plan.description == "..."
    assert plan.settings.base_url == "http://127.0.0.1:8080"
    assert plan.settings.user_agent == "lunge_mp/1.0" and plan.settings.timeout == 30.0
    assert plan.variables == {"env_name": "staging", "api_key": "dev-key"}
    assert plan.secrets == ("api_key",)
    (s,) = plan.scenarios
    assert (s.name, s.executor, s.duration) == ("browse", "ramping-vus", 100.0)
    assert [(st.duration, st.target, st.name) for st in s.stages] == [
        (30.0, 20.0, "ramp-up"), (60.0, 20.0, ""), (10.0, 0.0, "")]
    assert (s.pacing.type, s.pacing.min, s.pacing.max) == ("random", 1.0, 3.0)
    assert s.tags == {"team": "web"} and s.graceful_ramp_down == 30.0
    (r,) = s.requests
    assert r.name == "List products"
    assert r.url == "http://127.0.0.1:8080/products?page={{iteration}}"
    assert r.headers == {"Accept": "application/json", "Authorization": "Bearer {{api_key}}",
                         "User-Agent": "lunge_mp/1.0"}
    assert (r.body, r.timeout, r.think_time) == ('{"q": "x"}', 5.0, 0.5)
    assert [(a.type, a.condition, a.value) for a in r.assertions] == [
        ("status", "eq", "200"), ("duration", "lt", "500"), ("body", "exists", ""), ("header", "contains", "json")]
    assert r.assertions[3].name == "Content-Type" and r.assertions[2].path == "$.items[0].id"
    assert [(e.name, e.source, e.path, e.regex) for e in r.extract] == [
        ("productId", "body", "$.items[0].id", ""), ("reqId", "header", "X-Request-ID", ""),
        ("token", "body", "", r"token=(\w+)")]
    assert [(t.metric, t.aggregation, t.op, t.value) for t in plan.thresholds] == [
        ("http_req_duration", "p95", "<", 500.0), ("http_req_duration", "p99", "<", 1500.0),
        ("http_req_duration", "avg", "<", 200.0), ("http_req_failed", "rate", "<", 0.01),
        ("http_reqs", "count", ">", 1000.0), ("http_reqs", "rate", ">", 50.0),
        ("browse_duration", "p95", "<", 300.0)]
    assert plan.thresholds[2].abort_on_fail and plan.thresholds[2].delay_abort_eval == 10.0
    assert plan.options.iterations_timeout == 60.0 and not plan.options.sequential
    assert plan.source.endswith("checkout.yaml")


def test_same_config_as_json_gives_same_plan(tmp_path: Path) -> None:
    import yaml

    doc = yaml.safe_load(expand_env(CONFIG_MD_EXAMPLE, environ={}))
    from_yaml = load_plan(write(tmp_path, "a.yaml", CONFIG_MD_EXAMPLE), environ={})
    from_json = load_plan(write(tmp_path, "a.json", json.dumps(doc, indent=2)), environ={})
    assert from_json.scenarios == from_yaml.scenarios
    assert from_json.thresholds == from_yaml.thresholds


@pytest.mark.parametrize("name", ["demo.yaml", "constant-arrival-rate.yaml"])
def test_example_configs_load(name: str) -> None:
    plan = load_plan(str(REPO / "configs" / name), environ={})
    assert plan.scenarios and all(r.url.startswith("http://127.0.0.1:8080/")
                                  for s in plan.scenarios for r in s.requests)


def test_demo_config_shape() -> None:
    plan = load_plan(str(REPO / "configs" / "demo.yaml"), environ={"BASE_URL": "http://10.0.0.1:9000"})
    open_, closed = plan.scenarios
    assert (open_.name, open_.executor, open_.rate, open_.duration) == ("open", "constant-arrival-rate", 200.0, 5.0)
    assert open_.requests[0].url == "http://10.0.0.1:9000/json"
    assert open_.requests[0].assertions[0].type == "status"
    assert (closed.name, closed.executor, closed.vus) == ("closed", "constant-vus", 10)
    assert closed.requests[0].url == "http://10.0.0.1:9000/delay/20"
    assert {(t.metric, t.expression) for t in plan.thresholds} == {
        ("http_req_failed", "rate < 0.01"), ("http_req_duration", "p(95) < 500")}


# -- files, formats, environment ------------------------------------------------------------------

MINIMAL_YAML = """
name: t
settings: {baseUrl: "${BASE_URL:-http://127.0.0.1:8080}"}
variables: {user: "${USER_NAME}", token: {value: t0, secret: true}}
scenarios:
  api: {executor: constant-vus, vus: ${VUS:-3}, duration: 5s, requests: [{url: /}]}
"""

# (id, overrides, environ, expected base_url, vus, variables)
ENV_CASES = [
    ("defaults", {}, {"USER_NAME": "u"}, "http://127.0.0.1:8080", 3, {"user": "u", "token": "t0"}),
    ("environ", {}, {"USER_NAME": "u", "BASE_URL": "https://x.test", "VUS": "7"}, "https://x.test", 7,
     {"user": "u", "token": "t0"}),
    ("empty-env-uses-default", {}, {"USER_NAME": "u", "BASE_URL": ""}, "http://127.0.0.1:8080", 3,
     {"user": "u", "token": "t0"}),
    ("override-beats-environ", {"VUS": "9", "USER_NAME": "o"}, {"VUS": "7", "USER_NAME": "e"},
     "http://127.0.0.1:8080", 9, {"user": "o", "token": "t0"}),
    ("override-replaces-variable", {"USER_NAME": "x", "token": "t1"}, {}, "http://127.0.0.1:8080", 3,
     {"user": "x", "token": "t1"}),
]


@pytest.mark.parametrize("overrides,environ,base_url,vus,variables", [c[1:] for c in ENV_CASES],
                         ids=[c[0] for c in ENV_CASES])
def test_env_expansion(tmp_path: Path, overrides: dict[str, str], environ: dict[str, str],
                       base_url: str, vus: int, variables: dict[str, str]) -> None:
    plan = load_plan(write(tmp_path, "t.yaml", MINIMAL_YAML), overrides, environ)
    assert plan.settings.base_url == base_url
    assert plan.scenarios[0].vus == vus
    assert plan.variables == variables and plan.secrets == ("token",)


# (id, file name, text, substrings every one of which must appear in the error)
FILE_ERRORS = [
    ("unset-var-names-it", "t.yaml", "name: ${TEST_NAME}\nx: ${OTHER}\n",
     ["line 1: environment variable TEST_NAME is not set", "line 2: environment variable OTHER",
      "-e TEST_NAME=VALUE", "${TEST_NAME:-VALUE}"]),
    ("bad-yaml-line", "t.yaml", "name: x\nscenarios:\n  a: {executor: constant-vus\n  b: 1\n",
     ["line 4, column 4", "invalid YAML"]),
    ("bad-yaml-indent", "t.yaml", "name: x\n  bad: indent\n", ["line 2, column 6", "invalid YAML"]),
    ("yaml-duplicate-key", "t.yaml", "name: x\nscenarios:\n  a: 1\n  a: 2\n",
     ["line 4, column 3", "duplicate key 'a'"]),
    ("bad-json-line", "t.json", '{"name": "x",\n "scenarios": {,}}\n', ["line 2, column 16", "invalid JSON"]),
    ("json-duplicate-key", "t.json", '{"name": "x", "name": "y"}', ["duplicate key 'name'"]),
    ("sniffed-json", "t.conf", '{"name": 1,}', ["line 1, column 12", "invalid JSON"]),
    ("empty-file", "t.yaml", "", ["(root): the config must be a mapping"]),
    ("top-level-list", "t.yaml", "- a\n", ["(root): the config must be a mapping"]),
    ("lunge-v1", "t.json", '{"environments": {}, "requests": {}}', ["Lunge v1 config"]),
]


@pytest.mark.parametrize("name,text,expected", [c[1:] for c in FILE_ERRORS], ids=[c[0] for c in FILE_ERRORS])
def test_file_errors(tmp_path: Path, name: str, text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_plan(write(tmp_path, name, text), environ={})
    for part in expected:
        assert part in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="nope.yaml: no such file"):
        load_plan("/nonexistent/nope.yaml")


def test_commented_out_var_is_not_expanded(tmp_path: Path) -> None:
    text = "# ${GONE}\n" + MINIMAL_YAML
    assert load_plan(write(tmp_path, "t.yaml", text), environ={"USER_NAME": "u"}).name == "t"


def test_escaped_dollar_is_literal() -> None:
    assert expand_env("a: $${X}", environ={}) == "a: ${X}"


def test_sniffs_yaml_without_extension(tmp_path: Path) -> None:
    text = "name: t\nscenarios: {a: {executor: constant-vus, vus: 1, duration: 1s, requests: [{url: 'http://h/'}]}}\n"
    assert load_plan(write(tmp_path, "t.conf", text), environ={}).scenarios[0].vus == 1


# -- executors -------------------------------------------------------------------------------------

# (id, scenario fields, expected ScenarioPlan attributes)
EXECUTORS = [
    ("constant-vus", dict(executor="constant-vus", vus=5, duration="1m"), dict(vus=5, duration=60.0)),
    ("ramping-vus", dict(executor="ramping-vus", startVUs=2, stages=[{"duration": "10s", "target": 5},
                                                                     {"duration": 0, "target": 8}]),
     dict(start_vus=2, duration=10.0)),
    ("per-vu-iterations", dict(executor="per-vu-iterations", vus=3, iterations=10),
     dict(vus=3, iterations=10, max_duration=600.0)),
    ("shared-iterations-fewer-than-vus", dict(executor="shared-iterations", vus=10, iterations=3,
                                              maxDuration="30s"),
     dict(vus=10, iterations=3, max_duration=30.0)),
    ("constant-arrival-rate-defaults", dict(executor="constant-arrival-rate", rate=200, duration="5s"),
     dict(rate=200.0, duration=5.0, pre_allocated_vus=10, max_vus=100)),
    ("constant-arrival-rate-time-unit", dict(executor="constant-arrival-rate", rate=600, timeUnit="1m",
                                             duration="5s", preAllocatedVUs=150),
     dict(rate=10.0, pre_allocated_vus=150, max_vus=150)),
    ("ramping-arrival-rate", dict(executor="ramping-arrival-rate", startRate=20, timeUnit="2s",
                                  stages=[{"duration": "30s", "target": 100}, {"duration": "30s", "target": 0}]),
     dict(start_rate=10.0, duration=60.0, pre_allocated_vus=10, max_vus=100)),
    ("pattern-sine", dict(executor="pattern", maxVUs=500,
                          pattern={"type": "sine", "duration": "10m", "base_rate": 100, "amplitude": 50,
                                   "period": "1m", "phase": 0}),
     dict(duration=600.0, max_vus=500, pattern={"type": "sine", "duration": 600.0, "period": 60.0,
                                                "baseRate": 100.0, "amplitude": 50.0, "phase": 0.0})),
    ("pattern-burst-snake-case", dict(executor="pattern", pattern={
        "type": "burst", "duration": "5m", "base_rate": 20, "burst_rate": 400, "burst_duration": "10s",
        "burst_interval": "1m"}),
     dict(duration=300.0, pattern={"type": "burst", "duration": 300.0, "burstDuration": 10.0,
                                   "burstInterval": 60.0, "baseRate": 20.0, "burstRate": 400.0})),
    ("pattern-custom-sums-phases", dict(executor="pattern", pattern={
        "type": "custom", "phases": [{"duration": "1m", "rate": 50},
                                     {"duration": "30s", "start_rate": 50, "endRate": 300}]}),
     dict(duration=90.0, pattern={"type": "custom", "phases": [
         {"duration": 60.0, "rate": 50.0}, {"duration": 30.0, "startRate": 50.0, "endRate": 300.0}]})),
    ("pattern-ramp", dict(executor="pattern", pattern={"type": "ramp", "duration": "5m", "startRate": 10,
                                                       "endRate": 1000, "rampType": "exponential"}),
     dict(duration=300.0)),
    ("pattern-chaos-seed", dict(executor="pattern", pattern={"type": "chaos", "duration": "5m", "baseRate": 100,
                                                             "maxRate": 500, "seed": 42}),
     dict(duration=300.0)),
    ("pattern-staircase", dict(executor="pattern", pattern={"type": "staircase", "duration": "5m",
                                                            "startRate": 100, "stepRate": 100,
                                                            "stepDuration": "30s"}),
     dict(duration=300.0)),
]


@pytest.mark.parametrize("fields,expected", [c[1:] for c in EXECUTORS], ids=[c[0] for c in EXECUTORS])
def test_executors(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    plan = plan_from_dict(put(base(), "scenarios.api", scenario(**fields)))
    s = plan.scenarios[0]
    assert s.executor == fields["executor"]
    for attr, value in expected.items():
        assert getattr(s, attr) == (shape_from(value) if attr == "pattern" else value), attr


def test_ramping_stage_targets_per_second() -> None:
    doc = put(base(), "scenarios.api", scenario(executor="ramping-arrival-rate", timeUnit="1m",
                                                stages=[{"duration": "1m", "target": 120}]))
    assert plan_from_dict(doc).scenarios[0].stages[0].target == 2.0


def test_plan_roundtrips_through_msgpack() -> None:
    import msgspec

    doc = put(base(), "scenarios.p", scenario(executor="pattern", pattern={
        "type": "custom", "phases": [{"duration": "1m", "rate": 5}]}))
    plan = plan_from_dict(doc)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(plan), type=Plan) == plan


# -- requests ---------------------------------------------------------------------------------------

# (id, settings, request, expected RequestSpec attributes)
REQUESTS = [
    ("relative-joined", {"baseUrl": "http://h:1/"}, {"url": "/a"}, dict(url="http://h:1/a", name="GET /a")),
    ("base-url-template", {"baseUrl": "http://h:1/"}, {"url": "{{baseUrl}}/a"}, dict(url="http://h:1/a")),
    ("base-url-template-spaced", {"baseUrl": "http://h"}, {"url": "{{ baseUrl }}/a"}, dict(url="http://h/a")),
    ("absolute-kept", {}, {"url": "https://x.test/p?q={{vu}}"}, dict(url="https://x.test/p?q={{vu}}")),
    ("templated-url-unchecked", {}, {"url": "{{host}}/p"}, dict(url="{{host}}/p")),
    ("method-uppercased", {"baseUrl": "http://h"}, {"url": "/a", "method": "post"},
     dict(method="POST", name="POST /a")),
    ("timeout-from-settings", {"baseUrl": "http://h", "timeout": "2s"}, {"url": "/a"}, dict(timeout=2.0)),
    ("own-timeout", {"baseUrl": "http://h", "timeout": "2s"}, {"url": "/a", "timeout": "250ms"},
     dict(timeout=0.25)),
    ("headers-merged", {"baseUrl": "http://h", "headers": {"Accept": "a/b", "X-A": "1"}, "userAgent": "ua"},
     {"url": "/a", "headers": {"accept": "c/d", "X-N": 5}},
     dict(headers={"X-A": "1", "accept": "c/d", "X-N": "5", "User-Agent": "ua"})),
    ("user-agent-given", {"baseUrl": "http://h"}, {"url": "/a", "headers": {"user-agent": "me"}},
     dict(headers={"user-agent": "me"})),
    ("default-user-agent", {"baseUrl": "http://h"}, {"url": "/a"}, dict(headers={"User-Agent": f"lunge_mp/{__version__}"})),
    ("object-body-json", {"baseUrl": "http://h", "userAgent": ""}, {"url": "/a", "body": {"n": "é", "l": [1, 2]}},
     dict(body='{"n":"é","l":[1,2]}', headers={"Content-Type": "application/json"})),
    ("object-body-keeps-content-type", {"baseUrl": "http://h", "userAgent": ""},
     {"url": "/a", "body": [1], "headers": {"content-type": "application/x"}},
     dict(body="[1]", headers={"content-type": "application/x"})),
    ("string-body-kept", {"baseUrl": "http://h", "userAgent": ""}, {"url": "/a", "body": "a={{vu}}"},
     dict(body="a={{vu}}", headers={})),
    ("duration-assertion-bare-ms", {"baseUrl": "http://h"},
     {"url": "/a", "assertions": [{"type": "duration", "condition": "lte", "value": 250}]},
     dict(assertions=(("duration", "lte", "250"),))),
    ("duration-assertion-seconds", {"baseUrl": "http://h"},
     {"url": "/a", "assertions": [{"type": "duration", "condition": "lt", "value": "1.5s"}]},
     dict(assertions=(("duration", "lt", "1500"),))),
    ("status-value-stringified", {"baseUrl": "http://h"},
     {"url": "/a", "assertions": [{"type": "status", "value": 201}]}, dict(assertions=(("status", "eq", "201"),))),
]


@pytest.mark.parametrize("settings_,request_,expected", [c[1:] for c in REQUESTS], ids=[c[0] for c in REQUESTS])
def test_requests(settings_: dict[str, Any], request_: dict[str, Any], expected: dict[str, Any]) -> None:
    doc = put(put(base(), "settings", settings_), "scenarios.api.requests", [request_])
    r = plan_from_dict(doc).scenarios[0].requests[0]
    for attr, value in expected.items():
        got = getattr(r, attr)
        if attr == "assertions":
            got = tuple((a.type, a.condition, a.value) for a in got)
        assert got == value, attr


# -- errors -----------------------------------------------------------------------------------------

API = "scenarios.api"
REQ = "scenarios.api.requests.0"
# (id, mutation of base(), exact error lines or substrings (prefix "~") expected among the errors)
ERRORS: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], list[str]]] = [
    ("name-required", lambda d: put(d, "name", DELETE), ["name: required: a name for the test, e.g. name: \"Checkout API\""]),
    ("scenarios-required", lambda d: put(d, "scenarios", DELETE), ["~scenarios: required: at least one scenario"]),
    ("scenarios-empty", lambda d: put(d, "scenarios", {}), ["scenarios: must define at least one scenario"]),
    ("unknown-executor", lambda d: put(d, f"{API}.executor", "constant-vu"),
     ["~scenarios.api.executor: unknown executor 'constant-vu'; use one of constant-vus, ramping-vus, "
      "per-vu-iterations, shared-iterations, constant-arrival-rate, ramping-arrival-rate, pattern"]),
    ("executor-missing", lambda d: put(d, f"{API}.executor", DELETE), ["~scenarios.api.executor: required; use one of"]),
    ("typo-suggests", lambda d: put(put(d, f"{API}.duraton", "5s"), f"{API}.duration", DELETE),
     ["scenarios.api.duraton: unknown field; did you mean 'duration'?",
      "scenarios.api.duration: required for executor 'constant-vus'"]),
    ("snake-case-suggests-camel", lambda d: put(d, "settings.base_url", "x"),
     ["settings.base_url: unknown field; did you mean 'baseUrl'?"]),
    ("top-level-typo", lambda d: put(d, "thresolds", {}), ["thresolds: unknown field; did you mean 'thresholds'?"]),
    ("key-of-other-executor", lambda d: put(d, f"{API}.rate", 5),
     ["scenarios.api.rate: not used by executor 'constant-vus' (its keys: vus, duration); "
      "remove it or change the executor"]),
    ("vus-zero", lambda d: put(d, f"{API}.vus", 0), ["scenarios.api.vus: must be > 0"]),
    ("vus-bool", lambda d: put(d, f"{API}.vus", True), ["scenarios.api.vus: must be an integer, got true (a boolean)"]),
    ("vus-float", lambda d: put(d, f"{API}.vus", 1.5), ["scenarios.api.vus: must be an integer, got 1.5 (a number)"]),
    ("vus-string", lambda d: put(d, f"{API}.vus", "10"), ["scenarios.api.vus: must be an integer, got '10' (a string)"]),
    ("bad-duration", lambda d: put(d, f"{API}.duration", "5 min"), ["~scenarios.api.duration: invalid duration '5 min'"]),
    ("zero-duration", lambda d: put(d, f"{API}.duration", "0s"), ["scenarios.api.duration: must be > 0"]),
    ("negative-duration", lambda d: put(d, f"{API}.startTime", "-1s"), ["~scenarios.api.startTime: negative duration"]),
    ("unsupported-scheme", lambda d: put(d, f"{REQ}.url", "ftp://x/y"),
     ["scenarios.api.requests[0].url: unsupported scheme 'ftp'; use http:// or https://"]),
    ("missing-scheme", lambda d: put(d, f"{REQ}.url", "example.com/x"),
     ["scenarios.api.requests[0].url: missing scheme in 'example.com/x'; use http:// or https://"]),
    ("relative-without-base", lambda d: put(d, "settings", DELETE),
     ["~scenarios.api.requests[0].url: relative URL '/health' needs settings.baseUrl"]),
    ("bad-base-url-reported-once", lambda d: put(d, "settings.baseUrl", "ftp://h"),
     ["settings.baseUrl: unsupported scheme 'ftp'; use http:// or https://"]),
    ("url-required", lambda d: put(d, f"{REQ}.url", DELETE), ["~scenarios.api.requests[0].url: required"]),
    ("requests-empty", lambda d: put(d, f"{API}.requests", []), ["scenarios.api.requests: must not be empty"]),
    ("bad-method", lambda d: put(d, f"{REQ}.method", "FETCH"), ["~scenarios.api.requests[0].method: unknown method 'FETCH'"]),
    ("number-body", lambda d: put(d, f"{REQ}.body", 5), ["~scenarios.api.requests[0].body: must be a string, or an object"]),
    ("assertion-type", lambda d: put(d, f"{REQ}.assertions", [{"type": "latency", "value": 1}]),
     ["~scenarios.api.requests[0].assertions[0].type: unknown value 'latency'"]),
    ("assertion-condition", lambda d: put(d, f"{REQ}.assertions", [{"type": "status", "condition": "equals", "value": 1}]),
     ["~scenarios.api.requests[0].assertions[0].condition: unknown value 'equals'"]),
    ("assertion-value-required", lambda d: put(d, f"{REQ}.assertions", [{"type": "status"}]),
     ["scenarios.api.requests[0].assertions[0].value: required for condition 'eq'"]),
    ("assertion-numeric", lambda d: put(d, f"{REQ}.assertions", [{"type": "status", "condition": "lt", "value": "ok"}]),
     ["scenarios.api.requests[0].assertions[0].value: must be a number for condition 'lt', got 'ok'"]),
    ("header-assertion-name", lambda d: put(d, f"{REQ}.assertions", [{"type": "header", "condition": "exists"}]),
     ["~scenarios.api.requests[0].assertions[0].name: required for a header assertion"]),
    ("duration-assertion-contains", lambda d: put(d, f"{REQ}.assertions",
                                                  [{"type": "duration", "condition": "contains", "value": 5}]),
     ["~scenarios.api.requests[0].assertions[0].condition: 'contains' does not apply to a duration assertion"]),
    ("bad-matches-regex", lambda d: put(d, f"{REQ}.assertions", [{"type": "body", "condition": "matches", "value": "("}]),
     ["~scenarios.api.requests[0].assertions[0].value: invalid regular expression '('"]),
    ("bad-extract-regex", lambda d: put(d, f"{REQ}.extract", [{"name": "a", "source": "body", "regex": "(x"}]),
     ["~scenarios.api.requests[0].extract[0].regex: invalid regular expression '(x'"]),
    ("extract-header-needs-path", lambda d: put(d, f"{REQ}.extract", [{"name": "a", "source": "header"}]),
     ["scenarios.api.requests[0].extract[0].path: required for source 'header': the header name"]),
    ("extract-body-needs-path", lambda d: put(d, f"{REQ}.extract", [{"name": "a"}]),
     ["~scenarios.api.requests[0].extract[0]: needs path"]),
    ("pacing-random-min-max", lambda d: put(d, f"{API}.pacing", {"type": "random", "min": "3s", "max": "1s"}),
     ["scenarios.api.pacing.max: must be >= min (3s)"]),
    ("pacing-wrong-key", lambda d: put(d, f"{API}.pacing", {"type": "constant", "duration": "1s", "min": "1s"}),
     ["scenarios.api.pacing.min: not used by pacing type 'constant' (its keys: type, duration)"]),
    ("threshold-syntax", lambda d: put(d, "thresholds", {"http_req_duration": ["p95 500ms"]}),
     ["~thresholds.http_req_duration[0]: invalid threshold 'p95 500ms': no comparison operator"]),
    ("threshold-unknown-metric", lambda d: put(d, "thresholds", {"http_req_duraton": ["p95 < 5"]}),
     ["thresholds.http_req_duraton: unknown metric 'http_req_duraton'; did you mean 'http_req_duration'?"]),
    ("threshold-unknown-scenario-metric", lambda d: put(d, "thresholds", {"custom": {"web_duration": ["p95 < 5"]}}),
     ["~thresholds.custom.web_duration: unknown metric 'web_duration'; did you mean 'api_duration'?"]),
    ("threshold-wrong-aggregation", lambda d: put(d, "thresholds", {"http_reqs": ["p95 < 5"]}),
     ["thresholds.http_reqs[0]: aggregation 'p95' in 'p95 < 5' does not apply to http_reqs "
      "(a counter metric); use count, rate"]),
    ("threshold-entry-bool", lambda d: put(d, "thresholds", {"http_reqs": [{"threshold": "count > 1",
                                                                            "abortOnFail": "yes"}]}),
     ["~thresholds.http_reqs[0].abortOnFail: must be true or false"]),
    ("maxvus-below-preallocated", lambda d: put(d, f"{API}", scenario(executor="constant-arrival-rate", rate=5,
                                                                       duration="1s", preAllocatedVUs=50, maxVUs=10)),
     ["~scenarios.api.maxVUs: must be >= preAllocatedVUs (50)"]),
    ("rate-zero", lambda d: put(d, f"{API}", scenario(executor="constant-arrival-rate", rate=0, duration="1s")),
     ["scenarios.api.rate: must be > 0"]),
    ("stages-empty", lambda d: put(d, f"{API}", scenario(executor="ramping-vus", stages=[])),
     ["scenarios.api.stages: must not be empty"]),
    ("stage-negative-target", lambda d: put(d, f"{API}", scenario(executor="ramping-vus",
                                                                   stages=[{"duration": "1s", "target": -1}])),
     ["scenarios.api.stages[0].target: must be >= 0"]),
    ("stages-zero-total", lambda d: put(d, f"{API}", scenario(executor="ramping-vus",
                                                               stages=[{"duration": 0, "target": 1}])),
     ["scenarios.api.stages: total duration must be > 0"]),
    ("iterations-required", lambda d: put(d, f"{API}", scenario(executor="shared-iterations", vus=2)),
     ["scenarios.api.iterations: required for executor 'shared-iterations'"]),
    ("pattern-type", lambda d: put(d, f"{API}", scenario(executor="pattern", pattern={"type": "wave"})),
     ["~scenarios.api.pattern.type: unknown value 'wave'"]),
    ("pattern-needs-duration", lambda d: put(d, f"{API}", scenario(executor="pattern",
                                                                    pattern={"type": "sine", "baseRate": 1})),
     ["scenarios.api.pattern.duration: required for a sine pattern, e.g. duration: 5m"]),
    ("pattern-typo", lambda d: put(d, f"{API}", scenario(executor="pattern", pattern={
        "type": "sine", "duration": "1m", "amplitud": 3})),
     ["scenarios.api.pattern.amplitud: unknown field; did you mean 'amplitude'?"]),
    ("pattern-both-spellings", lambda d: put(d, f"{API}", scenario(executor="pattern", pattern={
        "type": "sine", "duration": "1m", "baseRate": 3, "base_rate": 4})),
     ["~scenarios.api.pattern.base_rate: given twice"]),
    ("custom-phases-required", lambda d: put(d, f"{API}", scenario(executor="pattern", pattern={"type": "custom"})),
     ["~scenarios.api.pattern.phases: required for a custom pattern"]),
    ("variable-list", lambda d: put(d, "variables", {"a": [1]}), ["~variables.a: must be a string, number or boolean"]),
    ("variable-reserved", lambda d: put(d, "variables", {"vu": "1"}), ["~variables.vu: 'vu' is a built-in template value"]),
    ("settings-timeout", lambda d: put(d, "settings.timeout", "fast"), ["~settings.timeout: invalid duration 'fast'"]),
    ("keepalive-not-bool", lambda d: put(d, "settings.keepalive", "yes"),
     ["settings.keepalive: must be true or false, got 'yes' (a string)"]),
    ("connections-unknown", lambda d: put(d, "settings.connections", "perUser"),
     ["settings.connections: unknown connections mode 'perUser'; use one of shared, perVU"]),
    ("connections-perVU-with-aiohttp", lambda d: put(put(d, "settings.transport", "aiohttp"),
                                                      "settings.connections", "perVU"),
     ["~settings.connections: perVU is supported by the fast transport only"]),
    ("guardrails-not-mapping", lambda d: put(d, "guardrails", [1]), ["guardrails: must be a mapping, got a list"]),
    ("options-unknown", lambda d: put(d, "options.sequentail", True),
     ["options.sequentail: unknown field; did you mean 'sequential'?"]),
    ("non-string-key", lambda d: put(d, "scenarios", {1: scenario(executor="constant-vus", vus=1, duration=1)}),
     ["~scenarios.1: scenario names must be non-empty strings"]),
]


@pytest.mark.parametrize("mutate,expected", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors(mutate: Callable[[dict[str, Any]], dict[str, Any]], expected: list[str]) -> None:
    errors = errors_of(mutate(base()))
    for want in expected:
        if want.startswith("~"):
            assert any(want[1:] in e for e in errors), (want, errors)
        else:
            assert want in errors, (want, errors)


def test_bad_base_url_is_not_repeated_per_request() -> None:
    assert len(errors_of(put(base(), "settings.baseUrl", "ftp://h"))) == 1


def test_every_error_is_collected() -> None:
    doc = {
        "name": "",
        "settings": {"timeoutt": 5},
        "scenarios": {
            "a": {"executor": "constant-vu", "requests": [{"url": "ftp://x"}]},
            "b": {"executor": "constant-vus", "vus": True, "duration": "5x", "requests": []},
        },
        "thresholds": {"nope": ["p95 < 1"], "http_req_duration": ["p95 <"]},
    }
    errors = errors_of(doc)
    assert [e.split(":")[0] for e in errors] == [
        "name", "settings.timeoutt", "scenarios.a.executor", "scenarios.a.requests[0].url",
        "scenarios.b.vus", "scenarios.b.duration", "scenarios.b.requests", "thresholds.nope",
        "thresholds.http_req_duration[0]"]


def test_unknown_executor_reports_other_problems_too() -> None:
    doc = put(put(base(), f"{API}.executor", "nope"), f"{REQ}.method", "FETCH")
    assert len(errors_of(doc)) == 2


# -- robustness --------------------------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                     st.sampled_from(["5s", "1m30s", "-1s", "http://h/", "/x", "ftp://x", "p95 < 5",
                                      "constant-vus", "pattern", "GET", "{{baseUrl}}/a", "(", ""]))
_json = st.recursive(_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), children, max_size=5)), max_leaves=25)


def _valid_doc() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(expand_env(CONFIG_MD_EXAMPLE, environ={})) | {"scenarios": {
        **yaml.safe_load(expand_env(CONFIG_MD_EXAMPLE, environ={}))["scenarios"],
        "open": {"executor": "ramping-arrival-rate", "stages": [{"duration": "5s", "target": 10}],
                 "requests": [{"url": "/a", "body": {"a": 1}}]},
        "p": {"executor": "pattern", "pattern": {"type": "custom", "phases": [{"duration": "1s", "rate": 1}]},
              "requests": [{"url": "/b"}]},
    }}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


VALID_DOC = _valid_doc()
VALID_PATHS = _paths(VALID_DOC)[1:]


def _plan_or_config_error(doc: object) -> None:
    try:
        assert isinstance(plan_from_dict(doc), Plan)
    except ConfigError as e:
        assert e.errors and all(isinstance(x, str) and x for x in e.errors)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json)
def test_random_document_gives_plan_or_config_error(doc: object) -> None:
    _plan_or_config_error(doc)
    _plan_or_config_error({"name": "x", "scenarios": doc})
    _plan_or_config_error({"name": "x", "scenarios": {"a": doc}, "thresholds": doc})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(VALID_PATHS), _json), min_size=1, max_size=3))
def test_mutated_valid_document_gives_plan_or_config_error(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
    doc = copy.deepcopy(VALID_DOC)
    for path, value in edits:
        node: Any = doc
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced a parent
    _plan_or_config_error(doc)


@pytest.mark.parametrize("settings_,expected", [
    ({}, "shared"),
    ({"connections": "shared"}, "shared"),
    ({"connections": "perVU"}, "perVU"),
    ({"connections": "perVU", "transport": "fast"}, "perVU"),
    ({"connections": "perVU", "transport": "auto"}, "perVU"),
    ({"connections": "shared", "transport": "aiohttp"}, "shared"),
], ids=["default", "shared", "perVU", "perVU-fast", "perVU-auto", "shared-aiohttp"])
def test_settings_connections(settings_: dict[str, Any], expected: str) -> None:
    doc = {"name": "x", "settings": {"baseUrl": "http://127.0.0.1:1", **settings_},
           "scenarios": {"a": scenario(executor="constant-vus", vus=1, duration=1)}}
    assert plan_from_dict(doc).settings.connections == expected
