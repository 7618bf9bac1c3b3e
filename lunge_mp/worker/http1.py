"""One HTTP/1.1 keep-alive connection for the fast transport (fast_transport.py): the
asyncio Protocol that writes a request and parses its response with httptools, the request
head encoding, URL parsing and the error classes. Pools and waiting are in pool.py, the
redirect policy in redirects.py, the `Transport` contract in fast_transport.py; the latter's
docstring describes the whole client.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import re
import socket
import ssl
import time
from functools import lru_cache
from urllib.parse import quote, urlsplit

import httptools

from lunge_mp.scenario.request_head import TOKEN, unsafe_url


_WRITE_JOIN_MAX = 64 * 1024         # bodies up to this size go out in one write with the head
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
_RESERVED = frozenset(("host", "content-length", "connection", "transfer-encoding"))
_GENERATOR_ERRNOS = frozenset((errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL))
_RESET_ERRNOS = frozenset((errno.ECONNRESET, errno.EPIPE))
_perf = time.perf_counter_ns

_BAD_HOST = re.compile(r"[\x00-\x20\x7f/?#@\\]")

# connection states
_BUSY, _IDLE, _DEAD = 0, 1, 2


class ServerDisconnected(ConnectionError):
    """The server closed the connection before the response was complete."""


class ProtocolError(Exception):
    """The response could not be parsed, or is something this client does not support."""


class TransportClosed(Exception):
    """`send` after `close()`, or a request caught by `close()`."""


class TooManyRedirects(Exception):
    """A redirect chain reached redirects.MAX_REDIRECTS responses (class "other", as aiohttp's)."""


class HeadRefused(ValueError):
    """A request head that would not mean what it says (header injection): never written."""


class _StopParsing(Exception):
    """Raised from a parser callback to stop feeding (the response to a HEAD is complete)."""


def classify_fast(exc: BaseException, connecting: bool = False) -> str:
    """The failure class of an exception, mirroring `transport.classify` for aiohttp.

    `connecting`: the error happened while opening the connection (aiohttp wraps those in
    ClientConnectorError, which is "connect" unless it is DNS, TLS or the generator's own limit).
    """
    if isinstance(exc, TimeoutError):           # asyncio.TimeoutError is TimeoutError on 3.11+
        return "timeout"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, ssl.SSLError):           # includes SSLCertVerificationError
        return "tls"
    if isinstance(exc, OSError):
        if exc.errno in _GENERATOR_ERRNOS:
            return "generator"  # the load generator ran out of sockets, not the target's fault
        if connecting:
            return "connect"
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ServerDisconnected)):
            return "reset"
        if exc.errno in _RESET_ERRNOS:
            return "reset"
    return "other"


@lru_cache(maxsize=4096)
def parse_url(url: str) -> tuple[str, str, int, str, str]:
    """`url` -> (scheme, host, port, request-target, Host header value). Raises ValueError,
    also for a control character anywhere (urlsplit would drop CR, LF and TAB silently)."""
    if unsafe_url(url):
        raise HeadRefused("a control character (CR, LF, TAB, NUL ...) in the URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {scheme!r} in {url!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in URL {url!r}")
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if _BAD_HOST.search(host):
        raise HeadRefused("a space or a character that cannot be in a host name in the URL's host")
    port = parts.port or (443 if scheme == "https" else 80)
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~-._")
    if parts.query:
        target += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=~-._?[]")
    host_header = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        host_header = f"{host_header}:{port}"
    return scheme, host, port, target, host_header


@lru_cache(maxsize=4096)
def _request_prefix(method: str, url: str, keepalive: bool
                    ) -> tuple[tuple[str, str, int], bytes, bytes, bytes]:
    """For one method and URL: (pool key, request line + Host, request line alone,
    the whole head of a request without user headers and body)."""
    if not TOKEN.match(method):
        raise HeadRefused("the method is not an HTTP token")
    scheme, host, port, target, host_header = parse_url(url)
    line = f"{method} {target} HTTP/1.1\r\n".encode("ascii")
    prefix = line + f"Host: {host_header}\r\n".encode("ascii")
    full = prefix
    if method in _BODY_METHODS:
        full += b"Content-Length: 0\r\n"
    if not keepalive:
        full += b"Connection: close\r\n"
    return (scheme, host, port), prefix, line, full + b"\r\n"


