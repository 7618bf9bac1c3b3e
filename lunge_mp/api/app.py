"""The aiohttp application of `lunge-mp serve` (and of `lunge-mp run --dashboard`).

    /                                         the live dashboard (api/dashboard.py)
    /api/v1/tests ...                         tests from any v2 config (api/routes.py)
    /api/v1/load-test/patterns ...            seed 004's pattern endpoints (api/routes.py)
    /api/v1/load-test/stream/{testId}         the WebSocket stream (api/stream.py)
    /api/v1/load-test/profiles ...            saved profiles (api/profiles.py, when present)
    /api/v1/openapi.json                      this API described (api/openapi.py)
    /metrics                                  Prometheus (api/prometheus.py)

Requests pass the auth middleware (api/auth.py) first; bodies over 1 MB get 413.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import WSMsgType, web

from lunge_mp.api import dashboard, keys, openapi, prometheus, routes
from lunge_mp.api.auth import Tokens, auth_middleware
from lunge_mp.api.intake import Ceiling
from lunge_mp.api.runs import Registry
from lunge_mp.store.audit import AuditLog

MAX_BODY = 1024 * 1024
WS_HEARTBEAT_S = 20.0


@dataclass
class Settings:
    data_dir: Path
    store_path: Path
    audit_path: Path
    tokens: Tokens = field(default_factory=lambda: Tokens([]))
    ceiling: Ceiling = field(default_factory=Ceiling)
    max_concurrent: int = 1
    workers: int | None = None
    record: bool = True


async def stream(request: web.Request) -> web.StreamResponse:
    """WebSocket: history first, then live messages until completion; a slow reader is dropped."""
    test = request.app[keys.REGISTRY].get(request.match_info["test_id"])
    if test is None or test.channel is None:
        return routes.error(404, f"no running or recent test '{request.match_info['test_id']}'")
    # a browser offers ("lunge-mp", "bearer.<token>"): the server picks "lunge-mp", so the
    # token is never echoed back in the handshake
    # no per-message deflate: the messages are under 1 KB, and compressing each for each
    # client costs the server CPU and the message time
    ws = web.WebSocketResponse(heartbeat=WS_HEARTBEAT_S, max_msg_size=4096, protocols=["lunge-mp"], compress=False)
    await ws.prepare(request)
    client = test.channel.join()

    async def drain_incoming() -> None:      # clients only listen; this notices a close
        async for msg in ws:
            if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
        test.channel.leave(client)
        client.close()                       # wakes the sender below

    reader = asyncio.create_task(drain_incoming())
    try:
        while (text := await client.queue.get()) is not None:
            await ws.send_str(text)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        test.channel.leave(client)
        reader.cancel()
        code = 1013 if client.dropped else 1000   # 1013: try again later (it did not keep up)
        await ws.close(code=code, message=b"too slow: dropped" if client.dropped else b"done")
    return ws


async def _shutdown(app: web.Application) -> None:
    await app[keys.REGISTRY].stop_all()


def create_app(settings: Settings, registry: Registry | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[auth_middleware(settings.tokens)])
    app[keys.SETTINGS] = settings
    app[keys.CEILING] = settings.ceiling
    app[keys.STORE_PATH] = settings.store_path
    app[keys.AUDIT] = AuditLog(settings.audit_path)
    app[keys.REGISTRY] = registry or Registry(settings.data_dir, settings.max_concurrent, settings.workers,
                                           settings.record)
    routes.add_routes(app)
    app.router.add_get("/api/v1/load-test/stream/{test_id}", stream)
    app.router.add_get("/api/v1/openapi.json", openapi.handler)
    app.router.add_get("/metrics", prometheus.handler)
    dashboard.add_routes(app)
    try:
        from lunge_mp.api.profiles import add_profile_routes
    except ImportError:        # the profile store is another module; the API works without it
        app[keys.PROFILES] = False
    else:
        app[keys.PROFILES] = True
        add_profile_routes(app, store_path=settings.store_path, audit=app[keys.AUDIT], start_test=routes.start_test)
    app.on_shutdown.append(_shutdown)
    return app
