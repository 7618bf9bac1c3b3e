"""Job-queue load against a real redis-server (started per test on a free port, stopped by PID),
through the CLI with real worker processes."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from lunge_mp.target import redis_server
from tests.support import cli, write_config

pytestmark = pytest.mark.skipif(not redis_server.available(), reason=redis_server.MISSING)


@pytest.fixture
def redis():
    with redis_server.start_redis() as server:
        yield server


def config(tmp_path, url, requests, executor="executor: constant-arrival-rate\n    rate: 500\n    duration: 2s",
           extra="", settings=""):
    text = f"""\
name: queue test
settings:
  redis: {{url: "{url}"{settings}}}
scenarios:
  jobs:
    {executor}
    preAllocatedVUs: 50
    maxVUs: 2000
    requests:
{requests}
{extra}
output: {{json: {{path: {tmp_path / 'results.json'}}}, html: {{path: {tmp_path / 'report.html'}}}}}
"""
    return write_config(tmp_path, text)


LPUSH = """\
      - name: enqueue
        redis:
          command: LPUSH
          key: jobs
          payload: {id: "{{iteration}}", kind: test}"""


def results(tmp_path) -> dict:
    return json.loads((tmp_path / "results.json").read_text())


def test_open_model_run_enqueues_exactly_n_jobs_each_with_its_iteration(tmp_path, redis):
    path = config(tmp_path, redis.url, LPUSH, "executor: constant-arrival-rate\n    rate: 1000\n    duration: 2s")
    p = cli("run", str(path), "--workers", "2")
    assert p.returncode == 0, p.stdout + p.stderr
    assert results(tmp_path)["metrics"]["dropped_iterations"]["count"] == 0
    assert redis.command("LLEN", "jobs") == 2000
    jobs = [json.loads(raw) for raw in redis.command("LRANGE", "jobs", "0", "-1")]
    assert sorted(int(j["id"]) for j in jobs) == list(range(2000))
    assert all(j["kind"] == "test" for j in jobs)
    r = results(tmp_path)
    m = r["metrics"]
    assert m["redis_cmds"]["count"] == m["http_reqs"]["count"] == 2000
    assert m["redis_cmd_failed"]["count"] == 0
    assert m["redis_cmd_duration"]["count"] == m["redis_cmd_response_time"]["count"] == 2000
    assert r["efficiency"]["overall"] == 1.0
    queue = [b["queue"] for b in r["buckets"] if b.get("queue")]
    assert queue and queue[-1]["keys"]["jobs"]["type"] == "list"
    # nobody consumes: the backlog is every job enqueued so far, and nothing was processed (but
    # for the few jobs done around a sample's instant and reported in the next second)
    assert max(q["depth"] for q in queue) <= 2000
    assert all(abs(q["processingRate"] or 0) <= 0.02 * q["enqueued"] + 5 for q in queue), queue
    assert r["queue"]["keys"] == {"jobs": "list"} and r["queue"]["peakDepth"] == 2000
    html = (tmp_path / "report.html").read_text()
    assert "Queue: enqueue rate, processing rate and queue depth" in html


def test_a_key_of_another_type_fails_with_wrongtype(tmp_path, redis):
    redis.command("SET", "jobs", "not a list")
    path = config(tmp_path, redis.url, LPUSH, "executor: constant-arrival-rate\n    rate: 100\n    duration: 1s")
    p = cli("run", str(path), "--workers", "1")
    assert p.returncode == 99, p.stdout + p.stderr   # failing on purpose: the default threshold
    failed = results(tmp_path)["metrics"]["redis_cmd_failed"]
    assert failed["count"] == 100 and failed["byClass"] == {"wrongtype": 100}
    assert failed["firstError"]["wrongtype"].startswith("WRONGTYPE") and "LPUSH jobs" in failed["firstError"]["wrongtype"]


def test_a_template_value_missing_at_run_time_is_class_template(tmp_path, redis):
    requests = """\
      - name: push
        redis: {command: LPUSH, key: jobs, payload: "a"}
        extract: [{name: token, source: body, regex: 'never(\\d+)'}]
      - name: use
        redis: {command: LPUSH, key: other, payload: {token: "{{token}}"}}"""
    path = config(tmp_path, redis.url, requests, "executor: constant-arrival-rate\n    rate: 50\n    duration: 1s")
    p = cli("run", str(path), "--workers", "1")
    assert p.returncode == 99, p.stdout + p.stderr   # failing on purpose: the default threshold
    use = results(tmp_path)["requests"]["use"]
    assert use["redis_cmd_failed"]["byClass"] == {"template": 50}
    assert redis.command("LLEN", "other") == 0 and redis.command("LLEN", "jobs") == 50


def test_redis_down_at_start_counts_connect_failures_and_warns_once(tmp_path):
    port = redis_server.free_port()
    path = config(tmp_path, f"redis://127.0.0.1:{port}/0", LPUSH,
                  "executor: constant-arrival-rate\n    rate: 100\n    duration: 2s")
    p = cli("run", str(path), "--workers", "1")
    assert p.returncode == 99, p.stdout + p.stderr   # failing on purpose: the default threshold
    r = results(tmp_path)
    failed = r["metrics"]["redis_cmd_failed"]
    assert failed["count"] == r["metrics"]["redis_cmds"]["count"] == 200
    assert set(failed["byClass"]) == {"connect"}
    assert f"cannot connect to redis://127.0.0.1:{port}/0" in failed["firstError"]["connect"]
    down = [w for w in r["warnings"] if "the queue looks down" in w]
    assert len(down) == 1, r["warnings"]


def test_the_password_never_appears_in_any_output(tmp_path):
    secret = "pw-3f9c1d7e-very-secret"
    with redis_server.start_redis(password=secret) as server:
        path = config(tmp_path, server.url, LPUSH, "executor: constant-arrival-rate\n    rate: 100\n    duration: 1s",
                      settings=', password: "${QUEUE_PW}"')
        p = cli("run", str(path), "--workers", "1", env={"QUEUE_PW": secret})
        assert p.returncode == 0, p.stdout + p.stderr
        assert server.command("LLEN", "jobs") == 100
        assert results(tmp_path)["metrics"]["redis_cmd_failed"]["count"] == 0
        # a wrong password: class noauth, and still no password shown
        p2 = cli("run", str(path), "--workers", "1", env={"QUEUE_PW": secret + "-wrong"})
        failed = results(tmp_path)["metrics"]["redis_cmd_failed"]
        assert set(failed["byClass"]) == {"noauth"}, failed
    for text in (p.stdout, p.stderr, p2.stdout, p2.stderr, (tmp_path / "results.json").read_text(),
                 (tmp_path / "report.html").read_text()):
        assert secret not in text


def test_guardrail_max_queue_depth_stops_the_run(tmp_path, redis):
    path = config(tmp_path, redis.url, LPUSH, "executor: constant-arrival-rate\n    rate: 400\n    duration: 20s",
                  extra="guardrails: {maxQueueDepth: 300}")
    started = time.monotonic()
    p = cli("run", str(path), "--workers", "1")
    assert p.returncode == 111, p.stdout + p.stderr
    assert time.monotonic() - started < 15
    r = results(tmp_path)
    assert "maxQueueDepth" in r["abortReason"] and "'jobs'" in r["abortReason"]


def test_redis_killed_and_restarted_mid_run(tmp_path, redis):
    path = config(tmp_path, redis.url, LPUSH, "executor: constant-arrival-rate\n    rate: 200\n    duration: 6s")

    def crash_and_restart():
        deadline = time.monotonic() + 20
        while redis.command("LLEN", "jobs") < 200 and time.monotonic() < deadline:   # ~1 s of load
            time.sleep(0.05)
        redis.kill()
        time.sleep(1.5)
        redis.start()

    chaos = threading.Thread(target=crash_and_restart)
    chaos.start()
    p = cli("run", str(path), "--workers", "2")
    chaos.join()
    assert p.returncode == 99, p.stdout + p.stderr   # failing on purpose: the default threshold
    r = results(tmp_path)
    m = r["metrics"]
    assert m["redis_cmds"]["count"] == 1200          # every scheduled job is counted once
    failed = m["redis_cmd_failed"]
    assert failed["count"] > 0 and set(failed["byClass"]) <= {"connect", "reset", "timeout"}, failed
    succeeded = m["redis_cmds"]["count"] - failed["count"]
    ids = [json.loads(raw)["id"] for raw in redis.command("LRANGE", "jobs", "0", "-1")]
    assert len(ids) == len(set(ids))                 # nothing was enqueued twice
    assert 0 < len(ids) <= succeeded                 # the restarted (empty) server got the rest
    assert any("the queue looks down" in w for w in r["warnings"])
    assert any("answers again" in w for w in r["warnings"])


def test_streams_with_a_consumer_group_and_delayed_jobs(tmp_path, redis):
    redis.command("XGROUP", "CREATE", "events", "workers", "$", "MKSTREAM")
    requests = """\
      - name: event
        redis: {command: XADD, key: events, maxlen: 100000, payload: {n: "{{iteration}}"}}
        extract: [{name: entry, source: body, regex: '^(\\d+-\\d+)$'}]
      - name: later
        redis: {command: ZADD, key: delayed, delay: 60s, payload: "job-{{iteration}}-{{entry}}"}"""
    before_ms = time.time() * 1000
    path = config(tmp_path, redis.url, requests, "executor: constant-arrival-rate\n    rate: 100\n    duration: 2s")
    p = cli("run", str(path), "--workers", "1")
    assert p.returncode == 0, p.stdout + p.stderr
    assert redis.command("XLEN", "events") == 200 and redis.command("ZCARD", "delayed") == 200
    first = redis.command("ZRANGE", "delayed", "0", "0", "WITHSCORES")
    assert first[0].startswith(b"job-") and b"-" in first[0][4:]        # the extracted entry id
    assert before_ms + 60_000 <= float(first[1]) <= time.time() * 1000 + 60_000
    r = results(tmp_path)
    assert r["queue"]["keys"] == {"events": "stream", "delayed": "zset"}
    last = [b["queue"] for b in r["buckets"] if b.get("queue")][-1]
    ev = last["keys"]["events"]
    # nobody reads the group: every entry is lag (not yet delivered), none pending
    assert (ev["depth"], ev["lag"], ev["pending"], ev["backlog"]) == (200, 200, 0, 200)
    assert last["keys"]["delayed"]["depth"] == 200 and last["depth"] == 400


def test_a_full_redis_fails_with_oom(tmp_path, redis):
    redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
    redis.command("CONFIG", "SET", "maxmemory", "1")     # any write is over the limit
    path = config(tmp_path, redis.url, LPUSH, "executor: constant-arrival-rate\n    rate: 50\n    duration: 1s")
    p = cli("run", str(path), "--workers", "1")
    assert p.returncode == 99, p.stdout + p.stderr   # failing on purpose: the default threshold
    failed = results(tmp_path)["metrics"]["redis_cmd_failed"]
    assert failed["byClass"] == {"oom": 50} and failed["firstError"]["oom"].startswith("OOM")