def _encode_head(method: str, url: str, headers: dict[str, str], body: bytes | None,
                 keepalive: bool) -> tuple[tuple[str, str, int], bytes]:
    """(pool key, request head bytes). HeadRefused: a CR, LF or NUL in a header name or value,
    the last line of defence against header injection (the config and the VU check first, and
    header names are checked as tokens at load: scenario/request_head.py)."""
    key, prefix, line, full = _request_prefix(method, url, keepalive)
    if not headers and body is None:
        return key, full
    parts = [prefix]
    if headers:
        lines = []
        length_given = False
        for name, value in headers.items():
            if len(name) in (4, 10, 14, 17) and name.lower() in _RESERVED:
                lname = name.lower()
                if lname == "host":
                    parts[0] = line
                elif lname == "content-length":
                    length_given = True
                elif lname == "transfer-encoding":
                    continue   # bodies are always sent with a Content-Length
                elif lname == "connection" and not keepalive:
                    continue   # "Connection: close" below wins
            lines.append(f"{name}: {value}\r\n")
        block = "".join(lines)
        # one CR and one LF per line (its end) and no NUL: three C-speed scans, no per-header work
        n = len(lines)
        if block.count("\n") != n or block.count("\r") != n or "\x00" in block:
            raise HeadRefused("a CR, LF or NUL in a header value")
        parts.append(block.encode("utf-8"))
        if body is not None and not length_given:
            parts.append(b"Content-Length: %d\r\n" % len(body))
    elif body is not None:
        parts.append(b"Content-Length: %d\r\n" % len(body))
    if body is None and method in _BODY_METHODS:
        parts.append(b"Content-Length: 0\r\n")
    if not keepalive:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    return key, b"".join(parts)



