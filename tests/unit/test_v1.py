"""Lunge v1 files → v2 documents and plans: table-driven, pure."""

from __future__ import annotations

import copy

import pytest

from lunge_mp.config import ConfigError
from lunge_mp.config.errors import Errors
from lunge_mp.config.summary import describe_plan, fmt_seconds
from lunge_mp.config.v1 import is_v1, plan_from_v1, scenario_for, summary_v1, v1_document

DOC = {
    "environments": {"dev": {"baseUrl": "http://127.0.0.1:8080", "variables": {"user": "u1"},
                             "headers": {"X-Env": "dev"}},
                     "prod": {"baseUrl": "https://api.example.com"}},
    "requests": {"getUsers": {"url": "/users", "method": "GET", "headers": {}},
                 "createUser": {"url": "/users", "method": "POST", "body": {"name": "{{user}}"},
                                "extract": {"userId": "$.id"}},
                 "search": {"url": "search", "queryParams": {"q": "a b&c", "who": "{{user}}"}}},
    "suites": {"smoke": {"requests": ["getUsers", "createUser"],
                         "tests": [{"name": "ok", "request": "getUsers",
                                    "assertions": [{"status": 200}, {"path": "$.users", "exists": True}]}]}},
    "performance": {"loadTest": {"request": "getUsers",
                                 "load": {"concurrency": 50, "duration": "2m", "rps": 500, "rampUp": "10s",
                                          "rampDown": "10s", "warmup": {"duration": "10s"}},
                                 "thresholds": {"maxResponseTime": "500ms", "maxErrorRate": 0.01,
                                                "minThroughput": 400}},
                    "soak": {"request": "createUser", "load": {"concurrency": 5, "duration": "1h"}}},
}


def test_detection():
    assert is_v1(DOC) and is_v1({"requests": {}})
    assert not is_v1({"name": "x", "scenarios": {}}) and not is_v1([]) and not is_v1({"name": "x"})


def test_the_seed_example_translates_to_a_ramping_arrival_rate_plan():
    v2 = v1_document(DOC, "dev", "loadTest")
    assert v2["settings"] == {"baseUrl": "http://127.0.0.1:8080", "headers": {"X-Env": "dev"}}
    assert v2["variables"] == {"user": "u1"}
    assert v2["scenarios"]["loadTest"] == {
        "executor": "ramping-arrival-rate", "startRate": 0, "preAllocatedVUs": 50, "maxVUs": 50,
        "stages": [{"duration": 10.0, "target": 500}, {"duration": 100.0, "target": 500},
                   {"duration": 10.0, "target": 0}],
        "requests": [{"name": "getUsers", "method": "GET", "url": "/users"}]}
    assert v2["thresholds"] == {"http_req_duration": ["max <= 500"], "http_req_failed": ["rate <= 0.01"],
                                "http_reqs": ["rate >= 400"]}
    assert v2["options"] == {"warmup": {"duration": 10.0, "rate": 500}}
    plan = plan_from_v1(DOC, "dev", "loadTest")
    assert plan.name == "loadTest (dev)" and plan.scenarios[0].duration == 120
    assert plan.scenarios[0].requests[0].url == "http://127.0.0.1:8080/users"
    assert plan.scenarios[0].requests[0].headers["X-Env"] == "dev"
    assert describe_plan(plan) == ("'loadTest (dev)': 1 scenario: loadTest (ramping-arrival-rate, up to 500/s, "
                                   "2m, 1 request); 3 thresholds; warmup 10s")


