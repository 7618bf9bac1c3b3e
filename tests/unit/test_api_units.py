"""Control-plane pieces without a run: tokens and roles, the stream's messages and clients,
the intake ceiling, seed 004's pattern request, and the scaled rate function."""

from __future__ import annotations

import asyncio
import json
import math

import msgspec
import pytest

from lunge_mp.api.auth import Identity, TokenError, Tokens, required_role
from lunge_mp.api.intake import Ceiling, Refused, parse_document, plan_from_document
from lunge_mp.api.patterns import config_from_pattern_request
from lunge_mp.api.stream import HISTORY_POINTS, KEEP_ROWS, MAX_MESSAGE, QUEUE_LIMIT, Channel, fit
from lunge_mp.coordinator.scaling import ScaledFrom
from lunge_mp.schedule.arrivals import ArrivalClock
from lunge_mp.schedule.rates import Constant

URL = "http://127.0.0.1:9/"


# --- auth ----------------------------------------------------------------------------------
def _file(tmp_path, text: str, mode: int = 0o600):
    p = tmp_path / "tokens"
    p.write_text(text)
    p.chmod(mode)
    return str(p)


def test_tokens_roles_and_file_forms(tmp_path):
    single = Tokens.load(_file(tmp_path, "s" * 20 + "\n"), environ={})
    assert single.lookup("s" * 20) == Identity("default", "admin")
    assert single.lookup("s" * 19) is None and single.lookup("") is None
    many = Tokens.load(_file(tmp_path, "tokens:\n - {name: ci, role: operator, token: " + "c" * 20 + "}\n"
                                       " - {name: graf, role: viewer, token: " + "g" * 20 + "}\n"),
                       environ={"LUNGE_MP_API_TOKEN": "e" * 20})
    assert many.lookup("c" * 20) == Identity("ci", "operator")
    assert many.lookup("e" * 20) == Identity("env", "admin")
    assert Identity("graf", "viewer").can("viewer") and not Identity("graf", "viewer").can("operator")
    assert not Tokens([])


@pytest.mark.parametrize("text, mode, needle", [
    ("short", 0o600, "16 characters"),
    ("x" * 20, 0o644, "chmod 600"),
    ("tokens:\n - {name: a, role: root, token: " + "a" * 20 + "}\n", 0o600, "tokens[0].role"),
    ("tokens:\n - {name: a, role: viewer, token: " + "a" * 20 + "}\n - {name: a, role: viewer, token: "
     + "b" * 20 + "}\n", 0o600, "used twice"),
])
def test_bad_token_files_name_the_problem_not_the_token(tmp_path, text, mode, needle):
    with pytest.raises(TokenError) as info:
        Tokens.load(_file(tmp_path, text, mode), environ={})
    assert needle in str(info.value) and "a" * 20 not in str(info.value)


def test_required_roles():
    assert required_role("GET", "/api/v1/tests") == "viewer"
    assert required_role("POST", "/api/v1/tests") == "operator"
    assert required_role("POST", "/api/v1/load-test/profiles") == "admin"
    assert required_role("DELETE", "/api/v1/load-test/profiles/x") == "admin"
    assert required_role("POST", "/api/v1/load-test/profiles/x/run") == "operator"
    assert required_role("GET", "/api/v1/load-test/profiles") == "viewer"


# --- stream --------------------------------------------------------------------------------
def _snap(t: int, scenarios: int = 1, errors: int = 0) -> dict:
    return {"t": t, "paused": False, "target": 10.0, "actual": 10, "requests": 10, "failures": errors,
            "errors": {f"class_{i:03}": 1 for i in range(errors)}, "p50": 1.0, "p95": 2.0, "p99": 3.0,
            "lagP95": 0.5, "vus": 2, "dropped": 0, "cpu": 5.0, "rssMB": 50.0,
            "scenarios": {f"scenario_with_a_long_name_{i:03}": {"target": 10.0, "actual": 10, "vus": 1, "dropped": 0}
                          for i in range(scenarios)},
            "totals": {"requests": 10 * (t + 1), "failures": 0, "elapsed": t + 1.0, "planned": 60.0}}


