"""A real aiohttp.web server on 127.0.0.1 in a background thread, for tests that run the CLI
as a child process and then ask the server what it saw.

Routes:
    POST /login            form user=…: a new session id n; JSON {"id": n, "user": …}, header
                           X-Token: tok-n, cookies session=s<n> and theme=t<n> (two Set-Cookie)
    GET  /items/{id}       records the id, Authorization, Cookie and User-Agent; JSON {"item": id}
    GET  /row              records the query string (CSV rows seen); 200 "ok"
    GET  /status/{code}    that status
    GET  /delay/{ms}       answers after ms milliseconds
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import threading
from collections import Counter
from urllib.parse import unquote

from aiohttp import web


class ScenarioServer:
    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.items: list[dict] = []
        self.logins: list[dict] = []
        self.rows: list[str] = []
        self.connections: set[tuple] = set()      # client (host, port) of every connection
        self.vu_connections: set[tuple] = set()   # (X-VU header, client (host, port)) when sent
        self.requests = 0
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    # -- handlers -----------------------------------------------------------------------------

    def _seen(self, request: web.Request) -> None:
        self.requests += 1
        if request.transport is not None:
            self.connections.add(request.transport.get_extra_info("peername"))
            vu = request.headers.get("X-VU")
            if vu is not None:
                self.vu_connections.add((vu, request.transport.get_extra_info("peername")))

    async def login(self, request: web.Request) -> web.Response:
        self._seen(request)
        form = await request.post()
        n = next(self._ids)
        self.logins.append({"id": n, "user": form.get("user"), "password": form.get("password"),
                            "content_type": request.headers.get("Content-Type", "")})
        resp = web.json_response({"id": n, "user": form.get("user")}, headers={"X-Token": f"tok-{n}"})
        resp.set_cookie("session", f"s{n}", path="/")
        resp.set_cookie("theme", f"t{n}")
        return resp

    async def item(self, request: web.Request) -> web.Response:
        self._seen(request)
        self.items.append({"id": request.match_info["id"], "auth": request.headers.get("Authorization"),
                           "cookie": request.headers.get("Cookie"), "ua": request.headers.get("User-Agent"),
                           "cookies": dict(request.cookies)})
        return web.json_response({"item": request.match_info["id"]})

    async def row(self, request: web.Request) -> web.Response:
        self._seen(request)
        self.rows.append(unquote(request.query_string))
        return web.Response(text="ok")

    async def status(self, request: web.Request) -> web.Response:
        self._seen(request)
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def delay(self, request: web.Request) -> web.Response:
        self._seen(request)
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.Response(text="late")

    # -- life cycle -----------------------------------------------------------------------------

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/login", self.login)
        app.router.add_get("/items/{id}", self.item)
        app.router.add_get("/row", self.row)
        app.router.add_get("/status/{code}", self.status)
        app.router.add_get("/delay/{ms}", self.delay)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def __enter__(self) -> ScenarioServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def row_counts(self) -> Counter:
        return Counter(self.rows)
