"""The embedded HTTP/1.1 target's connection: an asyncio Protocol on uvloop + httptools.

* Keep-alive is the default for HTTP/1.1, ``Connection: close`` and HTTP/1.0 (without
  ``Connection: keep-alive``) close the connection after the response.
* Pipelining: responses are written in request order. The common case (nothing waiting) writes
  straight to the transport; when a response is deferred (``/delay/<ms>``, the multi-worker
  ``/__stats``), a per-connection FIFO of slots holds later responses until the earlier ones
  are ready.
* Request bodies (Content-Length or chunked) are always consumed by the parser; they are only
  kept for ``/post``.

The routes are in target/routes.py, the response bytes in target/responses.py, the counters in
target/stats.py, the per-process state in target/app.py. Serving it (one process, or a
supervisor and N SO_REUSEPORT workers, the stats shared over control sockets):
target/serving.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque

import httptools

from lunge_mp.target.app import App
from lunge_mp.target.responses import (CLOSE, JSON, KA10, KA11, MAX_BYTES, MAX_DELAY_MS,
                                       MAX_POST_BODY, R_BAD_REQUEST, R_CONTINUE, TEXT,
                                       build_response)
from lunge_mp.target.routes import POST_PATH, RESET_PATH, STATS_PATH, route

__all__ = ["App", "HttpProtocol", "MAX_DELAY_MS", "MAX_BYTES", "MAX_POST_BODY"]


class HttpProtocol(asyncio.Protocol):
    """One connection: requests parsed by httptools, responses written in request order."""

    __slots__ = ("app", "loop", "transport", "parser", "url", "headers", "body",
                 "body_size", "expect", "pending", "closing", "writing_paused",
                 "req_headers", "req_body", "req_body_size")

    def __init__(self, app: App, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: list = []
        self.body: list | None = None
        self.body_size = 0
        self.expect = False
        self.pending: deque | None = None   # FIFO of [data|None, close] slots
        self.closing = False
        self.writing_paused = False
        # the complete request's headers and kept body (POST_PATH), for its route's handler
        self.req_headers: list = []
        self.req_body: list | None = None
        self.req_body_size = 0

    # -- transport callbacks ------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.app.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc) -> None:
        self.app.connections.discard(self)
        self.transport = None
        self.pending = None
        self.closing = True

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Upgrade/CONNECT is not supported: answer what was parsed, then close.
            if not self.closing:
                self.respond(b"", True)
        except httptools.HttpParserError:
            self._fail(R_BAD_REQUEST)

    def eof_received(self):
        # Client half-closed: finish writing what is pending, then close.
        if not self.pending and self.transport is not None:
            self.transport.close()
        else:
            self.closing = True
            if self.pending:
                self.pending.append([b"", True])
        return True

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()

    # -- parser callbacks ---------------------------------------------------
    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        if len(name) == 6 and name.lower() == b"expect" and value.lower() == b"100-continue":
            self.expect = True

    def on_headers_complete(self) -> None:
        url = self.url
        q = url.find(b"?")
        path = url if q < 0 else url[:q]
        if path == POST_PATH:
            self.body = []
        if self.expect:
            self.expect = False
            if not self.pending and self.transport is not None and \
                    self.parser.get_http_version() != "1.0":
                self.transport.write(R_CONTINUE)

    def on_body(self, chunk: bytes) -> None:
        body = self.body
        if body is not None:
            self.body_size += len(chunk)
            if self.body_size <= MAX_POST_BODY:
                body.append(chunk)

    def on_message_complete(self) -> None:
        url = self.url
        self.req_headers = self.headers
        self.req_body = self.body
        self.req_body_size = self.body_size
        self.url = b""
        self.headers = []
        self.body = None
        self.body_size = 0
        if self.closing:
            return
        parser = self.parser
        if not parser.should_keep_alive():
            variant = CLOSE
        elif parser.get_http_version() == "1.0":
            variant = KA10
        else:
            variant = KA11
        q = url.find(b"?")
        path = url if q < 0 else url[:q]
        if path != STATS_PATH and path != RESET_PATH:
            self.app.stats.count(path)
        handler, tail = route(path)
        resp = handler(self, tail, variant)
        self.req_body = None            # (up to MAX_POST_BODY) not kept past its handler
        if resp is not None:
            self.answer(resp, variant == CLOSE)

    def answer(self, resp: bytes, close: bool) -> None:
        """A complete response to the request just parsed (only its head for a HEAD)."""
        if self.parser.get_method() == b"HEAD":
            resp = resp[:resp.index(b"\r\n\r\n") + 4]
        self.respond(resp, close)

    # -- ordered output ------------------------------------------------------
    def respond(self, data: bytes, close: bool) -> None:
        if close:
            self.closing = True
        if self.pending:
            self.pending.append([data, close])
            return
        transport = self.transport
        if transport is None:
            return
        transport.write(data)
        if close:
            transport.close()

    def _reserve(self, close: bool) -> list:
        if close:
            self.closing = True
        if self.pending is None:
            self.pending = deque()
        slot = [None, close]
        self.pending.append(slot)
        return slot

    def _fill(self, slot: list, data: bytes) -> None:
        slot[0] = data
        pending = self.pending
        transport = self.transport
        if pending is None or transport is None:
            return
        while pending and pending[0][0] is not None:
            data, close = pending.popleft()
            if data:
                transport.write(data)
            if close:
                pending.clear()
                transport.close()
                return

    def respond_later(self, delay: float, data: bytes, close: bool) -> None:
        slot = self._reserve(close)
        self.loop.call_later(delay, self._fill, slot, data)

    def respond_async(self, coro, variant: int, close: bool, fixed: bytes | None = None) -> None:
        slot = self._reserve(close)

        def done(task: asyncio.Task) -> None:
            if task.cancelled() or task.exception() is not None:
                data = build_response(500, b"internal error", TEXT, variant)
            elif fixed is not None:
                data = fixed
            else:
                data = build_response(200, task.result(), JSON, variant)
            self._fill(slot, data)

        self.loop.create_task(coro).add_done_callback(done)

    def _fail(self, data: bytes) -> None:
        if not self.closing:
            self.respond(data, True)
