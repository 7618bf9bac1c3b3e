"""One behavioural suite for both HTTP transports (AiohttpTransport, FastTransport).

Every test runs against real servers on 127.0.0.1 started inside the test: an aiohttp.web
application for ordinary HTTP, and raw asyncio servers for the edge cases a well-behaved server
never produces (never answering, closing at awkward moments, bodies delimited by the close).
Both transports run on uvloop, as in a worker. Where the two differ by design (a body cut short,
a PUT redirected by 301/302) the expected value per transport is spelled out in the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
import socket
import ssl
import subprocess
import time

import pytest
import uvloop
from aiohttp import web
from multidict import CIMultiDict

from lunge_mp.worker.fast_transport import FastTransport
from lunge_mp.worker.transport import AiohttpTransport, Outcome, Prepared
from tests.support import until

TRANSPORTS = {"aiohttp": AiohttpTransport, "fast": FastTransport}
GZIP_TEXT = "compressible " * 2000
BIG = (bytes(range(256)) * (5 * 1024 * 1024 // 256 + 1))[: 5 * 1024 * 1024]   # 5 MB


@pytest.fixture(params=list(TRANSPORTS))
def kind(request) -> str:
    return request.param


def run(coro):
    return uvloop.run(coro)


def get(url: str, timeout: float = 5.0, method: str = "GET", headers: dict | None = None,
        body: bytes | None = None) -> Prepared:
    return Prepared(method, url, headers or {}, body, timeout)


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def ok(outcome: Outcome, status: int = 200) -> Outcome:
    assert outcome.error_class is None, outcome
    assert outcome.status == status, outcome
    assert outcome.duration_us > 0
    return outcome


@contextlib.asynccontextmanager
async def transport(kind: str, **settings):
    t = TRANSPORTS[kind](**settings)
    try:
        yield t
    finally:
        await t.close()


# ---------------------------------------------------------------------------------------------
# servers
# ---------------------------------------------------------------------------------------------

class App:
    """An aiohttp.web app that records the connections (client peer addresses) it serves."""

    def __init__(self) -> None:
        self.peers: set = set()
        self.transports: set = set()        # the server side of every connection served
        self.in_flight = 0
        self.max_in_flight = 0
        app = self.app = web.Application(middlewares=[self._count], client_max_size=64 * 2**20)
        app.router.add_get("/", self.root)
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/json", self.json)
        app.router.add_get("/status/{code}", self.status)
        app.router.add_get("/chunked", self.chunked)
        app.router.add_get("/big", self.big)
        app.router.add_get("/close", self.close)
        app.router.add_get("/delay/{ms}", self.delay)
        app.router.add_get("/redirect", self.redirect)
        app.router.add_get("/cookies", self.cookies)
        app.router.add_get("/cookie-redirect", self.cookie_redirect)
        app.router.add_get("/gzip", self.gzip)
        app.router.add_get("/chain/{n}", self.chain)
        app.router.add_get("/rel/a/b", self.rel_first)
        app.router.add_get("/rel/c", self.rel_second)
        app.router.add_get("/rel/d", self.rel_last)
        app.router.add_get("/full", self.full)
        app.router.add_route("*", "/code/{code}", self.code_redirect)
        app.router.add_get("/no-location", self.no_location)
        app.router.add_get("/slow-chain/{n}", self.slow_chain)
        app.router.add_get("/away", self.away)

    @property
    def connections(self) -> int:
        return len(self.peers)

    @property
    def live(self) -> int:
        """Connections still open, as the server sees them."""
        return sum(1 for t in self.transports if not t.is_closing())

    @web.middleware
    async def _count(self, request, handler):
        self.peers.add(request.transport.get_extra_info("peername"))
        self.transports.add(request.transport)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1

    async def root(self, request):
        return web.Response(text="ok", headers={"X-Custom": "abc"})

    async def echo(self, request):
        body = await request.read()
        return web.json_response({
            "method": request.method,
            "headers": dict(request.headers),
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "json": json.loads(body) if request.content_type == "application/json" else None,
        })

    async def json(self, request):
        return web.json_response({"id": 42, "items": [1, 2, 3], "name": "widget"})

    async def status(self, request):
        code = int(request.match_info["code"])
        if code in (204, 304):
            return web.Response(status=code)
        return web.Response(status=code, text=f"status {code}")

    async def chunked(self, request):
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(10):
            await resp.write(f"part{i};".encode())
            await asyncio.sleep(0.002)
        await resp.write_eof()
        return resp

    async def big(self, request):
        return web.Response(body=BIG, content_type="application/octet-stream")

    async def close(self, request):
        resp = web.Response(text="bye")
        resp.force_close()          # "Connection: close", then the server closes
        return resp

    async def delay(self, request):
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.Response(text="late")

    async def redirect(self, request):
        raise web.HTTPFound("/")

    async def cookies(self, request):
        headers = CIMultiDict([("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2"), ("X-Twice", "one"),
                               ("X-Twice", "two")])
        return web.Response(text="ok", headers=headers)

    async def cookie_redirect(self, request):
        raise web.HTTPFound("/cookies", headers={"Set-Cookie": "c=3"})

    async def chain(self, request):
        n = int(request.match_info["n"])
        if n == 0:
            return web.Response(text="end", headers={"Set-Cookie": "n=0"})
        raise web.HTTPFound(f"/chain/{n - 1}", headers={"Set-Cookie": f"n={n}"})

    async def rel_first(self, request):
        raise web.HTTPFound("../c")                 # /rel/a/b -> /rel/c

    async def rel_second(self, request):
        raise web.HTTPFound("d?x=1")                # /rel/c -> /rel/d?x=1

    async def rel_last(self, request):
        return web.Response(text=request.path_qs)

    async def full(self, request):
        raise web.HTTPFound(f"http://{request.host}/json")

    async def code_redirect(self, request):
        await request.read()
        return web.Response(status=int(request.match_info["code"]), headers={"Location": "/echo"})

    async def no_location(self, request):
        return web.Response(status=302, text="nowhere", headers={"Set-Cookie": "e=5"})

    async def slow_chain(self, request):
        n = int(request.match_info["n"])
        await asyncio.sleep(0.15)
        if n == 0:
            return web.Response(text="ok")
        raise web.HTTPFound(f"/slow-chain/{n - 1}")

    async def away(self, request):
        raise web.HTTPFound(request.query["to"])

    async def gzip(self, request):
        resp = web.Response(text=GZIP_TEXT)
        resp.enable_compression()       # only when the request accepts gzip
        return resp


@contextlib.asynccontextmanager
async def serve(app: App, ssl_context: ssl.SSLContext | None = None, **runner_kw):
    """Serve `app` on 127.0.0.1:<free port>; yields the base URL."""
    runner = web.AppRunner(app.app, access_log=None, **runner_kw)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class RawServer:
    """A raw asyncio server: `handler(reader, writer, index)` runs per connection (index from 0)."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.connections = 0
        self.writers: list = []

    async def __aenter__(self) -> "RawServer":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        return self

    async def _serve(self, reader, writer) -> None:
        index = self.connections
        self.connections += 1
        self.writers.append(writer)
        try:
            await self.handler(reader, writer, index)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aexit__(self, *exc) -> None:
        for w in self.writers:
            w.close()
        self.server.close()
        await self.server.wait_closed()


