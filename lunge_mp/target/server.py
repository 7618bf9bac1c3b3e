"""The embedded HTTP/1.1 target: asyncio Protocols on uvloop + httptools.

Design notes
------------
* One ``_HttpProtocol`` per connection, fed by ``httptools.HttpRequestParser``.
  Keep-alive is the default for HTTP/1.1, ``Connection: close`` and HTTP/1.0
  (without ``Connection: keep-alive``) close the connection after the response.
* Pipelining: responses are written in request order.  The common case (nothing
  waiting) writes straight to the transport; when a response is deferred
  (``/delay/<ms>``, the multi-worker ``/__stats``), a per-connection FIFO of
  slots holds later responses until the earlier ones are ready.
* Static responses are pre-built bytes, one per connection "variant"
  (HTTP/1.1 keep-alive, HTTP/1.0 keep-alive, close).
* Request bodies (Content-Length or chunked) are always consumed by the parser;
  they are only kept for ``/post``.

Serving it (one process, or a supervisor and N SO_REUSEPORT workers, the stats
shared over control sockets): target/serving.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import os
import socket
import time
from collections import deque

import httptools
import msgspec

__all__ = ["App", "MAX_DELAY_MS", "MAX_BYTES", "MAX_POST_BODY"]

MAX_DELAY_MS = 60_000
MAX_BYTES = 10 * 1024 * 1024
MAX_POST_BODY = 16 * 1024 * 1024
MAX_PATH_KEYS = 10_000        # distinct byPath keys kept; the rest go to OTHER_PATH
OTHER_PATH = "(other)"
MAX_SECONDS_KEPT = 86_400     # perSecond buckets kept (oldest dropped first)
CONTROL_TIMEOUT = 3.0         # seconds to wait for a sibling worker's answer

_json_encode = msgspec.json.encode
_json_decode = msgspec.json.decode

# ---------------------------------------------------------------------------
# Response building
# ---------------------------------------------------------------------------

KA11, KA10, CLOSE = 0, 1, 2
_CONN_HEADER = (b"", b"Connection: keep-alive\r\n", b"Connection: close\r\n")
_VARIANTS = (KA11, KA10, CLOSE)


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode("latin-1")
    except ValueError:
        return b"Unknown"


def _head(status: int, ctype: bytes | None, length: int | None, variant: int,
          extra: bytes = b"") -> bytes:
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, _reason(status))]
    if ctype is not None:
        parts.append(b"Content-Type: " + ctype + b"\r\n")
    if length is not None:
        parts.append(b"Content-Length: %d\r\n" % length)
    parts.append(extra)
    parts.append(_CONN_HEADER[variant])
    parts.append(b"\r\n")
    return b"".join(parts)


def build_response(status: int, body: bytes = b"", ctype: bytes | None = b"text/plain",
                   variant: int = KA11, extra: bytes = b"") -> bytes:
    """Full response bytes. 1xx/204/304 get neither body nor Content-Length."""
    if status < 200 or status in (204, 304):
        return _head(status, None, None, variant, extra)
    return _head(status, ctype, len(body), variant, extra) + body


def _prebuilt(status: int, body: bytes, ctype: bytes = b"text/plain") -> tuple[bytes, ...]:
    return tuple(build_response(status, body, ctype, v) for v in _VARIANTS)


_TEXT = b"text/plain"
_JSON = b"application/json"
R_OK = _prebuilt(200, b"ok")
R_NOT_FOUND = _prebuilt(404, b"not found")
R_RESET = _prebuilt(200, b'{"reset": true}', _JSON)
R_BAD_REQUEST = build_response(400, b"bad request", _TEXT, CLOSE)
R_TOO_LARGE = build_response(413, b"request body too large", _TEXT, CLOSE)
R_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

JSON_BODY = b'{"id": 42, "name": "widget", "items": [{"id": 1}, {"id": 2}], "token": "abc123"}'
# /json has a dynamic X-Request-ID header: prefix + <id> + suffix
_JSON_PRE = tuple(
    _head(200, _JSON, len(JSON_BODY), v)[:-2] + b"X-Request-ID: " for v in _VARIANTS
)
_JSON_SUF = b"\r\n\r\n" + JSON_BODY

_STATUS_CACHE: dict[tuple[int, int], bytes] = {}
_BYTES_PATTERN = (b"abcdefghijklmnopqrstuvwxyz0123456789" * 29)[:1024]
_big_body: bytes | None = None


def _status_response(code: int, variant: int) -> bytes:
    key = (code, variant)
    r = _STATUS_CACHE.get(key)
    if r is None:
        body = b"%d %s" % (code, _reason(code))
        if code < 200:
            # An informational status is never final: close so clients don't hang.
            variant = CLOSE
        r = _STATUS_CACHE[key] = build_response(code, body, _TEXT, variant)
    return r


def _bytes_response(n: int, variant: int) -> bytes:
    global _big_body
    if n <= len(_BYTES_PATTERN):
        body = _BYTES_PATTERN[:n]
    else:
        if _big_body is None:
            _big_body = _BYTES_PATTERN * (MAX_BYTES // len(_BYTES_PATTERN))
        body = _big_body[:n]
    return _head(200, b"application/octet-stream", n, variant) + body


def _int_tail(path: bytes, prefix_len: int) -> int | None:
    tail = path[prefix_len:]
    if not tail or not tail.isdigit():
        return None
    return int(tail)


# ---------------------------------------------------------------------------
# Counters
# ---------------------------------------------------------------------------

class Stats:
    """Per-process request counters."""

    __slots__ = ("total", "by_path", "per_second", "since", "first_at")

    def __init__(self, since: float | None = None) -> None:
        self.total = 0
        self.by_path: dict[bytes, int] = {}
        self.per_second: dict[int, int] = {}
        self.since = time.time() if since is None else since
        self.first_at: float | None = None     # wall clock of the first request counted

    def count(self, path: bytes) -> None:
        if not self.total:
            self.first_at = time.time()       # start-up benchmarks: when the first request came
        self.total += 1
        bp = self.by_path
        n = bp.get(path)
        if n is not None:
            bp[path] = n + 1
        elif len(bp) < MAX_PATH_KEYS:
            bp[path] = 1
        else:
            key = OTHER_PATH.encode()
            bp[key] = bp.get(key, 0) + 1
        sec = int(time.time())
        ps = self.per_second
        n = ps.get(sec)
        if n is not None:
            ps[sec] = n + 1
        else:
            ps[sec] = 1
            if len(ps) > MAX_SECONDS_KEPT:
                del ps[min(ps)]

    def reset(self, since: float | None = None) -> None:
        self.total = 0
        self.by_path = {}
        self.per_second = {}
        self.since = time.time() if since is None else since
        self.first_at = None

    def snapshot(self) -> dict:
        return {
            "requests": self.total,
            "firstAt": self.first_at,
            "byPath": {k.decode("latin-1"): v for k, v in self.by_path.items()},
            "perSecond": {str(k): v for k, v in sorted(self.per_second.items())},
            "since": self.since,
        }


def merge_snapshots(snaps: list[dict]) -> dict:
    total = 0
    by_path: dict[str, int] = {}
    per_second: dict[int, int] = {}
    since = first = None
    for s in snaps:
        total += s["requests"]
        if s.get("firstAt") is not None:
            first = s["firstAt"] if first is None else min(first, s["firstAt"])
        for k, v in s["byPath"].items():
            by_path[k] = by_path.get(k, 0) + v
        for k, v in s["perSecond"].items():
            k = int(k)
            per_second[k] = per_second.get(k, 0) + v
        since = s["since"] if since is None else min(since, s["since"])
    return {
        "requests": total,
        "byPath": by_path,
        "perSecond": {str(k): v for k, v in sorted(per_second.items())},
        "since": since,
        "firstAt": first,
        "workers": len(snaps),
    }


# ---------------------------------------------------------------------------
# Per-process application state (counters, worker identity, siblings)
# ---------------------------------------------------------------------------

class App:
    def __init__(self, index: int = 0, nworkers: int = 1, control_dir: str | None = None,
                 since: float | None = None) -> None:
        self.index = index
        self.nworkers = nworkers
        self.control_dir = control_dir
        self.stats = Stats(since)
        self.request_id = 0
        self.connections: set[_HttpProtocol] = set()

    @property
    def multi(self) -> bool:
        return self.nworkers > 1 and self.control_dir is not None

    def next_request_id(self) -> int:
        # Unique across workers: worker i hands out i, i+N, i+2N, ...
        self.request_id += 1
        return self.request_id * self.nworkers + self.index

    def control_path(self, i: int) -> str:
        return os.path.join(self.control_dir, f"w{i}.sock")

    def stats_body(self) -> bytes:
        return _json_encode(merge_snapshots([self.stats.snapshot()]))

    async def _ask(self, i: int, command: bytes) -> bytes | None:
        writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(self.control_path(i)), CONTROL_TIMEOUT)
            writer.write(command + b"\n")
            return await asyncio.wait_for(reader.readline(), CONTROL_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            return None
        finally:
            if writer is not None:
                writer.close()

    async def gather_stats_body(self) -> bytes:
        others = [i for i in range(self.nworkers) if i != self.index]
        answers = await asyncio.gather(*(self._ask(i, b"S") for i in others))
        snaps = [self.stats.snapshot()]
        for a in answers:
            if a:
                snaps.append(_json_decode(a))
        return _json_encode(merge_snapshots(snaps))

    async def broadcast_reset(self) -> None:
        since = time.time()
        self.stats.reset(since)
        others = [i for i in range(self.nworkers) if i != self.index]
        await asyncio.gather(*(self._ask(i, b"R %r" % since) for i in others))

    async def handle_control(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                cmd = line.split()
                if not cmd:
                    continue
                if cmd[0] == b"S":
                    writer.write(_json_encode(self.stats.snapshot()) + b"\n")
                elif cmd[0] == b"R":
                    self.stats.reset(float(cmd[1]) if len(cmd) > 1 else None)
                    writer.write(b"OK\n")
                else:
                    writer.write(b"ERR\n")
                await writer.drain()
        except (OSError, ValueError):
            pass
        finally:
            writer.close()


# ---------------------------------------------------------------------------
# The connection protocol
# ---------------------------------------------------------------------------

_STATS_PATH = b"/__stats"
_RESET_PATH = b"/__reset"


class _HttpProtocol(asyncio.Protocol):
    __slots__ = ("app", "loop", "transport", "parser", "url", "headers", "body",
                 "body_size", "expect", "pending", "closing", "writing_paused")

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
                self._respond(b"", True)
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
        if path == b"/post":
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
        headers = self.headers
        body = self.body
        body_size = self.body_size
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
        app = self.app
        if path != _STATS_PATH and path != _RESET_PATH:
            app.stats.count(path)
        close = variant == CLOSE

        if path == b"/":
            resp = R_OK[variant]
        elif path == b"/json":
            resp = b"%s%d%s" % (_JSON_PRE[variant], app.next_request_id(), _JSON_SUF)
        elif path == b"/post":
            if body_size > MAX_POST_BODY:
                self._respond(R_TOO_LARGE, True)
                return
            resp = build_response(200, _echo_body(headers, b"".join(body or ())), _JSON, variant)
        elif path.startswith(b"/delay/"):
            ms = _int_tail(path, 7)
            if ms is None:
                resp = R_NOT_FOUND[variant]
            else:
                self._respond_later(min(ms, MAX_DELAY_MS) / 1000.0, R_OK[variant], close)
                return
        elif path.startswith(b"/status/"):
            code = _int_tail(path, 8)
            if code is None:
                resp = R_NOT_FOUND[variant]
            elif 100 <= code <= 599:
                resp = _status_response(code, variant)
                if code < 200:
                    close = True
            else:
                resp = build_response(400, b"status must be 100..599", _TEXT, variant)
        elif path.startswith(b"/bytes/"):
            n = _int_tail(path, 7)
            resp = R_NOT_FOUND[variant] if n is None else _bytes_response(min(n, MAX_BYTES), variant)
        elif path == _STATS_PATH:
            if app.multi:
                self._respond_async(app.gather_stats_body(), variant, close)
                return
            resp = build_response(200, app.stats_body(), _JSON, variant)
        elif path == _RESET_PATH:
            if app.multi:
                self._respond_async(app.broadcast_reset(), variant, close, R_RESET[variant])
                return
            app.stats.reset()
            resp = R_RESET[variant]
        else:
            resp = R_NOT_FOUND[variant]

        if parser.get_method() == b"HEAD":
            resp = resp[:resp.index(b"\r\n\r\n") + 4]
        self._respond(resp, close)

    # -- ordered output ------------------------------------------------------
    def _respond(self, data: bytes, close: bool) -> None:
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

    def _respond_later(self, delay: float, data: bytes, close: bool) -> None:
        slot = self._reserve(close)
        self.loop.call_later(delay, self._fill, slot, data)

    def _respond_async(self, coro, variant: int, close: bool, fixed: bytes | None = None) -> None:
        slot = self._reserve(close)

        def done(task: asyncio.Task) -> None:
            if task.cancelled() or task.exception() is not None:
                data = build_response(500, b"internal error", _TEXT, variant)
            elif fixed is not None:
                data = fixed
            else:
                data = build_response(200, task.result(), _JSON, variant)
            self._fill(slot, data)

        self.loop.create_task(coro).add_done_callback(done)

    def _fail(self, data: bytes) -> None:
        if not self.closing:
            self._respond(data, True)


def _echo_body(headers: list, raw: bytes) -> bytes:
    try:
        parsed = _json_decode(raw) if raw else None
    except (msgspec.DecodeError, ValueError):
        parsed = None
    hdrs: dict[str, str] = {}
    for name, value in headers:
        k = name.decode("latin-1")
        v = value.decode("latin-1")
        hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
    return _json_encode({"json": parsed, "body": raw.decode("utf-8", "replace"),
                         "headers": hdrs})


# ---------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------
