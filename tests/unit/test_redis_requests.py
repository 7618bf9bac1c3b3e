"""`redis:` requests: config, commands on the wire, JSON payloads, seed 004's job_config, the
queue math and the failure classes. Pure: no Redis here (tests/integration/test_redis_queue.py)."""

from __future__ import annotations

import json

import hiredis
import pytest

from lunge_mp.config.errors import ConfigError
from lunge_mp.config.job_config import job_request
from lunge_mp.config.validate import plan_from_dict
from lunge_mp.metrics.queue import QueueSeries, Sample, over_depth, targets
from lunge_mp.redact import Redactor
from lunge_mp.scenario.bodies import JsonTemplate
from lunge_mp.scenario.preflight import unknown_template_names
from lunge_mp.scenario.redis_command import CompiledRedis
from lunge_mp.scenario.template import TemplateError
from lunge_mp.worker.redis_transport import ReplyError, error_class, reply_class


def doc(*requests, settings=None, **top):
    d = {"name": "q", "scenarios": {"jobs": {"executor": "constant-arrival-rate", "rate": 10,
                                               "duration": "1s", "requests": list(requests)}}}
    if settings is not None:
        d["settings"] = settings
    d.update(top)
    return d


def wire_args(wire: bytes) -> list[bytes]:
    r = hiredis.Reader()
    r.feed(wire)
    return r.gets()


def only_request(plan):
    return plan.scenarios[0].requests[0]


def test_the_issue_form_parses_and_builds_lpush():
    plan = plan_from_dict(doc({"name": "enqueue", "redis": {"command": "LPUSH", "key": "jobs",
                                                            "payload": {"id": "{{iteration}}", "kind": "test"}}},
                              settings={"redis": {"url": "redis://127.0.0.1:6379/0"}}))
    r = only_request(plan)
    assert (r.name, r.method, r.url) == ("enqueue", "LPUSH", "redis://127.0.0.1:6379/0")
    args = wire_args(CompiledRedis(r.redis, r.timeout).prepare({"iteration": 41}).wire)
    assert args[:2] == [b"LPUSH", b"jobs"]
    assert json.loads(args[2]) == {"id": "41", "kind": "test"}


@pytest.mark.parametrize("redis, expected", [
    ({"command": "rpush", "key": "q", "payload": "job-{{iteration}}"}, [b"RPUSH", b"q", b"job-7"]),
    ({"command": "XADD", "key": "s", "maxlen": 1000, "payload": {"n": "{{iteration}}"}},
     [b"XADD", b"s", b"MAXLEN", b"~", b"1000", b"*", b"payload", b'{"n":"7"}']),
    ({"command": "XADD", "key": "s", "maxlen": 5, "approximate": False, "field": "job", "payload": "x"},
     [b"XADD", b"s", b"MAXLEN", b"=", b"5", b"*", b"job", b"x"]),
    ({"command": "ZADD", "key": "z", "priority": 3, "payload": "p"}, [b"ZADD", b"z", b"3", b"p"]),
    ({"command": "SET", "key": "k:{{vu}}", "args": ["{{iteration}}", "EX", 60]},
     [b"SET", b"k:2", b"7", b"EX", b"60"]),
], ids=["rpush", "xadd-maxlen", "xadd-exact", "zadd-priority", "other-command"])
def test_commands_on_the_wire(redis, expected):
    r = only_request(plan_from_dict(doc({"redis": redis})))
    assert wire_args(CompiledRedis(r.redis, 1.0).prepare({"iteration": 7, "vu": 2}).wire) == expected


def test_zadd_delay_scores_now_plus_delay(monkeypatch):
    import time
    r = only_request(plan_from_dict(doc({"redis": {"command": "ZADD", "key": "z", "delay": "30s",
                                                   "payload": "j"}})))
    monkeypatch.setattr(time, "time_ns", lambda: 1_000_000 * 1_700_000_000_000)
    args = wire_args(CompiledRedis(r.redis, 1.0).prepare({}).wire)
    assert args[2] == str(1_700_000_000_000 + 30_000).encode()


