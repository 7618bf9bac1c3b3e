"""The control plane against real runs: the aiohttp app on a real socket, real worker
processes, the embedded target counting what arrives."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError

from lunge_mp.api.intake import Ceiling
from lunge_mp.api.auth import Tokens
from tests.integration.api_support import (bearer, client, closed_config, open_config, pause_and_watch, status,
                                           tokens_file, until, wait_final)

pytestmark = pytest.mark.timeout(180)


def run(coro):
    return asyncio.run(coro)


def test_start_status_stream_stop(fresh_target, tmp_path):
    async def main():
        async with client(tmp_path) as c:
            r = await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=40))
            assert r.status == 201, await r.text()
            test = await r.json()
            tid = test["id"]
            assert test["status"] == "running" and test["websocket_url"].endswith(f"/stream/{tid}")
            assert test["estimated"] == {"duration": 60.0, "jobs": 2400}
            ws = await c.ws_connect(f"/api/v1/load-test/stream/{tid}")
            first = json.loads((await ws.receive(timeout=10)).data)
            assert first["type"] == "history"
            seen: dict[str, list] = {}
            while len(seen.get("metrics_update", [])) < 3:
                msg = await ws.receive(timeout=15)
                assert len(msg.data.encode()) < 1024, msg.data
                m = json.loads(msg.data)
                seen.setdefault(m["type"], []).append(m)
            for kind in ("rate_update", "metrics_update"):     # one a second, in order
                ts = [m["t"] for m in seen[kind]]
                assert ts == sorted(set(ts)), ts
            rate = seen["rate_update"][-1]
            assert rate["target"] == 40 and rate["scenarios"]["load"]["target"] == 40
            assert seen["metrics_update"][-1]["p95"] is not None
            view = await status(c, tid)
            assert view["status"] == "running" and view["live"]["t"] >= 1

            r = await c.post(f"/api/v1/tests/{tid}/stop")
            assert r.status == 200 and (await r.json())["status"] in ("stopping", "aborted")
            completion = None
            while completion is None:
                msg = await ws.receive(timeout=30)
                if msg.type != WSMsgType.TEXT:
                    break
                m = json.loads(msg.data)
                if m["type"] == "completion":
                    completion = m
            assert completion["status"] == "aborted" and completion["exitCode"] == 105
            assert completion["results"] == f"/api/v1/tests/{tid}/results"
            view = await wait_final(c, tid)
            assert view["status"] == "aborted"

            results = await (await c.get(f"/api/v1/tests/{tid}/results")).json()
            sent = results["metrics"]["http_reqs"]["count"]
            assert sent > 0 and fresh_target.stats()["requests"] == sent    # counted at the server
            report = await c.get(f"/api/v1/tests/{tid}/report")
            assert report.status == 200 and "sandbox" in report.headers["Content-Security-Policy"]
            listed = await (await c.get("/api/v1/tests")).json()
            assert listed["running"] == [] and listed["tests"][0]["id"] == tid
            again = await c.post(f"/api/v1/tests/{tid}/stop")
            assert again.status == 409
        audit = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
        assert [(e["action"], e["outcome"], e["identity"]) for e in audit][:2] == [
            ("start", "ok", "local"), ("stop", "ok", "local")]
    run(main())


def test_auth_roles_and_refusals(fresh_target, tmp_path):
    path, tok = tokens_file(tmp_path)

    async def main():
        async with client(tmp_path, tokens=Tokens.load(str(path), environ={}), max_concurrent=1,
                          ceiling=Ceiling(max_rate=500)) as c:
            cfg = open_config(fresh_target.url, rate=30)
            assert (await c.get("/api/v1/tests")).status == 401
            assert (await c.get("/api/v1/tests", headers=bearer("x" * 24))).status == 401
            assert (await c.get("/metrics")).status == 401
            assert (await c.get("/")).status == 200                    # the page holds no data
            assert (await c.get("/api/v1/tests", headers=bearer(tok["viewer"]))).status == 200
            r = await c.post("/api/v1/tests", json=cfg, headers=bearer(tok["viewer"]))
            assert r.status == 403 and "viewer" in (await r.json())["error"]
            assert (await c.post("/api/v1/load-test/profiles", json={},
                                 headers=bearer(tok["operator"]))).status == 403
            # malformed bodies: field paths as the CLI gives them
            r = await c.post("/api/v1/tests", data=b"{not json", headers={**bearer(tok["operator"]),
                                                                          "Content-Type": "application/json"})
            assert r.status == 400 and "line 1" in (await r.json())["problems"][0]
            bad = {"name": "x", "scenarios": {"s": {"executor": "constant-vus", "vus": -1, "duration": "5s",
                                                    "requests": [{"url": fresh_target.url}]}}}
            r = await c.post("/api/v1/tests", json=bad, headers=bearer(tok["operator"]))
            assert r.status == 400 and any(p.startswith("scenarios.s.vus") for p in (await r.json())["problems"])
            yaml_text = f"name: y\nscenarios:\n  s:\n    executor: constant-vus\n    vus: 1\n    duration: 1x\n" \
                        f"    requests: [{{url: '{fresh_target.url}'}}]\n"
            r = await c.post("/api/v1/tests", data=yaml_text, headers={**bearer(tok["operator"]),
                                                                       "Content-Type": "application/yaml"})
            assert r.status == 400 and "scenarios.s.duration" in (await r.json())["problems"][0]
            # over the ceiling: 422 naming the field, nothing sent
            r = await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=900),
                             headers=bearer(tok["operator"]))
            body = await r.json()
            assert r.status == 422 and body["problems"][0].startswith("scenarios.load.rate")
            r = await c.post("/api/v1/tests", data=b"x" * (1024 * 1024 + 1), headers=bearer(tok["operator"]))
            assert r.status == 413
            assert fresh_target.stats()["requests"] == 0

            r = await c.post("/api/v1/tests", json=cfg, headers=bearer(tok["operator"]))
            assert r.status == 201
            tid = (await r.json())["id"]
            r = await c.post("/api/v1/tests", json=cfg, headers=bearer(tok["admin"]))
            assert r.status == 409 and tid in (await r.json())["error"]
            r = await c.post(f"/api/v1/tests/{tid}/resume", headers=bearer(tok["operator"]))
            assert r.status == 409 and "running" in (await r.json())["error"]
            assert (await c.get("/api/v1/tests/nope", headers=bearer(tok["viewer"]))).status == 404
            with pytest.raises(WSServerHandshakeError) as info:
                await c.ws_connect(f"/api/v1/load-test/stream/{tid}")
            assert info.value.status == 401
            ws = await c.ws_connect(f"/api/v1/load-test/stream/{tid}",
                                    protocols=["lunge-mp", f"bearer.{tok['viewer']}"])   # as a browser does
            assert ws.protocol == "lunge-mp"                                # the token is not echoed
            assert json.loads((await ws.receive(timeout=10)).data)["type"] == "history"
            await ws.close()
            r = await c.post(f"/api/v1/tests/{tid}/stop", headers=bearer(tok["operator"]))
            assert r.status == 200
            await wait_final(c, tid, bearer(tok["viewer"]))
        text = (tmp_path / "audit.log").read_text()
        assert not any(t in text for t in tok.values())                 # names, never tokens
        entries = [json.loads(line) for line in text.splitlines()]
        assert ("start", "ok", "operator-bot") in [(e["action"], e["outcome"], e["identity"]) for e in entries]
        assert ("start", "refused", "admin-bot") in [(e["action"], e["outcome"], e["identity"]) for e in entries]
    run(main())


def test_pause_holds_the_target_count_and_resume_goes_on(fresh_target, tmp_path):
    async def main():
        async with client(tmp_path) as c:
            tid = (await (await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=50))).json())["id"]
            await until(lambda: fresh_target.stats()["requests"] >= 50, what="traffic")
            held = await pause_and_watch(c, tid, fresh_target, still_s=2.0)   # nothing sent while paused
            assert (await c.post(f"/api/v1/tests/{tid}/pause")).status == 409
            r = await c.post(f"/api/v1/tests/{tid}/resume")
            assert r.status == 200 and (await r.json())["status"] == "running"
            await until(lambda: fresh_target.stats()["requests"] >= held + 40, what="traffic after resume")
            await c.post(f"/api/v1/tests/{tid}/stop")
            await wait_final(c, tid)
            results = await (await c.get(f"/api/v1/tests/{tid}/results")).json()
        (pause,) = results["pauses"]
        assert pause["end"] - pause["start"] >= 2.0
        assert [e["event"] for e in results["controlEvents"]] == ["pause", "resume"]
        it = results["metrics"]["iterations"]["count"]
        # a pause makes nothing due: a resume that fired the paused arrivals at once would drop
        # ~100 of them as behind and burst; a loaded box may still drop one or two as behind
        assert results["metrics"]["dropped_iterations"]["count"] <= 3, results["metrics"]["dropped_iterations"]
        assert max(b["iterations"] for b in results["buckets"]) <= 60
        assert fresh_target.stats()["requests"] == results["metrics"]["http_reqs"]["count"] == it
        assert any(b.get("paused") for b in results["buckets"])
    run(main())


def test_scale_closed_and_open(fresh_target, tmp_path):
    async def main():
        async with client(tmp_path, max_concurrent=2, ceiling=Ceiling(max_rate=400)) as c:
            closed = (await (await c.post("/api/v1/tests", json=closed_config(fresh_target.url, vus=2))).json())["id"]
            opened = (await (await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=20))).json())
            assert "share" in opened["note"]                      # two tests share the box: said
            opened = opened["id"]
            await until(lambda: _live(c, closed, "vus", 2), what="2 VUs")
            r = await c.post(f"/api/v1/tests/{closed}/scale", json={"scenario": "web", "vus": 5})
            assert r.status == 200, await r.text()
            event = (await r.json())["events"][-1]
            assert event["event"] == "scale" and event["vus"] == 5 and event["was"] == 2
            await until(lambda: _live(c, closed, "vus", 5), what="5 VUs")
            r = await c.post(f"/api/v1/tests/{closed}/scale", json={"scenario": "web", "rate": 5})
            assert r.status == 409                                  # a closed scenario has no rate
            await until(lambda: _live(c, opened, "target", 20.0), what="rate 20")
            r = await c.post(f"/api/v1/tests/{opened}/scale", json={"scenario": "load", "factor": 100})
            assert r.status == 422 and "--max-rate" in (await r.json())["problems"][0]
            r = await c.post(f"/api/v1/tests/{opened}/scale", json={"scenario": "load", "rate": 60})
            assert r.status == 200, await r.text()
            await until(lambda: _live(c, opened, "target", 60.0), what="rate 60")
            for tid in (closed, opened):
                await c.post(f"/api/v1/tests/{tid}/stop")
            for tid in (closed, opened):
                await wait_final(c, tid)
            results = await (await c.get(f"/api/v1/tests/{opened}/results")).json()
        assert results["controlEvents"][0]["event"] == "scale"
        assert results["metrics"]["dropped_iterations"]["count"] == 0
    run(main())


async def _live(c, tid: str, key: str, want) -> bool:
    live = (await status(c, tid))["live"]
    return live is not None and live.get(key) == want


def test_seed_pattern_endpoints_and_prometheus(fresh_target, tmp_path):
    async def main():
        async with client(tmp_path) as c:
            body = {"pattern": {"type": "sine", "duration": "1m", "base_rate": 30, "max_rate": 100,
                                "amplitude": 10, "period": "20s"},
                    "guardrails": {"max_rate": 100, "max_total_jobs": 5000, "max_duration": "10m"},
                    "job_config": {"queue": "test-queue", "payload": {"test": True}, "priority": 1},
                    "target": {"url": fresh_target.url + "/post"}}
            r = await c.post("/api/v1/load-test/patterns/start", json=body)
            assert r.status == 201, await r.text()
            started = await r.json()
            tid = started["test_id"]
            assert started["status"] == "running" and started["pattern"]["type"] == "sine"
            assert started["pattern"]["estimated_duration"] == "60s" and started["pattern"]["estimated_jobs"] == 1800
            assert started["websocket_url"].endswith(f"/api/v1/load-test/stream/{tid}")
            st = await until(lambda: _status_with_rate(c, tid), what="a live rate")
            assert st["test_id"] == tid and st["status"] == "running"
            await until(lambda: _metric_line(c, tid), what="the Prometheus series")
            text = await (await c.get("/metrics")).text()
            assert f'lunge_mp_test_running{{name="sine pattern",status="running",test="{tid}"}} 1.0' in text
            metrics = await (await c.get(f"/api/v1/load-test/patterns/{tid}/metrics")).json()
            assert len(metrics["series"]["t"]) >= 1 and metrics["series"]["target"][0] > 0
            r = await c.post(f"/api/v1/load-test/patterns/{tid}/stop")
            assert r.status == 200
            await wait_final(c, tid)
            text = await (await c.get("/metrics")).text()
            assert f'lunge_mp_test_running{{name="sine pattern",status="aborted",test="{tid}"}} 0.0' in text
            r = await c.post("/api/v1/load-test/patterns/start", json={"pattern": {"type": "sine"}})
            assert r.status == 400 and any(p.startswith("target.url") for p in (await r.json())["problems"])
    run(main())


async def _status_with_rate(c, tid: str):
    st = await (await c.get(f"/api/v1/load-test/patterns/{tid}/status")).json()
    return st if st.get("current_target_rate") else None


async def _metric_line(c, tid: str) -> bool:
    text = await (await c.get("/metrics")).text()
    return f'lunge_mp_requests_total{{name="sine pattern",scenario="pattern",test="{tid}"}}' in text and \
        "lunge_mp_http_req_duration_seconds_bucket" in text


def test_openapi_describes_the_real_routes(tmp_path):
    async def main():
        async with client(tmp_path) as c:
            doc = await (await c.get("/api/v1/openapi.json")).json()
            described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
            real = set()
            for route in c.server.app.router.routes():
                info = route.resource.get_info() if route.resource else {}
                path = info.get("path") or info.get("formatter")
                if route.method in ("HEAD", "*") or path is None or path in ("/", "/favicon.ico") \
                        or path.startswith("/static/"):
                    continue
                if path.startswith("/api/v1/load-test/profiles"):   # described by the profile routes
                    continue
                real.add((route.method, path))
            assert described == real, (described - real, real - described)
    run(main())


def test_profiles_mounted_roles_and_a_real_run(fresh_target, tmp_path, monkeypatch):
    """The profile routes (api/profiles.py) in this server: admin saves, a viewer may only read,
    an operator runs a profile, and the run is a real one started as POST /api/v1/tests does."""
    pytest.importorskip("lunge_mp.api.profiles")
    monkeypatch.delenv("LUNGE_MP_PROFILE_KEY", raising=False)    # the key file beside the store
    path, tok = tokens_file(tmp_path)

    async def main():
        async with client(tmp_path, tokens=Tokens.load(str(path), environ={})) as c:
            listed = await (await c.get("/api/v1/tests", headers=bearer(tok["viewer"]))).json()
            assert listed["profiles"] is True
            body = {"name": "nightly", "config": open_config(fresh_target.url, rate=30, duration="3s")}
            r = await c.post("/api/v1/load-test/profiles", json=body, headers=bearer(tok["operator"]))
            assert r.status == 403
            r = await c.post("/api/v1/load-test/profiles", json=body, headers=bearer(tok["admin"]))
            assert r.status == 201, await r.text()
            pid = (await r.json())["id"]
            r = await c.get("/api/v1/load-test/profiles", headers=bearer(tok["viewer"]))
            assert r.status == 200 and (await r.json())["profiles"][0]["name"] == "nightly"
            r = await c.post(f"/api/v1/load-test/profiles/{pid}/run", json={}, headers=bearer(tok["viewer"]))
            assert r.status == 403
            r = await c.post(f"/api/v1/load-test/profiles/{pid}/run", json={}, headers=bearer(tok["operator"]))
            assert r.status == 201, await r.text()
            test = await r.json()
            assert test["profile"]["name"] == "nightly" and test["startedBy"] == "operator-bot"
            view = await wait_final(c, test["id"], bearer(tok["viewer"]))
            assert view["status"] == "passed"
            assert fresh_target.stats()["requests"] == 90
            seed = {"pattern": {"type": "ramp", "duration": "2s", "start_rate": 10, "end_rate": 20},
                    "target": {"url": fresh_target.url + "/"}, "save_profile": True, "profile_name": "daily"}
            r = await c.post("/api/v1/load-test/patterns/start", json=seed, headers=bearer(tok["operator"]))
            assert r.status == 403 and "admin" in (await r.json())["error"]
            r = await c.post("/api/v1/load-test/patterns/start", json=seed, headers=bearer(tok["admin"]))
            assert r.status == 201, await r.text()
            started = await r.json()
            assert started["profile"] == {"name": "daily", "version": 1}
            await wait_final(c, started["test_id"], bearer(tok["viewer"]))
            names = [p["name"] for p in (await (await c.get("/api/v1/load-test/profiles",
                                                             headers=bearer(tok["viewer"]))).json())["profiles"]]
            assert sorted(names) == ["daily", "nightly"]
    run(main())


def test_a_guardrail_breach_is_a_violation_then_the_completion(fresh_target, tmp_path):
    async def main():
        async with client(tmp_path) as c:
            cfg = {**open_config(fresh_target.url, rate=40), "guardrails": {"maxTotalRequests": 60}}
            tid = (await (await c.post("/api/v1/tests", json=cfg)).json())["id"]
            ws = await c.ws_connect(f"/api/v1/load-test/stream/{tid}")
            kinds, violations, completion = [], [], None
            while completion is None:
                msg = await ws.receive(timeout=30)
                assert msg.type == WSMsgType.TEXT, msg
                m = json.loads(msg.data)
                kinds.append(m["type"])
                violations += m.get("messages", []) if m["type"] == "violation" else []
                completion = m if m["type"] == "completion" else None
            assert any("maxTotalRequests" in v for v in violations), violations
            assert kinds.index("violation") < kinds.index("completion")
            assert completion["exitCode"] == 111 and completion["status"] == "aborted"
        assert fresh_target.stats()["requests"] == 60
    run(main())