def test_messages_stay_under_1kb_and_say_what_was_cut():
    async def main():
        ch = Channel("t_x")
        client = ch.join()
        ch.on_feed("second", _snap(0, scenarios=80, errors=90))
        history = client.queue.get_nowait()
        assert json.loads(history)["type"] == "history"
        for _ in range(2):
            text = client.queue.get_nowait()
            assert len(text.encode()) < MAX_MESSAGE
            assert json.loads(text)["truncated"] > 0
    asyncio.run(main())


def test_fit_keeps_small_messages_whole():
    msg = {"type": "x", "items": {"a": 1}}
    assert json.loads(fit(dict(msg), "items")) == msg


def test_late_joiner_gets_at_most_300_points_and_memory_stays_flat():
    async def main():
        ch = Channel("t_x")
        for t in range(5000):
            ch.on_feed("second", _snap(t))
        assert len(ch.rows) <= KEEP_ROWS
        history = json.loads(ch.join().queue.get_nowait())
        ts = history["series"]["t"]
        assert 0 < len(ts) <= HISTORY_POINTS and ts == sorted(ts) and ts[-1] > 4000
    asyncio.run(main())


def test_a_client_that_does_not_read_is_dropped_and_others_go_on():
    async def main():
        ch = Channel("t_x")
        slow, fast = ch.join(), ch.join()
        for t in range(QUEUE_LIMIT):
            ch.on_feed("second", _snap(t))
            while not fast.queue.empty():
                fast.queue.get_nowait()
        assert slow.dropped and slow not in ch.clients and ch.dropped_clients == 1
        assert fast in ch.clients and not fast.dropped
        drained = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        assert drained == [None]                 # its socket is closed next
    asyncio.run(main())


def test_violations_go_at_most_once_a_second_together():
    async def main():
        ch = Channel("t_x")
        client = ch.join()
        client.queue.get_nowait()
        for i in range(5):
            ch.on_feed("violation", {"t": 1.0, "message": f"worker {i} lost"})
        first = json.loads(client.queue.get_nowait())
        assert first["messages"] == ["worker 0 lost"] and client.queue.empty()
        await asyncio.sleep(1.1)
        second = json.loads(client.queue.get_nowait())
        assert second["messages"] == [f"worker {i} lost" for i in range(1, 5)]
        ch.complete({"status": "passed", "exitCode": 0})
        assert json.loads(client.queue.get_nowait())["type"] == "completion"
    asyncio.run(main())


# --- intake --------------------------------------------------------------------------------
def _open(rate: float, duration: str = "30s", **extra) -> dict:
    return {"name": "t", **extra, "scenarios": {"s": {"executor": "constant-arrival-rate", "rate": rate,
                                                      "duration": duration, "preAllocatedVUs": 1,
                                                      "requests": [{"url": URL}]}}}


def test_ceiling_refuses_and_lowers_guardrails():
    ceiling = Ceiling(max_rate=100, max_duration=60, allowed_hosts=("127.0.0.1",))
    with pytest.raises(Refused) as info:
        plan_from_document(_open(150), ceiling)
    assert info.value.status == 422 and info.value.problems[0].startswith("scenarios.s.rate")
    with pytest.raises(Refused) as info:
        plan_from_document(_open(50, "2m"), ceiling)
    assert info.value.problems[0].startswith("scenarios.s.duration")
    doc = _open(50)
    doc["scenarios"]["s"]["requests"] = [{"url": "http://example.com/"}]
    with pytest.raises(Refused) as info:
        plan_from_document(doc, ceiling)
    assert "--allowed-hosts" in info.value.problems[0]
    plan = plan_from_document(_open(50, guardrails={"maxRate": 1000, "maxDuration": "1h"}), ceiling)
    g = plan.guardrails
    assert (g.max_rate, g.max_duration, g.allowed_hosts) == (100, 60, ("127.0.0.1",))