async def read_request(reader) -> bytes:
    """One request head (these tests send no bodies to raw servers)."""
    return await reader.readuntil(b"\r\n\r\n")


RESPONSE_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# plain HTTP
# ---------------------------------------------------------------------------------------------

def test_status_codes_and_bodies(kind):
    async def main():
        app = App()
        async with serve(app) as base, transport(kind) as t:
            for code in (200, 201, 400, 404, 418, 500, 503):
                out = ok(await t.send(get(f"{base}/status/{code}")), code)
                assert out.body == f"status {code}".encode()
            for code in (204, 304):
                out = ok(await t.send(get(f"{base}/status/{code}")), code)
                assert out.body == b""
            ok(await t.send(get(f"{base}/")))      # the connection is still fine after them
            assert app.connections == 1
    run(main())


def test_response_headers_and_sizes(kind):
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/")))
            assert out.body == b"ok"
            h = lower(out.headers)
            assert h["x-custom"] == "abc"
            assert h["content-length"] == "2"
            assert h["content-type"].startswith("text/plain")
            # sizes: a short head plus the body in, the request line and Host out
            assert len(b"ok") + 40 <= out.bytes_in < 1000, out
            assert len("GET / HTTP/1.1\r\n\r\n") <= out.bytes_out < 1000, out
    run(main())


def test_request_headers_and_body_reach_the_server(kind):
    async def main():
        payload = bytes(range(256)) * 400         # 100 KB
        async with serve(App()) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/echo", method="POST", body=payload,
                                      headers={"X-Test": "yes", "Authorization": "Bearer t0k"})))
            seen = json.loads(out.body)
            assert seen["method"] == "POST"
            assert seen["headers"]["X-Test"] == "yes"
            assert seen["headers"]["Authorization"] == "Bearer t0k"
            assert seen["headers"]["Host"] == base.split("//")[1]
            assert seen["length"] == len(payload)
            assert seen["sha256"] == hashlib.sha256(payload).hexdigest()
            assert out.bytes_out >= len(payload)
            # PUT without a body, DELETE
            for method in ("PUT", "DELETE", "PATCH"):
                seen = json.loads(ok(await t.send(get(f"{base}/echo", method=method))).body)
                assert seen["method"] == method and seen["length"] == 0
    run(main())


def test_json_request_and_response(kind):
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/echo", method="POST", body=b'{"a": 1, "b": [true]}',
                                      headers={"Content-Type": "application/json"})))
            assert json.loads(out.body)["json"] == {"a": 1, "b": [True]}
            out = ok(await t.send(get(f"{base}/json")))
            assert lower(out.headers)["content-type"].startswith("application/json")
            assert json.loads(out.body) == {"id": 42, "items": [1, 2, 3], "name": "widget"}
    run(main())