def test_json_payload_values_are_escaped_and_stay_one_document():
    t = JsonTemplate.from_text(json.dumps({"name": "{{user}}", "n": "{{iteration}}"}, separators=(",", ":")))
    evil = 'x", "admin": true, "y": "\\\n'
    out = json.loads(t.render({"user": evil, "iteration": 3}))
    assert out == {"name": evil, "n": "3"}
    with pytest.raises(TemplateError):
        t.render({"iteration": 1})


def test_static_commands_are_prepared_once():
    r = only_request(plan_from_dict(doc({"redis": {"key": "jobs", "payload": {"a": 1}}})))
    c = CompiledRedis(r.redis, 1.0)
    assert c.static is not None and c.prepare({}) is c.static
    assert r.method == "LPUSH"      # the default command


@pytest.mark.parametrize("request_doc, message", [
    ({"redis": {"command": "LPUSH", "payload": "x"}}, "requests[0].redis.key: required for LPUSH"),
    ({"redis": {"command": "LPUSH", "key": "q"}}, "requests[0].redis.payload: required for LPUSH"),
    ({"redis": {"command": "FLUSHALL"}}, "FLUSHALL is not allowed"),
    ({"redis": {"command": "SUBSCRIBE", "args": ["c"]}}, "SUBSCRIBE is not allowed"),
    ({"redis": {"command": "LPUSH", "key": "q", "payload": "x"}, "url": "http://x/"},
     "requests[0].url: a request has either redis:"),
    ({"redis": {"command": "ZADD", "key": "z", "payload": "x", "delay": "1s", "priority": 2}},
     "give one of score, priority or delay"),
    ({"redis": {"command": "LPUSH", "key": "q", "payload": "x", "maxlen": 3}}, "maxlen: applies to XADD only"),
    ({"redis": {"command": "LPUSH", "key": "q", "payload": "x"},
      "assertions": [{"type": "status", "value": 200}]}, "judged by body or duration assertions"),
    ({"redis": {"command": "LPUSH", "key": "q", "payload": "x", "colour": 1}}, "redis.colour"),
], ids=["no-key", "no-payload", "flushall", "subscribe", "both-kinds", "two-scores", "maxlen-on-list",
        "status-assertion", "unknown-key"])
def test_bad_redis_requests_name_the_field(request_doc, message):
    with pytest.raises(ConfigError) as e:
        plan_from_dict(doc(request_doc))
    assert message in str(e.value), str(e.value)


def test_settings_redis_url_password_moves_out_and_is_redacted():
    plan = plan_from_dict(doc({"redis": {"key": "q", "payload": "x"}},
                              settings={"redis": {"url": "rediss://:s3cret-pw@redis.example:6380/2",
                                                  "poolSize": 8}}))
    s = plan.settings.redis
    assert (s.url, s.password, s.tls, s.db, s.port, s.pool_size) == (
        "rediss://redis.example:6380/2", "s3cret-pw", True, 2, 6380, 8)
    assert "s3cret" not in only_request(plan).url
    assert "s3cret" not in Redactor.for_plan(plan).text("auth failed for s3cret-pw")


@pytest.mark.parametrize("settings, message", [
    ({"url": "http://h:1/0"}, "unsupported scheme 'http'"),
    ({"url": "redis://h/x"}, "must be a database number"),
    ({"url": "redis://:a@h/0", "password": "b"}, "given twice"),
    ({"poolSize": 0}, "poolSize: must be > 0"),
])
def test_bad_redis_settings(settings, message):
    with pytest.raises(ConfigError) as e:
        plan_from_dict(doc({"redis": {"key": "q", "payload": "x"}}, settings={"redis": settings}))
    assert message in str(e.value)


def test_preflight_checks_key_and_payload_names():
    plan = plan_from_dict(doc({"redis": {"key": "q:{{nope}}", "payload": {"a": "{{missing}}"}}}))
    problems = unknown_template_names(plan)
    assert any("redis.key" in p and "nope" in p for p in problems)
    assert any(".body" in p and "missing" in p for p in problems)


def test_max_queue_depth_and_max_total_jobs_guardrails():
    plan = plan_from_dict(doc({"redis": {"key": "q", "payload": "x"}},
                              guardrails={"max_queue_depth": 500, "max_total_jobs": 5000}))
    assert (plan.guardrails.max_queue_depth, plan.guardrails.max_total_requests) == (500, 5000)


# -- seed 004's job_config -------------------------------------------------------------------