def test_intake_refuses_files_and_reads_yaml():
    with pytest.raises(Refused) as info:
        plan_from_document(_open(5, output={"json": "/etc/x.json"}), Ceiling())
    assert info.value.status == 422 and info.value.problems[0].startswith("output")
    doc = parse_document(b"name: y\nscenarios: {}\n", "application/yaml")
    assert doc == {"name": "y", "scenarios": {}}
    with pytest.raises(Refused) as info:
        parse_document(b"\xff", "application/json")
    assert info.value.status == 400


def test_seed_pattern_request_becomes_a_config():
    config = config_from_pattern_request({
        "pattern": {"type": "sine", "duration": "5m", "base_rate": 60.0, "max_rate": 100.0,
                    "amplitude": 50.0, "period": "1m"},
        "guardrails": {"max_rate": 150, "max_total_jobs": 5000, "max_duration": "10m"},
        "job_config": {"queue": "q", "payload": {"test": True}, "priority": 1},
        "target": {"url": URL}, "save_profile": True, "profile_name": "daily"})
    plan = plan_from_document(config, Ceiling())
    s = plan.scenarios[0]
    assert plan.name == "daily" and s.executor == "pattern" and "maxRate" not in msgspec.to_builtins(s.pattern)
    assert plan.guardrails.max_rate == 100 and plan.guardrails.max_total_requests == 5000
    req = s.requests[0]
    assert req.method == "POST" and req.headers["X-Lunge-Queue"] == "q"


# --- scaling -------------------------------------------------------------------------------
def test_scaled_rate_keeps_the_past_and_multiplies_the_future():
    base = Constant(10.0, 10.0)
    scaled = ScaledFrom(base, 4.0, 3.0)
    assert scaled.rate(3.9) == 10.0 and scaled.rate(4.0) == 30.0
    assert scaled.hits(4.0) == pytest.approx(40.0) and scaled.hits(10.0) == pytest.approx(220.0)
    assert scaled.time_of_hit(39) == pytest.approx(3.9) and scaled.time_of_hit(70) == pytest.approx(5.0)
    old = ArrivalClock(base)
    before = old.take_until(4.25)
    new = ArrivalClock(ScaledFrom(base, 4.25, 3.0))
    new._next, new._last_us = old._next, old._last_us
    after = new.take_until(math.inf)
    assert len(before) == 43 and len(before) + len(after) == math.ceil(42.5 + 3 * 57.5)
    assert after[0] >= before[-1] and after == sorted(after)


def test_report_marks_pauses_and_scales():
    from pathlib import Path

    from lunge_mp.report.html import render_html
    doc = json.loads((Path(__file__).resolve().parent.parent / "fixtures" / "results-demo.json").read_text())
    doc["controlEvents"] = [{"t": 2.0, "event": "pause"}, {"t": 4.5, "event": "resume", "pausedSeconds": 2.5},
                            {"t": 5.0, "event": "scale", "scenario": "<web>", "vus": 6, "was": 3}]
    html = render_html(doc)
    assert "Paused at 2.0 s" in html and "Resumed at 4.5 s after 2.5 s paused" in html
    assert "Scaled &lt;web&gt; at 5.0 s: vus 6 (was 3)" in html


def test_metrics_update_carries_the_queue_totals_under_1kb():
    async def main():
        ch = Channel("t_x")
        client = ch.join()
        client.queue.get_nowait()
        snap = _snap(3)
        snap["queue"] = {"keys": {f"jobs:{i}": {"type": "list", "depth": i} for i in range(100)},
                         "depth": 12, "enqueued": 40, "processingRate": 38, "memoryBytes": 1_000_000}
        ch.on_feed("second", snap)
        client.queue.get_nowait()                      # rate_update
        text = client.queue.get_nowait()
        m = json.loads(text)
        assert len(text.encode()) < MAX_MESSAGE
        assert m["queue"] == {"depth": 12, "enqueued": 40, "processingRate": 38, "memoryBytes": 1_000_000}
    asyncio.run(main())