def test_chunked_response(kind):
    async def main():
        app = App()
        async with serve(app) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/chunked")))
            assert lower(out.headers)["transfer-encoding"] == "chunked"
            assert out.body == b"".join(f"part{i};".encode() for i in range(10))
            assert out.bytes_in > len(out.body)               # chunk framing counted
            ok(await t.send(get(f"{base}/")))                  # reused after a chunked body
            assert app.connections == 1
    run(main())


def test_large_body_both_ways(kind):
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/big", timeout=30)))
            assert len(out.body) == len(BIG) and out.body == BIG
            assert len(BIG) < out.bytes_in < len(BIG) + 1000
            out = ok(await t.send(get(f"{base}/echo", method="POST", body=BIG, timeout=30)))
            assert json.loads(out.body)["sha256"] == hashlib.sha256(BIG).hexdigest()
            assert len(BIG) < out.bytes_out < len(BIG) + 1000
    run(main())


def test_head_has_no_body_and_keeps_the_connection(kind):
    async def main():
        app = App()
        async with serve(app) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/big", method="HEAD")))
            assert out.body == b""
            assert lower(out.headers)["content-length"] == str(len(BIG))
            out = ok(await t.send(get(f"{base}/")))
            assert out.body == b"ok"
            assert app.connections == 1
    run(main())


def test_redirects(kind):
    """Both transports follow redirects: chains, relative and absolute Locations; the outcome
    is the final response's, with the bytes of every hop and a duration covering the chain."""
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            assert ok(await t.send(get(f"{base}/redirect"))).body == b"ok"
            direct = ok(await t.send(get(f"{base}/chain/0")))
            out = ok(await t.send(get(f"{base}/chain/3")))
            assert out.body == b"end"
            assert list(out.set_cookies) == ["n=3", "n=2", "n=1", "n=0"]
            assert out.bytes_in > 3 * direct.bytes_in
            assert out.bytes_out > 3 * direct.bytes_out
            assert ok(await t.send(get(f"{base}/rel/a/b"))).body == b"/rel/d?x=1"
            out = ok(await t.send(get(f"{base}/full")))
            assert json.loads(out.body)["id"] == 42
            assert lower(dict(out.headers))["content-type"].startswith("application/json")
    run(main())


@pytest.mark.parametrize("code,method,sent", [
    (301, "POST", "GET"), (302, "POST", "GET"), (303, "POST", "GET"), (303, "PUT", "GET"),
    (303, "DELETE", "GET"), (307, "POST", "POST"), (308, "PUT", "PUT"), (302, "GET", "GET"),
    (301, "PUT", None), (302, "PATCH", None), (303, "HEAD", "HEAD"), (307, "HEAD", "HEAD"),
])
def test_redirect_methods_and_bodies(kind, code, method, sent):
    """301/302/303 send a GET without the body (303 always, for any method but HEAD); 307/308
    keep the method and the body. A PUT or PATCH on 301/302 (`sent` None) differs: the fast
    transport turns it into a GET, as k6 (Go's net/http) does; aiohttp turns only POST into a
    GET there and keeps the others with their body."""
    if sent is None:
        sent = "GET" if kind == "fast" else method
    body = b"payload" * 100 if method not in ("GET", "HEAD") else None
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/code/{code}", method=method, body=body,
                                      headers={"Content-Type": "application/octet-stream"})))
            if sent == "HEAD":
                assert out.body == b""
                return
            seen = json.loads(out.body)
            assert seen["method"] == sent
            if sent == "GET":
                assert seen["length"] == 0
                assert seen["headers"].get("Content-Length", "0") == "0"
            else:
                assert seen["length"] == len(body)
                assert seen["sha256"] == hashlib.sha256(body).hexdigest()
    run(main())


def test_too_many_redirects(kind):
    """aiohttp's max_redirects=10: the 10th redirect response fails the request (TooManyRedirects,
    class "other"), so 9 are followed; the fast transport does the same."""
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            assert ok(await t.send(get(f"{base}/chain/9"))).body == b"end"
            out = await t.send(get(f"{base}/chain/10"))
            assert out.error_class == "other", out
            assert "TooManyRedirects" in out.error
            assert out.status == 0 and out.duration_us > 0
            assert ok(await t.send(get(f"{base}/chain/1"))).body == b"end"    # still works
    run(main())


def test_redirect_without_location_is_the_response(kind):
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/no-location")), 302)
            assert out.body == b"nowhere"
            assert list(out.set_cookies) == ["e=5"]
    run(main())


def test_redirect_to_a_non_http_url_fails(kind):
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            out = await t.send(get(f"{base}/away?to=ftp://127.0.0.1/file"))
            assert out.error_class == "other", out
            assert ok(await t.send(get(f"{base}/redirect"))).body == b"ok"
    run(main())


def test_fast_redirects_can_be_left_unfollowed():
    async def main():
        async with serve(App()) as base, transport("fast") as t:
            out = ok(await t.send(get(f"{base}/cookie-redirect"), follow_redirects=False), 302)
            assert lower(out.headers)["location"] == "/cookies"
            assert out.set_cookies == ["c=3"]
    run(main())


