"""Helpers for the control-plane tests: the app on a real socket (aiohttp's test server),
configs aimed at the embedded target, and waiting with deadlines (never fixed sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from lunge_mp.api import Settings, create_app, keys
from lunge_mp.api.auth import Tokens
from lunge_mp.api.intake import Ceiling
from tests.support import steady


def settings(tmp: Path, **kw) -> Settings:
    return Settings(data_dir=tmp / "runs", store_path=tmp / "history.db", audit_path=tmp / "audit.log",
                    workers=kw.pop("workers", 1), **kw)


@contextlib.asynccontextmanager
async def client(tmp: Path, **kw):
    app = create_app(settings(tmp, **kw))
    async with TestClient(TestServer(app)) as c:
        try:
            yield c
        finally:     # no run outlives its test
            await app[keys.REGISTRY].stop_all(timeout=30.0)


def open_config(url: str, rate: float = 40, duration: str = "60s", name: str = "api test") -> dict:
    return {"name": name, "scenarios": {"load": {
        "executor": "constant-arrival-rate", "rate": rate, "duration": duration,
        "preAllocatedVUs": 5, "maxVUs": 20, "requests": [{"url": url + "/"}]}}}


def closed_config(url: str, vus: int = 2, duration: str = "60s", name: str = "api closed") -> dict:
    return {"name": name, "scenarios": {"web": {
        "executor": "constant-vus", "vus": vus, "duration": duration,
        "requests": [{"url": url + "/delay/20"}]}}}


async def until(check, timeout: float = 30.0, what: str = "condition", every: float = 0.05):
    """Await `check()` (sync or async) until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(every)


async def status(c: TestClient, test_id: str, headers: dict | None = None) -> dict:
    r = await c.get(f"/api/v1/tests/{test_id}", headers=headers)
    assert r.status == 200, await r.text()
    return await r.json()


async def wait_final(c: TestClient, test_id: str, headers: dict | None = None, timeout: float = 60.0) -> dict:
    async def final():
        view = await status(c, test_id, headers)
        return view if view["status"] not in ("running", "paused", "stopping") else None
    return await until(final, timeout, f"test {test_id} to end")


def tokens_file(tmp: Path) -> tuple[Path, dict[str, str]]:
    tokens = {"viewer": "v" * 24, "operator": "o" * 24, "admin": "a" * 24}
    path = tmp / "tokens.yaml"
    path.write_text(json.dumps({"tokens": [{"name": f"{role}-bot", "role": role, "token": tok}
                                           for role, tok in tokens.items()]}))
    path.chmod(0o600)
    return path, tokens


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}



SETTLE_S = 0.25     # the count unchanged this long: iterations started before the pause are done


async def pause_and_watch(c, tid: str, target, still_s: float = 1.5) -> int:
    """Pause; the target's count once iterations already started are done; check it does not
    move for `still_s` (watching that nothing happens takes time)."""
    r = await c.post(f"/api/v1/tests/{tid}/pause")
    assert r.status == 200 and (await r.json())["status"] == "paused"
    (held,) = await until(steady(lambda: target.stats()["requests"], SETTLE_S), timeout=10, every=0.02,
                          what="the iterations started before the pause to end")
    until_t = time.monotonic() + still_s
    while time.monotonic() < until_t:
        assert target.stats()["requests"] == held, "the target's count moved during the pause"
        await asyncio.sleep(0.02)
    return held


__all__ = ["Ceiling", "Tokens", "bearer", "client", "closed_config", "open_config", "pause_and_watch", "settings",
           "status", "tokens_file", "until", "wait_final"]