@pytest.mark.parametrize("load, expected", [
    pytest.param({}, {"executor": "constant-vus", "vus": 10, "duration": 30.0}, id="defaults"),
    pytest.param({"concurrency": 4, "duration": 60.0}, {"executor": "constant-vus", "vus": 4, "duration": 60.0},
                 id="constant-vus"),
    pytest.param({"concurrency": 4, "duration": 60.0, "rampUp": 10.0},
                 {"executor": "ramping-vus", "startVUs": 0,
                  "stages": [{"duration": 10.0, "target": 4}, {"duration": 50.0, "target": 4}]}, id="ramping-vus"),
    pytest.param({"concurrency": 4, "duration": 60.0, "rampDown": 60.0},
                 {"executor": "ramping-vus", "startVUs": 4, "stages": [{"duration": 60.0, "target": 0}]},
                 id="ramp-down-only"),
    pytest.param({"rps": 20.0, "duration": 5.0},
                 {"executor": "constant-arrival-rate", "rate": 20.0, "duration": 5.0, "preAllocatedVUs": 10},
                 id="rps-default-pool"),
    pytest.param({"rps": 20.0, "duration": 5.0, "concurrency": 3},
                 {"executor": "constant-arrival-rate", "rate": 20.0, "duration": 5.0, "preAllocatedVUs": 3,
                  "maxVUs": 3}, id="rps-concurrency-caps-vus"),
    pytest.param({"iterations": 100, "concurrency": 5},
                 {"executor": "shared-iterations", "vus": 5, "iterations": 100}, id="iterations"),
    pytest.param({"iterations": 100, "duration": 9.0},
                 {"executor": "shared-iterations", "vus": 10, "iterations": 100, "maxDuration": 9.0},
                 id="iterations-with-a-time-limit"),
])
def test_load_to_executor(load, expected):
    errs = Errors()
    scenario, warmup = scenario_for(load, "load", errs)
    assert not errs and warmup is None
    assert scenario == expected


@pytest.mark.parametrize("load, warmup", [
    pytest.param({"rps": 50.0, "warmup": {"duration": 5.0}}, {"duration": 5.0, "rate": 50.0}, id="open-at-rps"),
    pytest.param({"concurrency": 3, "warmup": {"duration": 5.0}}, {"duration": 5.0, "vus": 3}, id="closed-at-vus"),
    pytest.param({"rps": 50.0, "warmup": {"duration": 5.0, "rps": 5}}, {"duration": 5.0, "rate": 5}, id="own-rps"),
    pytest.param({"warmup": {"duration": 5.0, "concurrency": 2}}, {"duration": 5.0, "vus": 2}, id="own-vus"),
])
def test_warmup(load, warmup):
    assert scenario_for(load, "load", Errors())[1] == warmup


def test_requests_become_v2_requests():
    plan = plan_from_v1(DOC, "dev", None, "createUser", {"concurrency": 2, "duration": "5s"})
    req = plan.scenarios[0].requests[0]
    assert (plan.scenarios[0].name, req.name, req.method) == ("createUser", "createUser", "POST")
    assert req.body == '{"name":"{{user}}"}' and req.headers["Content-Type"] == "application/json"
    assert [(e.name, e.source, e.path) for e in req.extract] == [("userId", "body", "$.id")]
    search = plan_from_v1(DOC, "prod", None, "search").scenarios[0].requests[0]
    assert search.url == "https://api.example.com/search?q=a%20b%26c&who={{user}}"


def test_flags_override_the_tests_load_and_add_thresholds():
    v2 = v1_document(DOC, "dev", "soak", load={"duration": "3s", "rps": 7, "concurrency": None},
                     thresholds={"http_req_duration": ["p95 < 100"]})
    assert v2["scenarios"]["soak"]["executor"] == "constant-arrival-rate"
    assert (v2["scenarios"]["soak"]["rate"], v2["scenarios"]["soak"]["duration"]) == (7, 3.0)
    assert v2["scenarios"]["soak"]["maxVUs"] == 5
    assert v2["thresholds"] == {"http_req_duration": ["p95 < 100"]}