def test_one_deadline_for_the_whole_redirect_chain(kind):
    """Four responses of 150 ms each: within a 2 s timeout, not within 0.45 s (each hop alone
    would be)."""
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/slow-chain/3", timeout=2.0)))
            assert out.duration_us >= 600_000
            started = time.monotonic()
            out = await t.send(get(f"{base}/slow-chain/3", timeout=0.45))
            assert out.error_class == "timeout", out
            assert 0.4 < time.monotonic() - started < 0.6
            assert out.duration_us >= 400_000
            assert ok(await t.send(get(f"{base}/slow-chain/0"))).body == b"ok"
    run(main())


def test_redirect_to_another_origin_drops_credentials(kind):
    """Authorization and Cookie go to the first origin only (aiohttp's rule); other headers
    follow the redirect. A redirect within the origin keeps them."""
    headers = {"Authorization": "Bearer secret", "Cookie": "s=1", "X-Keep": "yes"}
    async def main():
        app_a, app_b = App(), App()
        async with serve(app_a) as a, serve(app_b) as b, transport(kind) as t:
            seen = json.loads(ok(await t.send(get(f"{a}/away?to={b}/echo", headers=headers))).body)
            assert seen["headers"].get("X-Keep") == "yes"
            assert "Authorization" not in seen["headers"] and "Cookie" not in seen["headers"]
            assert seen["headers"]["Host"] == b.split("//")[1]
            seen = json.loads(ok(await t.send(get(f"{a}/away?to=/echo", headers=headers))).body)
            assert seen["headers"]["Authorization"] == "Bearer secret"
            assert seen["headers"]["Cookie"] == "s=1"
            assert app_a.connections == 1 and app_b.connections == 1   # one connection per host
    run(main())


def test_redirect_refused_by_allow_url_is_never_connected(kind):
    """With `allow_url` set (guardrails.allowedHosts), every redirect target is asked first: a
    refused one fails the request with class "guardrail" and is never connected to."""
    async def answer(reader, writer, index):
        await read_request(reader)
        writer.write(RESPONSE_OK)
        await writer.drain()

    async def main():
        async with serve(App()) as base, RawServer(answer) as other, transport(kind) as t:
            url = f"{base}/away?to={other.url}"
            asked = []
            t.allow_url = lambda target: asked.append(target) or target.startswith(base)
            out = await t.send(get(url))
            assert out.error_class == "guardrail", out
            assert "not in guardrails.allowedHosts" in out.error
            assert asked == [other.url]
            assert other.connections == 0
            assert ok(await t.send(get(f"{base}/redirect"))).body == b"ok"   # allowed hosts
            t.allow_url = lambda target: True
            assert ok(await t.send(get(url))).body == b"ok"
            assert other.connections == 1
            t.allow_url = None
            assert ok(await t.send(get(url))).body == b"ok"
    run(main())


def test_user_agent_as_given_or_none(kind):
    """The request's User-Agent is sent as is; a request without one goes without (aiohttp
    would add its own)."""
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            seen = json.loads(ok(await t.send(get(f"{base}/echo", headers={"User-Agent": "me/1"}))).body)
            assert seen["headers"]["User-Agent"] == "me/1"
            seen = json.loads(ok(await t.send(get(f"{base}/echo"))).body)
            assert "User-Agent" not in seen["headers"]
            seen = json.loads(ok(await t.send(get(f"{base}/echo", headers={"user-agent": "me/2"}))).body)
            assert seen["headers"]["User-Agent"] == "me/2"
    run(main())


def test_other_headers_on_the_same_url_are_sent_as_given(kind):
    """Headers (and the request as a whole) may be prepared once per URL: a request to the
    same URL with other headers must still send its own."""
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            url = f"{base}/echo"
            for headers in ({"X-A": "1"}, {"X-A": "2"}, {}, {"X-A": "2", "Cookie": "s=1"}, {"X-A": "1"}):
                seen = json.loads(ok(await t.send(get(url, headers=dict(headers)))).body)["headers"]
                assert {k: v for k, v in seen.items() if k in ("X-A", "Cookie")} == headers
            same = {"X-A": "3"}
            for _ in range(2):                 # one dict object sent twice
                assert json.loads(ok(await t.send(get(url, headers=same))).body)["headers"]["X-A"] == "3"
            # the same URL with another method and a body
            seen = json.loads(ok(await t.send(get(url, method="POST", body=b"xyz", headers=same))).body)
            assert seen["method"] == "POST" and seen["length"] == 3
    run(main())


def test_set_cookies_and_repeated_headers(kind):
    """Every Set-Cookie value comes back apart, those of the redirects followed first."""
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/cookies")))
            assert list(out.set_cookies) == ["a=1; Path=/", "b=2"]
            h = out.headers
            value = h.get("X-Twice") if kind == "aiohttp" else lower(h)["x-twice"]
            assert value == ("one" if kind == "aiohttp" else "one, two")
            out = await t.send(get(f"{base}/cookie-redirect"))
            assert list(ok(out).set_cookies) == ["c=3", "a=1; Path=/", "b=2"]
    run(main())