def test_job_config_maps_to_an_lpush_of_a_job_envelope():
    req = job_request({"queue": "test-queue", "payload": {"test": True}, "priority": 1,
                       "retry": {"max_attempts": 3}, "timeout": "30s"})
    plan = plan_from_dict(doc(req))
    r = only_request(plan)
    assert (r.method, r.redis.key, r.name) == ("LPUSH", "test-queue", "enqueue test-queue")
    job = json.loads(wire_args(CompiledRedis(r.redis, 1.0).prepare({"iteration": 5}).wire)[2])
    assert job["payload"] == {"test": True} and job["iteration"] == "5"
    assert (job["priority"], job["retry"], job["timeout"]) == (1, {"max_attempts": 3}, "30s")
    assert len(job["id"]) == 36 and job["enqueuedAt"].isdigit()


def test_job_config_with_a_delay_is_a_delayed_zadd():
    r = only_request(plan_from_dict(doc(job_request({"queue": "later", "delay": "5s"}))))
    assert (r.method, r.redis.delay) == ("ZADD", 5.0)


@pytest.mark.parametrize("cfg, message", [
    ({"payload": {}}, "job_config.queue: required"),
    ({"queue": "q", "delay": "soon"}, "job_config.delay"),
    ({"queue": "q", "colour": 1}, "job_config.colour"),
    ("q", "job_config: must be an object"),
])
def test_job_config_errors(cfg, message):
    with pytest.raises(ConfigError) as e:
        job_request(cfg)
    assert message in str(e.value)


# -- queue math ------------------------------------------------------------------------------

def test_processing_rate_is_enqueued_minus_backlog_growth():
    plan = plan_from_dict(doc({"name": "e", "redis": {"key": "jobs", "payload": "x"}},
                              {"name": "s", "redis": {"command": "XADD", "key": "ev", "payload": "x"}}))
    series = QueueSeries(targets(plan))
    assert series.targets.keys == {"jobs": "list", "ev": "stream"}
    series.add_sample(0, Sample({"jobs": {"depth": 0}, "ev": {"depth": 0, "groups": 0}}, 1000))
    series.add_sample(1, Sample({"jobs": {"depth": 40}, "ev": {"depth": 7, "groups": 1, "pending": 2,
                                                                "lag": 3}}, 2000))
    series.add_counts(0, "jobs", "e", 100)
    series.add_counts(0, "jobs", "s", 10)
    series.add_counts(0, "jobs", "unknown", 99)
    f = series.field(0)
    assert f["keys"]["jobs"] == {"type": "list", "depth": 40, "backlog": 40, "pending": None, "lag": None,
                                 "enqueued": 100, "processed": 60}
    assert f["keys"]["ev"]["backlog"] == 5 and f["keys"]["ev"]["processed"] == 5
    assert (f["depth"], f["enqueued"], f["processingRate"], f["memoryBytes"]) == (45, 110, 65, 2000)
    assert series.field(1) is None                        # no sample at 2 yet
    assert over_depth(series, 1, 39) == ("jobs", 40) and over_depth(series, 1, 40) is None


def test_templated_keys_are_not_monitored():
    plan = plan_from_dict(doc({"redis": {"key": "q:{{vu}}", "payload": "x"}}))
    t = targets(plan)
    assert t.keys == {} and t.skipped == ("q:{{vu}}",)


# -- failure classes -------------------------------------------------------------------------

@pytest.mark.parametrize("reply, cls", [
    ("OOM command not allowed when used memory > 'maxmemory'.", "oom"),
    ("READONLY You can't write against a read only replica.", "readonly"),
    ("WRONGTYPE Operation against a key holding the wrong kind of value", "wrongtype"),
    ("NOAUTH Authentication required.", "noauth"),
    ("WRONGPASS invalid username-password pair or user is disabled.", "noauth"),
    ("ERR unknown command 'FOO'", "other"),
])
def test_error_replies_are_classified(reply, cls):
    assert reply_class(reply) == cls
    assert error_class(ReplyError(reply), connecting=False) == cls


def test_connection_errors_are_classified():
    assert error_class(ConnectionRefusedError(111, "refused"), connecting=True) == "connect"
    assert error_class(ConnectionResetError(104, "reset"), connecting=False) == "reset"
    assert error_class(TimeoutError(), connecting=True) == "timeout"