def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _header(headers: dict[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


class _Conn(asyncio.Protocol):
    """One HTTP/1.1 connection: at most one request in flight, responses via httptools."""

    __slots__ = ("pool", "transport", "parser", "state", "fut", "timer", "status", "headers",
                 "chunks", "nbytes", "keep", "head", "headers_done", "requests", "reused",
                 "t_start", "t_end", "lost", "stale_parser", "deadline", "timer_when", "cookies",
                 "connect_ns", "queued", "tls_ns", "t_sent", "t_first", "detailed")

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.state = _BUSY
        self.fut: asyncio.Future | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.status = 0
        self.headers: dict[str, str] = {}
        self.cookies: list[str] | tuple[str, ...] = ()   # every Set-Cookie value, in order
        self.chunks: list[bytes] = []
        self.nbytes = 0
        self.keep = False
        self.head = False
        self.headers_done = False
        self.requests = 0
        self.reused = False
        self.t_start = 0
        self.t_end = 0
        self.lost = False
        self.stale_parser = False
        self.deadline = 0.0
        self.timer_when = 0.0
        self.connect_ns = 0             # how long opening it took (DNS lookup excluded)
        self.queued = False             # the request it was acquired for waited at the limit
        self.tls_ns = 0                 # of connect_ns, the TLS handshake (settings.timings: detailed)
        # settings.timings: detailed. Without it t_first stays 1, so the first-byte check in
        # data_received is one falsy test and no clock is read (docs/PERFORMANCE.md)
        self.detailed = pool.owner.detailed
        self.t_sent = 0                 # the request head (and body) handed to the socket
        self.t_first = 0 if self.detailed else 1    # the first bytes of the response arrived

    # -- driving a request ------------------------------------------------------------------

    def begin(self, data: bytes, body: bytes | None, timeout: float, head: bool) -> asyncio.Future:
        """Write one request; the returned future resolves (None) when the response is complete."""
        loop = self.pool.loop
        fut = self.fut = loop.create_future()
        self.headers = {}
        self.cookies = ()
        self.chunks = []
        self.nbytes = 0                 # status and keep are set when the response completes
        self.head = head
        self.headers_done = False
        self.reused = self.requests > 0
        self.requests += 1
        if self.stale_parser:
            self.parser = httptools.HttpResponseParser(self)
            self.stale_parser = False
        # One lazy timer per connection rather than one per request: it is armed for the first
        # request's deadline; when it fires and the request in flight then has a later
        # deadline, it re-arms for that one. Per request this costs a loop.time() call.
        deadline = self.deadline = loop.time() + timeout
        if self.timer is None or deadline < self.timer_when:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = loop.call_at(deadline, self._on_timer)
            self.timer_when = deadline
        transport = self.transport
        self.t_start = _perf()
        if body:
            if len(body) <= _WRITE_JOIN_MAX:
                transport.write(data + body)
            else:
                transport.write(data)
                transport.write(body)
        else:
            transport.write(data)
        if self.detailed:
            # end of sending (k6's http_req_sending) and start of waiting: uvloop writes at once
            # when the socket takes it, so this is when the bytes left for the kernel
            self.t_sent = _perf()
            self.t_first = 0
        return fut

    def _finish(self) -> None:
        self.t_end = _perf()
        fut = self.fut
        if fut is None:
            return
        self.fut = None
        if not fut.done():
            fut.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        fut = self.fut
        if fut is not None:
            self.fut = None
            if not fut.done():
                fut.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def _on_timer(self) -> None:
        self.timer = None
        if self.fut is None:
            return                      # idle: the next request arms a new timer
        loop = self.pool.loop
        if loop.time() + 0.001 >= self.deadline:     # uvloop's clock ticks in milliseconds
            self._fail(TimeoutError("no complete response within the request timeout"))
        else:                           # a later request is in flight: wait for its deadline
            self.timer = loop.call_at(self.deadline, self._on_timer)
            self.timer_when = self.deadline

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass

    def data_received(self, data: bytes) -> None:
        if self.fut is None:
            # bytes nobody asked for (on an idle connection): this connection is unusable
            self.transport.abort()
            return
        if not self.t_first:            # time to first byte: end of waiting, start of receiving
            self.t_first = _perf()
        self.nbytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.stale_parser:       # HEAD response complete; the parser is replaced later
                return
            if isinstance(exc, httptools.HttpParserUpgrade):
                self._fail(ProtocolError("connection upgrade is not supported"))
            elif isinstance(exc.__context__, ProtocolError):
                self._fail(exc.__context__)
            else:
                self._fail(ProtocolError(f"malformed response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._cancel_timer()
        fut = self.fut
        if fut is not None:
            if exc is None and self.headers_done and self._body_until_close():
                self.status = self.parser.get_status_code()
                self.keep = False
                self._finish()
                return
            if exc is None:
                exc = ServerDisconnected(
                    "server closed the connection before sending a response" if self.nbytes == 0
                    else "server closed the connection before the response was complete")
            self._fail(exc)
        elif self.state == _IDLE:
            self.pool.lost_idle(self)

    def _body_until_close(self) -> bool:
        """Headers are in and the body is delimited by the end of the connection."""
        status = self.parser.get_status_code()
        if status < 200 or status in (204, 304) or self.head:
            return False
        headers = self.headers
        if _header(headers, "content-length") is not None:
            return False
        te = _header(headers, "transfer-encoding")
        return te is None or "chunked" not in te.lower()

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self.headers
        key = name.decode("latin-1")
        if key in headers:
            headers[key] += ", " + value.decode("latin-1")
        else:
            headers[key] = value.decode("latin-1")
        if len(name) == 10 and name.lower() == b"set-cookie":   # joined above; kept apart here
            if not self.cookies:
                self.cookies = []
            self.cookies.append(value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        if self.head:
            parser = self.parser
            status = parser.get_status_code()
            if status >= 200:
                # a response to HEAD has no body whatever its headers say: done here, and this
                # parser (which may now expect a body) is replaced before the next request
                self.status = status
                self.keep = parser.should_keep_alive()
                self.stale_parser = True
                self._finish()
                raise _StopParsing

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()
        if status < 200:
            if status == 101:
                raise ProtocolError("connection upgrade is not supported")
            self.headers = {}           # an interim response (100, 103): wait for the real one
            self.cookies = ()
            self.chunks = []
            self.headers_done = False
            return
        self.status = status
        self.keep = parser.should_keep_alive()
        self.t_end = _perf()            # self._finish(), inlined
        fut = self.fut
        if fut is not None:
            self.fut = None
            if not fut.done():
                fut.set_result(None)