def test_compressed_responses(kind):
    """aiohttp asks for gzip or deflate and decompresses (bytes_in counts the body as read,
    decompressed); the fast transport asks for no encoding."""
    async def main():
        async with serve(App()) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/gzip")))
            assert out.body == GZIP_TEXT.encode()
            encoding = lower(out.headers).get("content-encoding")
            if kind == "aiohttp":
                assert encoding in ("gzip", "deflate")
            else:
                assert encoding is None
            assert out.bytes_in > len(out.body)
    run(main())


# ---------------------------------------------------------------------------------------------
# connections
# ---------------------------------------------------------------------------------------------

def test_keepalive_reuses_one_connection(kind):
    async def main():
        app = App()
        async with serve(app) as base, transport(kind) as t:
            for _ in range(10):
                ok(await t.send(get(f"{base}/")))
            assert app.connections == 1
    run(main())


def test_keepalive_off_opens_a_connection_per_request(kind):
    async def main():
        app = App()
        async with serve(app) as base, transport(kind, keepalive=False) as t:
            for _ in range(4):
                out = ok(await t.send(get(f"{base}/echo")))
                assert lower(json.loads(out.body)["headers"]).get("connection", "").lower() == "close"
            assert app.connections == 4
    run(main())


def test_connection_limit_per_host(kind):
    async def main():
        app = App()
        async with serve(app) as base, transport(kind, max_connections_per_host=3) as t:
            started = time.monotonic()
            outs = await asyncio.gather(*[t.send(get(f"{base}/delay/100")) for _ in range(12)])
            elapsed = time.monotonic() - started
            for out in outs:
                assert ok(out).body == b"late"
            assert app.max_in_flight == 3
            assert app.connections == 3
            assert elapsed >= 0.38               # 4 waves of 100 ms
    run(main())


# -- settings.connections: perVU (fast transport only) ------------------------------------------

def keyed(url: str, key: int, timeout: float = 5.0) -> Prepared:
    return Prepared("GET", url, {}, None, timeout, key)


class PeerApp(App):
    """App that also records which peer (connection) served each request, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list = []

    @web.middleware
    async def _count(self, request, handler):
        self.order.append(request.transport.get_extra_info("peername"))
        return await App._count(self, request, handler)


def test_per_vu_keys_never_share_a_connection_and_each_reuses_its_own():
    async def main():
        app = PeerApp()
        async with serve(app) as base, transport("fast", per_vu=True) as t:
            for _ in range(3):                          # alternating keys, one at a time
                for key in (1, 2):
                    ok(await t.send(keyed(f"{base}/", key)))
            peers = app.order
            assert len(set(peers)) == 2
            assert peers[0::2] == [peers[0]] * 3        # key 1: always its own connection
            assert peers[1::2] == [peers[1]] * 3        # key 2: always its own, another one
            # concurrent requests of the two keys: still those two connections
            outs = await asyncio.gather(*[t.send(keyed(f"{base}/delay/50", k)) for k in (1, 2)])
            for out in outs:
                ok(out)
            assert app.connections == 2
            # a redirect chain stays on its key's connection
            ok(await t.send(keyed(f"{base}/redirect", 1)))
            assert app.connections == 2
            # without a key: the shared pool, apart from both keys
            ok(await t.send(get(f"{base}/")))
            assert app.connections == 3
    run(main())


def test_shared_pool_serves_every_vu_on_one_connection():
    async def main():
        app = PeerApp()
        async with serve(app) as base, transport("fast") as t:
            for _ in range(3):
                for _key in (1, 2):
                    ok(await t.send(get(f"{base}/")))
            assert app.connections == 1
    run(main())


def test_per_vu_pools_are_capped_by_max_connections_per_host():
    """Counted at the server: at most two connections open at once, whichever VUs hold them."""
    async def main():
        app = PeerApp()
        async with serve(app) as base, transport("fast", per_vu=True, max_connections_per_host=2) as t:
            ok(await t.send(keyed(f"{base}/", 1)))
            ok(await t.send(keyed(f"{base}/", 2)))
            assert app.live == 2
            # a third VU at the cap: an idle connection of another VU is closed for it
            ok(await t.send(keyed(f"{base}/", 3)))
            assert app.connections == 3
            await until(lambda: app.live == 2, 5, "one of the first two connections to close")
            # every slot busy: the third VU waits for one to be handed back, then connects
            app.max_in_flight = 0
            started = time.monotonic()
            outs = await asyncio.gather(t.send(keyed(f"{base}/delay/150", 1)),
                                        t.send(keyed(f"{base}/delay/150", 2)),
                                        t.send(keyed(f"{base}/delay/10", 3)))
            for out in outs:
                ok(out)
            assert app.max_in_flight == 2
            assert time.monotonic() - started >= 0.15
            await until(lambda: app.live == 2, 5, "two connections open")
            # waiting past the deadline: a timeout, and the cap still works afterwards
            outs = await asyncio.gather(t.send(keyed(f"{base}/delay/300", 1)),
                                        t.send(keyed(f"{base}/delay/300", 2)),
                                        t.send(keyed(f"{base}/", 4, timeout=0.1)))
            assert outs[2].error_class == "timeout"
            ok(outs[0]), ok(outs[1])
            ok(await t.send(keyed(f"{base}/", 4)))
            await until(lambda: app.live == 2, 5, "two connections open")
            assert app.max_in_flight == 2
    run(main())


def test_per_vu_forget_closes_the_vus_connections():
    """forget(1) closes VU 1's connection and frees its slot of the cap: VU 1 coming back
    connects without closing VU 2's idle connection."""
    async def main():
        app = PeerApp()
        async with serve(app) as base, transport("fast", per_vu=True, max_connections_per_host=2) as t:
            ok(await t.send(keyed(f"{base}/", 1)))
            ok(await t.send(keyed(f"{base}/", 2)))
            vu2 = app.order[-1]
            t.forget(1)
            await until(lambda: app.live == 1, 5, "VU 1's connection to close")
            ok(await t.send(keyed(f"{base}/", 1)))          # comes back: a new connection
            assert app.connections == 3
            ok(await t.send(keyed(f"{base}/", 2)))          # VU 2 kept its own
            assert app.order[-1] == vu2 and app.connections == 3
            await until(lambda: app.live == 2, 5, "two connections open")
            t.forget(99)                                    # unknown key: nothing to do
    run(main())