def with_(path: list, value) -> dict:
    doc = copy.deepcopy(DOC)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@pytest.mark.parametrize("doc, args, problem", [
    pytest.param(DOC, ("prod2", "loadTest"), "-e/--environment: unknown environment 'prod2'; did you mean 'prod'?",
                 id="unknown-env"),
    pytest.param(DOC, (None, "loadTest"), "-e/--environment: required: which environment to run in (dev, prod)",
                 id="env-needed-when-several"),
    pytest.param(DOC, ("dev", None), "-p/-r: give one of -p TEST (performance tests: loadTest, soak) or -r REQUEST",
                 id="neither-test-nor-request"),
    pytest.param(DOC, ("dev", "load"), "-p/--performance: unknown performance test 'load'", id="unknown-test"),
    pytest.param(DOC, ("dev", None, "nope"), "-r/--request: unknown request 'nope'", id="unknown-request"),
    pytest.param(DOC, ("dev", "loadTest", None, {"rps": -1}), "--rps: must be a number of requests per second > 0",
                 id="bad-flag"),
    pytest.param(DOC, ("dev", "loadTest", None, {"rampUp": "2m"}),
                 "performance.loadTest.load: rampUp + rampDown (130s) must not be longer than duration (120s)",
                 id="ramps-longer-than-duration"),
    pytest.param(DOC, ("dev", "soak", None, {"iterations": 5, "rps": 3}),
                 "give duration instead of iterations with rps", id="iterations-and-rps"),
    pytest.param(with_(["performance", "soak", "load", "concurency"], 3), ("dev", "soak"),
                 "performance.soak.load.concurency: unknown field; did you mean 'concurrency'?", id="load-typo"),
    pytest.param(with_(["performance", "soak", "request"], "getUser"), ("dev", "soak"),
                 "performance.soak.request: unknown request 'getUser'; did you mean 'getUsers'?", id="bad-ref"),
    pytest.param(with_(["performance", "soak", "thresholds"], {"maxErrorRate": 2}), ("dev", "soak"),
                 "performance.soak.thresholds.maxErrorRate: must be a fraction between 0 and 1", id="error-rate"),
    pytest.param(with_(["performance", "soak", "thresholds"], {"maxResponseTime": "fast"}), ("dev", "soak"),
                 "performance.soak.thresholds.maxResponseTime: must be a duration", id="response-time"),
    pytest.param(with_(["environments", "dev", "baseUrl"], "ftp://x"), ("dev", "soak"),
                 "environments.dev.baseUrl: unsupported scheme 'ftp'", id="v2-error-gets-v1-path"),
    pytest.param(with_(["environments", "dev", "variables"], {"iteration": 1}), ("dev", "soak"),
                 "environments.dev.variables.iteration: 'iteration' is a built-in", id="reserved-variable"),
    pytest.param(with_(["requests", "createUser", "method"], "FETCH"), ("dev", "soak"),
                 "requests.createUser.method: unknown method 'FETCH'", id="request-error-gets-v1-path"),
    pytest.param(with_(["requests", "createUser", "url"], "/u"), ("prod", None, "createUser"), None,
                 id="fine"),
    pytest.param(with_(["environments", "prod"], {}), ("prod", None, "createUser"),
                 "requests.createUser.url: relative URL '/users' needs environments.prod.baseUrl",
                 id="no-base-url"),
])
def test_errors_name_the_v1_field_or_flag(doc, args, problem):
    if problem is None:
        plan_from_v1(doc, *args)
        return
    with pytest.raises(ConfigError) as e:
        plan_from_v1(doc, *args)
    assert any(problem in line for line in e.value.errors), e.value.errors


def test_summary():
    assert summary_v1(DOC) == (
        "environments dev, prod; 3 requests; performance tests loadTest (getUsers: ramping-arrival-rate, "
        "stages 10s:500 1m40s:500 10s:0, 50 VUs max), soak (createUser: constant-vus, 5 VUs, 1h)")


@pytest.mark.parametrize("seconds, text", [(0.25, "250ms"), (1, "1s"), (90, "1m30s"), (7200, "2h"), (1.5, "1.5s")])
def test_fmt_seconds(seconds, text):
    assert fmt_seconds(seconds) == text


def test_the_v1_example_translates_in_every_test():
    import json
    from pathlib import Path

    from lunge_mp.config.envexpand import expand_env

    text = (Path(__file__).resolve().parents[2] / "configs" / "lunge-v1.json").read_text()
    doc = json.loads(expand_env(text, environ={}))
    for test in doc["performance"]:
        plan = plan_from_v1(doc, "local", test)
        assert plan.scenarios[0].requests[0].url.startswith("http://127.0.0.1:8080/")
