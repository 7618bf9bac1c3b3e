"""Seed 004's profile endpoints on a bare aiohttp app, through aiohttp's test client.

The run itself is the control plane's (`start_test`); here a stand-in records what it was given.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from lunge_mp.api import keys
from lunge_mp.api.profiles import BASE, add_profile_routes
from lunge_mp.store.audit import AuditLog
from lunge_mp.store.profile_crypto import ENV_VAR

SECRET = "api-secret-Xy77-unique"


def config(rate: int = 10) -> dict:
    return {"name": "api test",
            "settings": {"baseUrl": "http://127.0.0.1:9", "headers": {"Cookie": f"sid={SECRET}"}},
            "variables": {"token": {"value": SECRET, "secret": True}},
            "scenarios": {"s": {"executor": "constant-arrival-rate", "rate": rate, "duration": "1s",
                                "requests": [{"url": "/json", "headers": {"Authorization": "Bearer {{token}}"}}]}}}


class Identity:
    def __init__(self, name: str) -> None:
        self.name = name


def api(tmp_path: Path, test):
    """Run `test(client, started, audit)` against an app with the profile routes."""
    started: list[tuple] = []
    audit = AuditLog(tmp_path / "audit.log")

    async def start_test(request, config, *, profile):
        started.append((config, profile))
        return web.json_response({"test_id": "t1", "status": "running"}, status=201)

    @web.middleware
    async def identity(request, handler):
        request[keys.IDENTITY] = Identity("ci-admin")     # as the control plane's auth middleware
        return await handler(request)

    async def main():
        app = web.Application(middlewares=[identity])
        add_profile_routes(app, store_path=tmp_path / "store" / "history.db", audit=audit,
                           start_test=start_test)
        async with TestClient(TestServer(app)) as client:
            await test(client, started, audit)
    asyncio.run(main())


def assert_masked(body: object) -> None:
    assert SECRET not in json.dumps(body)


def test_create_list_get_update_run_delete(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)

    async def test(client, started, audit):
        r = await client.post(BASE, json={"name": "nightly", "description": "d", "tags": ["n"],
                                          "metadata": {"environment": "staging"}, "config": config()})
        assert r.status == 201, await r.text()
        created = await r.json()
        assert_masked(created)
        assert created["version"] == 1 and created["created_by"] == "ci-admin"
        assert r.headers["Location"] == f"{BASE}/{created['id']}"
        assert {s["field"] for s in created["secrets"]} == {
            "variables.token.value", "settings.headers.Cookie"}

        r = await client.get(BASE)
        listed = (await r.json())["profiles"]
        assert [p["name"] for p in listed] == ["nightly"] and listed[0]["secrets"] == 2
        assert (await (await client.get(BASE, params={"tag": "other"})).json()) == {"profiles": []}

        got = await (await client.get(f"{BASE}/{created['id']}")).json()     # by id ...
        assert got == await (await client.get(f"{BASE}/nightly")).json()     # ... or by name
        assert_masked(got)
        assert got["versions"][0]["version"] == 1

        edited = dict(got)                                  # a GET, edited and sent back as is
        edited["config"]["scenarios"]["s"]["rate"] = 20
        r = await client.put(f"{BASE}/nightly", json=edited)
        assert r.status == 200, await r.text()
        assert (await r.json())["version"] == 2
        r = await client.put(f"{BASE}/nightly", json={"description": "only the description"})
        assert (await r.json())["version"] == 3
        old = await (await client.get(f"{BASE}/nightly", params={"version": "1"})).json()
        assert old["config"]["scenarios"]["s"]["rate"] == 10 and old["latest_version"] == 3

        r = await client.post(f"{BASE}/nightly/run")
        assert r.status == 201 and (await r.json())["test_id"] == "t1"
        run_config, profile = started[-1]
        assert profile == ("nightly", 3)
        assert run_config["variables"]["token"]["value"] == SECRET          # decrypted for the run
        assert run_config["settings"]["headers"]["Cookie"] == f"sid={SECRET}"
        assert run_config["scenarios"]["s"]["rate"] == 20
        r = await client.post(f"{BASE}/nightly/run", json={"version": 1, "variables": {"token": "other"}})
        assert r.status == 201 and started[-1][1] == ("nightly", 1)
        assert started[-1][0]["variables"]["token"]["value"] == "other"

        r = await client.delete(f"{BASE}/nightly")
        assert await r.json() == {"deleted": "nightly", "versions": 3}
        assert (await client.get(f"{BASE}/nightly")).status == 404
        actions = [(e["action"], e.get("version"), e["identity"]) for e in audit.read()]
        assert actions == [("profile.save", 1, "ci-admin"), ("profile.save", 2, "ci-admin"),
                           ("profile.save", 3, "ci-admin"), ("profile.run", 3, "ci-admin"),
                           ("profile.run", 1, "ci-admin"), ("profile.delete", None, "ci-admin")]
        assert SECRET not in (tmp_path / "audit.log").read_text()
    api(tmp_path, test)
    for path in (tmp_path / "store").iterdir():
        assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("body, status, expected", [
    pytest.param({"name": "x", "config": {**config(), "scenarios": {"s": {"executor": "constant-vus"}}}},
                 422, "scenarios.s", id="invalid-config"),
    pytest.param({"name": "a/b", "config": config()}, 422, "may hold only", id="path-in-name"),
    pytest.param({"name": "", "config": config()}, 422, "needs a name", id="empty-name"),
    pytest.param({"name": "x"}, 422, "config: required", id="no-config"),
    pytest.param({"name": "x", "pattern": {"type": "sine"}}, 422, "target.url: required", id="seed-pattern-body"),
    pytest.param({"name": "x", "config": config(), "owner": "me"}, 422, "owner: unknown field", id="unknown-key"),
    pytest.param({"name": "x", "config": config(), "tags": "t"}, 422, "list of strings", id="bad-tags"),
])
def test_bad_profiles_are_refused_with_field_paths_and_nothing_stored(tmp_path, body, status, expected):
    async def test(client, started, audit):
        r = await client.post(BASE, json=body)
        assert r.status == status
        answer = await r.json()
        assert expected in json.dumps(answer), answer
        assert_masked(answer)
        assert (await (await client.get(BASE)).json()) == {"profiles": []}
    api(tmp_path, test)


def test_a_seed_004_pattern_body_is_stored_as_the_config_it_runs_as(tmp_path):
    body = {"name": "sine-nightly", "description": "seed 004 body", "tags": ["nightly"],
            "pattern": {"type": "sine", "duration": "10s", "base_rate": 20, "amplitude": 10, "period": "5s"},
            "guardrails": {"max_rate": 50, "max_total_jobs": 500},
            "target": {"url": "http://127.0.0.1:9/post"}}

    async def test(client, started, audit):
        r = await client.post(BASE, json=body)
        assert r.status == 201, await r.text()
        got = await (await client.get(f"{BASE}/sine-nightly")).json()
        [scenario] = got["config"]["scenarios"].values()
        assert scenario["executor"] == "pattern" and scenario["pattern"]["type"] == "sine"
        assert got["config"]["guardrails"]["maxTotalRequests"] == 500
        assert got["description"] == "seed 004 body" and got["tags"] == ["nightly"]
    api(tmp_path, test)


def test_error_lines_about_a_secret_field_mask_the_secret(tmp_path):
    bad = config()
    bad["settings"]["headers"]["Cookie"] = SECRET
    bad["settings"]["timeout"] = SECRET                   # invalid, and echoed in the error line

    async def test(client, started, audit):
        r = await client.post(BASE, json={"name": "x", "config": bad})
        assert r.status == 422
        answer = await r.json()
        assert any("settings.timeout" in line for line in answer["errors"])
        assert_masked(answer)
    api(tmp_path, test)


def test_limits_and_unknowns(tmp_path):
    async def test(client, started, audit):
        huge = json.dumps({"name": "big", "config": {**config(), "description": "x" * (2 << 20)}})
        r = await client.post(BASE, data=huge, headers={"Content-Type": "application/json"})
        assert r.status == 413
        r = await client.post(BASE, data="{not json", headers={"Content-Type": "application/json"})
        assert r.status == 400
        r = await client.post(BASE, data="[" * 100_000 + "]" * 100_000)
        assert r.status == 400
        deep = {"name": "deep", "config": {**config(), "description": {}}}
        node = deep["config"]["description"]
        for _ in range(150):
            node["x"] = node = {}
        r = await client.post(BASE, json=deep)
        assert r.status == 422 and "nested more than 64 levels" in json.dumps(await r.json())
        assert (await client.get(f"{BASE}/nope")).status == 404
        assert (await client.put(f"{BASE}/nope", json={"config": config()})).status == 404
        assert (await client.delete(f"{BASE}/nope")).status == 404
        assert (await client.post(f"{BASE}/nope/run")).status == 404
        assert (await client.post(BASE, json={"name": "x", "config": config()})).status == 201
        r = await client.post(BASE, json={"name": "x", "config": config()})
        assert r.status == 409 and "already exists" in (await r.json())["error"]
        r = await client.put(f"{BASE}/x", json={"name": "renamed"})
        assert r.status == 422 and "cannot be renamed" in json.dumps(await r.json())
        assert (await client.get(f"{BASE}/x", params={"version": "zero"})).status == 400
        assert (await client.get(f"{BASE}/x", params={"version": "9"})).status == 404
        r = await client.post(f"{BASE}/x/run", json={"version": "one", "speed": 1})
        assert r.status == 422 and len((await r.json())["errors"]) == 2
        r = await client.post(f"{BASE}/x/run", json={"variables": {"nope": "1"}})
        assert r.status == 422 and "no variable 'nope'" in json.dumps(await r.json())
        assert started == []
    api(tmp_path, test)


def test_run_without_the_key_says_which_secret_and_starts_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)

    async def test(client, started, audit):
        assert (await client.post(BASE, json={"name": "x", "config": config()})).status == 201
        (tmp_path / "store" / "profiles.key").unlink()
        r = await client.post(f"{BASE}/x/run")
        assert r.status == 422
        answer = await r.json()
        assert sorted(answer["errors"]) == ["settings.headers.Cookie: no key", "variables.token.value: no key"]
        assert "LUNGE_MP_PROFILE_KEY" in answer["hint"]
        assert started == []
        assert audit.read()[-1]["outcome"] == "refused"
        assert (await client.get(f"{BASE}/x")).status == 200           # reading needs no key
    api(tmp_path, test)