def test_server_connection_close_is_honoured(kind):
    async def main():
        app = App()
        async with serve(app) as base, transport(kind) as t:
            out = ok(await t.send(get(f"{base}/close")))
            assert out.body == b"bye" and lower(out.headers)["connection"] == "close"
            ok(await t.send(get(f"{base}/close")))
            ok(await t.send(get(f"{base}/")))
            assert app.connections == 3
    run(main())


def test_server_closing_an_idle_connection(kind):
    """The server's keep-alive timeout closes the pooled connection; the next request works."""
    async def main():
        app = App()
        async with serve(app, keepalive_timeout=0.2) as base, transport(kind) as t:
            ok(await t.send(get(f"{base}/")))
            await asyncio.sleep(0.6)
            ok(await t.send(get(f"{base}/")))
            assert app.connections == 2
    run(main())


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_stale_reused_connection_is_retried_once(kind, method):
    """The keep-alive race: the server closes a reused connection as the request arrives,
    without a response byte. The request is retried once on a fresh connection (FastTransport:
    any method, like browsers; aiohttp: idempotent methods only, so its POST fails "reset")."""
    async def handler(reader, writer, index):
        await read_request(reader)
        writer.write(RESPONSE_OK)
        await writer.drain()
        await read_request(reader)        # the second request on this connection: hang up
        writer.transport.abort()

    async def main():
        async with RawServer(handler) as server, transport(kind) as t:
            ok(await t.send(get(server.url, method=method)))
            out = await t.send(get(server.url, method=method))
            if kind == "aiohttp" and method == "POST":
                assert out.error_class == "reset", out
                return
            assert ok(out).body == b"ok"
            assert server.connections == 2
    run(main())


def test_fresh_connection_closed_without_response(kind):
    """FastTransport retries only on a reused connection; aiohttp (3.10+) retries idempotent
    requests once whatever the connection, so it connects twice here."""
    async def handler(reader, writer, index):
        await read_request(reader)
        writer.close()

    async def main():
        async with RawServer(handler) as server, transport(kind) as t:
            out = await t.send(get(server.url))
            assert out.error_class == "reset", out
            assert out.duration_us > 0
            await asyncio.sleep(0.05)
            assert server.connections == {"fast": 1, "aiohttp": 2}[kind]
    run(main())


def test_body_cut_short(kind):
    """Content-Length promises more than arrives before the close: never a success.
    FastTransport calls an incomplete response "reset"; aiohttp raises ClientPayloadError,
    which transport.classify files under "other"."""
    async def handler(reader, writer, index):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await writer.drain()
        writer.close()

    async def main():
        async with RawServer(handler) as server, transport(kind) as t:
            out = await t.send(get(server.url))
            assert out.error_class == {"fast": "reset", "aiohttp": "other"}[kind], out
    run(main())


def test_body_read_until_close(kind):
    async def handler(reader, writer, index):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        for part in (b"read ", b"until ", b"close"):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.close()

    async def main():
        async with RawServer(handler) as server, transport(kind) as t:
            out = ok(await t.send(get(server.url)))
            assert out.body == b"read until close"
            out = ok(await t.send(get(server.url)))      # and a new connection afterwards
            assert server.connections == 2
    run(main())


