"""The Redis transport: `send(RedisPrepared) -> Outcome`, a lean RESP client on uvloop.

Same contract as the HTTP transports (worker/transport.py): a command goes out, the reply and
the service time come back, failures come back classified, never raised. Why not redis-py's
asyncio client: on one core it enqueued 17,600 LPUSH/s against 72,000/s for this client (50
concurrent commands, no pipelining, redis-server on the other core; docs/PERFORMANCE.md),
under the bar of half of redis-benchmark's rate. The RESP parser is hiredis' (`hiredis.Reader`).

- **Pool.** Up to `pool_size` connections per worker (settings.redis.poolSize), idle ones reused
  newest first, waiting commands served in order. One command per connection at a time: no
  pipelining, so each command's service time is its own.
- **Handshake.** A new connection sends AUTH (settings.redis.password, username) and SELECT
  (db) before its first command; a refusal fails that command (class noauth) and closes it.
- **Timing.** Service time runs from writing the command to its reply: waiting for a pooled
  connection and connecting are not in it (the response time from schedule has them).
- **Timeouts.** A sweep every 50 ms fails a command past its deadline (class timeout) and
  closes its connection, so a late reply can never be taken for the next command's.
- **Nothing is retried**, so nothing is enqueued twice: a command whose connection drops (Redis
  killed mid-run) fails with class reset; a refused connection is class connect, and the next
  command tries to connect again (Redis restarted: the run goes on).

Failure classes: connect, timeout, tls, reset, generator (the load generator's own socket
limit), and from Redis' error replies: oom, readonly, wrongtype, noauth (also WRONGPASS,
NOPERM), other. Messages name the server by its URL, which never holds the password.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import time
from collections import deque

import hiredis

from lunge_mp.plan import RedisSettings
from lunge_mp.scenario.redis_command import RedisPrepared, encode
from lunge_mp.worker.transport import Outcome

SWEEP_S = 0.05
_GENERATOR_ERRNOS = frozenset((errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL))
_REPLY_CLASSES = {"OOM": "oom", "READONLY": "readonly", "WRONGTYPE": "wrongtype", "NOAUTH": "noauth",
                  "WRONGPASS": "noauth", "NOPERM": "noauth"}
_now_ns = time.monotonic_ns
_NO_HEADERS: dict[str, str] = {}     # a reply has no headers; Outcome.headers is read-only


class ReplyError(Exception):
    """An error reply (`-ERR ...`)."""


class RedisTimeout(Exception):
    pass


def reply_class(message: str) -> str:
    """The class of an error reply from its first word (`WRONGTYPE Operation against ...`)."""
    return _REPLY_CLASSES.get(message.split(" ", 1)[0], "other")


def error_class(exc: BaseException, connecting: bool) -> str:
    if isinstance(exc, (RedisTimeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ReplyError):
        return reply_class(str(exc))
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, OSError) and exc.errno in _GENERATOR_ERRNOS:
        return "generator"
    if connecting:
        return "connect"
    if isinstance(exc, (ConnectionError, OSError)):
        return "reset"
    return "other"


def reply_bytes(reply: object) -> bytes:
    """A reply as text for assertions and extraction (arrays as space-separated items)."""
    if reply.__class__ is int:
        return b"%d" % reply
    if isinstance(reply, bytes):
        return reply
    if reply is None:
        return b""
    if isinstance(reply, list):
        return b" ".join(reply_bytes(r) for r in reply)
    return str(reply).encode()


class _Conn(asyncio.Protocol):
    __slots__ = ("reader", "transport", "waiter", "deadline", "closed", "bytes_in", "pool", "dropped")

    def __init__(self, pool: RedisTransport) -> None:
        self.reader = hiredis.Reader(replyError=ReplyError)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.deadline = 0.0
        self.closed = False
        self.bytes_in = 0
        self.pool = pool
        self.dropped = False      # the pool no longer counts it (exactly once)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport   # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self.reader.feed(data)
        try:
            reply = self.reader.gets()
        except hiredis.ProtocolError as exc:
            self._fail(exc)
            return
        if reply is not False:
            w = self.waiter
            self.waiter = None
            if w is not None and not w.done():
                w.set_result(reply)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.pool._lost(self)
        self._fail(exc or ConnectionResetError("connection closed by the server"))

    def _fail(self, exc: BaseException) -> None:
        w = self.waiter
        self.waiter = None
        if w is not None and not w.done():
            w.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class RedisTransport:
    """A worker's connections to one Redis server (settings.redis)."""

    def __init__(self, settings: RedisSettings, pool_size: int | None = None) -> None:
        self.settings = settings
        self._cap = pool_size or settings.pool_size
        self._idle: list[_Conn] = []
        self._waiters: deque[asyncio.Future] = deque()
        self._conns: set[_Conn] = set()
        self._open = 0
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ssl: ssl.SSLContext | None = None
        if settings.tls:
            self._ssl = ssl.create_default_context()
            if settings.insecure_skip_verify:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        handshake = []
        if settings.password:
            handshake.append([b"AUTH"] + ([settings.username.encode()] if settings.username else [])
                             + [settings.password.encode()])
        if settings.db:
            handshake.append([b"SELECT", str(settings.db).encode()])
        self._handshake = [encode(c) for c in handshake]

    async def send(self, request: RedisPrepared) -> Outcome:
        idle = self._idle
        try:
            conn = idle.pop() if idle else await self._acquire(request.timeout)
            while conn.closed:          # closed while it was being handed over
                self._release(conn)
                conn = idle.pop() if idle else await self._acquire(request.timeout)
        except Exception as exc:   # connect failed, or its handshake was refused
            return Outcome(error_class=error_class(exc, not isinstance(exc, ReplyError)),
                           error=self._message(request, exc, connecting=True))
        loop = self._loop
        waiter = conn.waiter = loop.create_future()
        conn.deadline = loop.time() + request.timeout
        before = conn.bytes_in
        wire = request.wire
        sent = _now_ns()
        conn.transport.write(wire)
        try:
            reply = await waiter
        except asyncio.CancelledError:
            conn.close()                # its reply must not be read as another command's
            self._release(conn)
            raise
        except Exception as exc:
            self._release(conn)
            return Outcome(duration_us=(_now_ns() - sent) // 1000, bytes_out=len(wire),
                           bytes_in=conn.bytes_in - before, error_class=error_class(exc, False),
                           error=self._message(request, exc))
        duration = (_now_ns() - sent) // 1000
        self._release(conn)
        if reply.__class__ is ReplyError:
            return Outcome(duration_us=duration, bytes_out=len(wire), bytes_in=conn.bytes_in - before,
                           error_class=reply_class(str(reply)), error=self._message(request, reply))
        # positional, and one shared (read-only) empty headers mapping: the hot path
        return Outcome(0, duration, conn.bytes_in - before, len(wire),
                       b"%d" % reply if reply.__class__ is int else reply_bytes(reply), _NO_HEADERS)

    def _message(self, request: RedisPrepared, exc: BaseException, connecting: bool = False) -> str:
        if isinstance(exc, ReplyError):
            return f"{exc} (from {request.command} {request.key})"
        if isinstance(exc, (RedisTimeout, TimeoutError)):
            return f"{request.command} {request.key}: no reply within {request.timeout:g}s"
        what = f"cannot connect to {self.settings.url}" if connecting else \
            f"{request.command} {request.key}: connection to {self.settings.url} lost"
        detail = str(exc) or type(exc).__name__
        return f"{what}: {detail}"

    # -- the pool ----------------------------------------------------------------------------

    async def _acquire(self, timeout: float) -> _Conn:
        while True:
            if self._open < self._cap:
                self._open += 1
                try:
                    return await self._connect(timeout)
                except BaseException:
                    self._open -= 1
                    self._wake(None)
                    raise
            fut = self._loop.create_future() if self._loop else asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                conn = await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled() and fut.result() is not None:
                    self._release(fut.result())
                raise
            if conn is not None:
                return conn
            # None: a connection closed, so there is room to connect again

    async def _connect(self, timeout: float) -> _Conn:
        loop = self._loop = asyncio.get_running_loop()
        s = self.settings
        _, conn = await asyncio.wait_for(loop.create_connection(
            lambda: _Conn(self), s.host, s.port, ssl=self._ssl,
            server_hostname=s.host if self._ssl else None), timeout)
        self._conns.add(conn)
        if self._sweeper is None:
            self._sweeper = loop.call_later(SWEEP_S, self._sweep)
        for command in self._handshake:
            conn.waiter = loop.create_future()
            conn.deadline = loop.time() + timeout
            conn.transport.write(command)
            try:
                reply = await conn.waiter
            except BaseException:
                conn.close()
                raise
            if reply.__class__ is ReplyError:
                conn.close()
                raise reply
        return conn

    def _release(self, conn: _Conn) -> None:
        if conn.closed:
            self._drop(conn)
            return
        self._wake(conn)

    def _drop(self, conn: _Conn) -> None:
        if not conn.dropped:
            conn.dropped = True
            self._open -= 1
            self._wake(None)

    def _lost(self, conn: _Conn) -> None:
        """A connection closed. An idle one leaves the pool here; a busy or handed-over one
        leaves it when its holder releases it."""
        self._conns.discard(conn)
        if conn.waiter is None and conn in self._idle:
            self._idle.remove(conn)
            self._drop(conn)

    def _wake(self, conn: _Conn | None) -> None:
        """Hand `conn` (or, for None, room for a new connection) to the first waiter."""
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        if conn is not None:
            self._idle.append(conn)

    def _sweep(self) -> None:
        loop = self._loop
        now = loop.time()
        for conn in list(self._conns):
            if conn.waiter is not None and now > conn.deadline:
                conn._fail(RedisTimeout())
        self._sweeper = loop.call_later(SWEEP_S, self._sweep) if self._conns or self._open else None

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._conns):
            conn.close()
        self._idle.clear()