def test_interim_response_is_skipped(kind):
    async def handler(reader, writer, index):
        await read_request(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        writer.write(RESPONSE_OK)
        await writer.drain()
        await reader.read()

    async def main():
        async with RawServer(handler) as server, transport(kind) as t:
            assert ok(await t.send(get(server.url))).body == b"ok"
    run(main())


# ---------------------------------------------------------------------------------------------
# failures
# ---------------------------------------------------------------------------------------------

def test_timeout_when_the_server_never_answers(kind):
    async def handler(reader, writer, index):
        await reader.read()               # read and never answer

    async def main():
        async with RawServer(handler) as server, transport(kind) as t:
            started = time.monotonic()
            out = await t.send(get(server.url, timeout=0.5))
            elapsed = time.monotonic() - started
            assert out.error_class == "timeout", out
            assert 0.45 <= elapsed < 1.5
            assert 400_000 <= out.duration_us < 1_500_000
    run(main())


def test_timeout_covers_waiting_for_a_pooled_connection(kind):
    async def handler(reader, writer, index):
        await reader.read()

    async def main():
        async with RawServer(handler) as server, transport(kind, max_connections_per_host=1) as t:
            # The first request holds the only connection past the others' deadlines,
            # so they can only time out while waiting for it.
            holder = asyncio.ensure_future(t.send(get(server.url, timeout=3.0)))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            outs = await asyncio.gather(*[t.send(get(server.url, timeout=0.4)) for _ in range(2)])
            elapsed = time.monotonic() - started
            assert [o.error_class for o in outs] == ["timeout"] * 2, outs
            assert elapsed < 1.5
            assert server.connections == 1
            holder.cancel()
            await asyncio.gather(holder, return_exceptions=True)
    run(main())


def test_timeout_then_the_transport_still_works(kind):
    async def main():
        app = App()
        async with serve(app) as base, transport(kind, max_connections_per_host=2) as t:
            out = await t.send(get(f"{base}/delay/1000", timeout=0.2))
            assert out.error_class == "timeout", out
            for _ in range(3):
                ok(await t.send(get(f"{base}/")))
    run(main())


def test_each_request_has_its_own_timeout_on_a_shared_connection(kind):
    """A short timeout after a long one on the same connection fires on time, and a long one
    after a short one is not cut at the short one's deadline."""
    async def main():
        app = App()
        async with serve(app) as base, transport(kind, max_connections_per_host=1) as t:
            ok(await t.send(get(f"{base}/", timeout=30)))
            started = time.monotonic()
            out = await t.send(get(f"{base}/delay/2000", timeout=0.3))
            assert out.error_class == "timeout", out
            assert time.monotonic() - started < 1.0
            ok(await t.send(get(f"{base}/", timeout=0.2)))
            out = ok(await t.send(get(f"{base}/delay/500", timeout=5)))
            assert out.body == b"late" and out.duration_us >= 450_000
    run(main())


def test_cancelled_requests_leave_the_pool_usable(kind):
    """A VU interrupted mid-request (task cancelled) must not leak its connection slot."""
    async def main():
        app = App()
        async with serve(app) as base, transport(kind, max_connections_per_host=2) as t:
            tasks = [asyncio.ensure_future(t.send(get(f"{base}/delay/500"))) for _ in range(6)]
            await asyncio.sleep(0.15)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            assert all(task.cancelled() for task in tasks)
            started = time.monotonic()
            outs = await asyncio.gather(*[t.send(get(f"{base}/", timeout=2)) for _ in range(6)])
            for out in outs:
                ok(out)
            assert time.monotonic() - started < 1.9      # well before the 2 s timeout: no slot leaked
    run(main())


def test_many_concurrent_requests_within_the_limit(kind):
    async def main():
        app = App()
        async with serve(app) as base, transport(kind, max_connections_per_host=8) as t:
            outs = await asyncio.gather(*[t.send(get(f"{base}/delay/{i % 7}")) for i in range(300)])
            assert all(o.error_class is None and o.body == b"late" for o in outs)
            assert app.connections <= 8 and app.max_in_flight <= 8
    run(main())


def test_refused_connection(kind):
    async def main():
        port = free_port()
        async with transport(kind) as t:
            out = await t.send(get(f"http://127.0.0.1:{port}/"))
            assert out.error_class == "connect", out
            assert out.status == 0 and out.duration_us > 0
            assert out.error
    run(main())


def test_unknown_host(kind):
    async def main():
        async with transport(kind) as t:
            out = await t.send(get("http://no-such-host.invalid/", timeout=5))
            if out.error_class == "timeout":
                pytest.skip("the resolver here does not answer quickly")
            assert out.error_class == "dns", out
    run(main())


def test_bad_url_is_an_outcome_not_an_exception(kind):
    async def main():
        async with transport(kind) as t:
            out = await t.send(get("ftp://127.0.0.1/file"))
            assert out.error_class == "other", out
            assert out.status == 0
    run(main())


def test_garbage_response(kind):
    async def handler(reader, writer, index):
        await read_request(reader)
        writer.write(b"this is not HTTP at all\r\n\r\n")
        await writer.drain()
        await reader.read()

    async def main():
        async with RawServer(handler) as server, transport(kind) as t:
            out = await t.send(get(server.url, timeout=2))
            assert out.error_class == "other", out
    run(main())


# ---------------------------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """(cert, key) paths of a self-signed certificate for localhost / 127.0.0.1."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    try:
        _cert_with_cryptography(cert, key)
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("neither the cryptography package nor the openssl command is available")
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
    return cert, key


def _cert_with_cryptography(cert_path, key_path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))


def test_tls_self_signed(kind, self_signed):
    cert, key = self_signed
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def main():
        app = App()
        async with serve(app, ssl_context=server_ctx) as base:
            async with transport(kind, insecure_skip_verify=True) as t:
                for _ in range(3):
                    out = ok(await t.send(get(f"{base}/")))
                    assert out.body == b"ok"
                out = ok(await t.send(get(f"{base}/big", timeout=30)))
                assert out.body == BIG
                assert app.connections == 1
            async with transport(kind, insecure_skip_verify=False) as t:
                out = await t.send(get(f"{base}/"))
                assert out.error_class == "tls", out
                assert out.duration_us > 0
    run(main())


# ---------------------------------------------------------------------------------------------
# aiohttp only
# ---------------------------------------------------------------------------------------------

def test_aiohttp_redirect_check_only_when_allow_url_is_set():
    """aiohttp runs every request through its tracing signals once a trace is configured: the
    redirect check is one, so it exists only while `allow_url` is set (even when set late)."""
    async def main():
        async with serve(App()) as base, transport("aiohttp") as t:
            assert ok(await t.send(get(f"{base}/redirect"))).body == b"ok"
            assert t._session.trace_configs == []
            t.allow_url = lambda url: not url.endswith(":1/")          # allows the redirect
            assert ok(await t.send(get(f"{base}/redirect"))).body == b"ok"
            assert len(t._session.trace_configs) == 1
            t.allow_url = lambda url: False
            out = await t.send(get(f"{base}/redirect"))
            assert out.error_class == "guardrail", out
            assert "not in guardrails.allowedHosts" in out.error
            t.allow_url = None
            assert ok(await t.send(get(f"{base}/redirect"))).body == b"ok"
            assert t._session.trace_configs == []
    run(main())


def test_aiohttp_timeouts_are_not_rounded_up_to_whole_seconds():
    """aiohttp rounds a deadline of 5 s or more up to a whole second unless told not to."""
    async def handler(reader, writer, index):
        await reader.read()

    async def main():
        async with RawServer(handler) as server, transport("aiohttp") as t:
            loop = asyncio.get_running_loop()
            # start just after a whole second of the loop clock: rounding up would add ~1 s
            await asyncio.sleep(1.02 - loop.time() % 1)
            started = time.monotonic()
            out = await t.send(get(server.url, timeout=5.0))
            assert out.error_class == "timeout", out
            assert 4.9 <= time.monotonic() - started < 5.5
    run(main())


def test_aiohttp_vu_clock_times_out_leaves_no_pending_cancel_and_is_dropped_when_idle():
    async def handler(reader, writer, index):
        await reader.read()

    async def main():
        app = App()
        async with RawServer(handler) as server, serve(app) as base, transport("aiohttp") as t:
            me = asyncio.current_task()
            out = await t.send(get(server.url, timeout=0.3))
            assert out.error_class == "timeout", out
            assert me.cancelling() == 0                        # the timer's cancel was taken back
            ok(await t.send(get(f"{base}/", timeout=0.2)))
            await asyncio.sleep(0.05)
            assert me.cancelling() == 0 and not me.cancelled()
            assert list(t._clocks) == [me]
            await asyncio.sleep(0.4)                           # past the last deadline, idle
            assert t._clocks == {}
            ok(await t.send(get(f"{base}/", timeout=0.2)))     # a new clock

            async def times_out_and_ends():
                return await t.send(get(server.url, timeout=0.1))
            vu = asyncio.ensure_future(times_out_and_ends())
            assert (await vu).error_class == "timeout"
            assert vu not in t._clocks                         # a fired clock is not kept for an ended task
    run(main())


def test_aiohttp_a_cancel_from_outside_is_not_turned_into_a_timeout():
    async def handler(reader, writer, index):
        await reader.read()

    async def main():
        async with RawServer(handler) as server, transport("aiohttp") as t:
            for also_outside in (False, "after", "before"):
                task = asyncio.ensure_future(t.send(get(server.url, timeout=30)))
                await asyncio.sleep(0.1)
                clock = t._clocks[task]
                clock.deadline = 0.0
                if also_outside == "before":
                    task.cancel()                              # the VU is interrupted, and in the same turn ...
                t._on_timer(task, clock)                       # ... its timer fires
                if also_outside == "after":
                    task.cancel()
                outcome = (await asyncio.gather(task, return_exceptions=True))[0]
                if also_outside:
                    assert task.cancelled()
                else:
                    assert outcome.error_class == "timeout", outcome
            task = asyncio.ensure_future(t.send(get(server.url, timeout=30)))
            await asyncio.sleep(0.1)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert task.cancelled()
    run(main())


def test_aiohttp_timeout_without_a_task_uses_aiohttps_own(monkeypatch):
    """Outside a task (no VU clock) aiohttp's ClientTimeout still covers the pool wait."""
    import lunge_mp.worker.transport as transport_module
    monkeypatch.setattr(transport_module, "_current_task", lambda: None)
    test_timeout_covers_waiting_for_a_pooled_connection("aiohttp")
    test_timeout_when_the_server_never_answers("aiohttp")
