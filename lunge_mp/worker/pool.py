"""The fast transport's connection pools: one per (scheme, host, port), and with perVU one per
(VU, scheme, host, port) under a per-host cap. No HTTP here (worker/http1.py) and no request
logic (worker/fast_transport.py): slots, idle connections, waiters and their deadlines.

* Idle connections are reused LIFO (the most recently used one is the least likely to have been
  closed by the server); at most `limit` connections are open or being opened per pool, further
  requests queue FIFO until a connection is handed back or a slot frees up. A waiter past its
  deadline gets TimeoutError and never a connection or slot it could not use.
* Connections per VU (settings.connections: perVU): a VU's pool holds at most one connection
  (a VU sends one request at a time), so two VUs never share a connection and each reuses its
  own. A `HostCap` per host holds maxConnectionsPerHost over every VU pool of that host. At the
  cap, a VU needing a connection closes the oldest idle connection of the first other VU found
  with one and takes its slot; when none is idle it waits (FIFO, within its deadline) and the
  next connection another VU hands back is closed, its slot passed on.
* Hostnames are resolved through the owner's cache (`FastTransport.resolve`); IP literals never.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections import deque
from typing import Protocol

from lunge_mp.worker.http1 import (_BUSY, _DEAD, _GENERATOR_ERRNOS, _IDLE, TransportClosed, _Conn,
                                   _is_ip, _perf)

__all__ = ["HostCap", "Owner", "Pool"]


class Owner(Protocol):
    """What a pool asks of the transport that owns it (FastTransport)."""
    closed: bool            # close() was called: no new connections
    detailed: bool          # settings.timings: detailed (TLS handshake timed apart)

    def ssl_context(self) -> ssl.SSLContext: ...

    async def resolve(self, host: str, port: int) -> list: ...


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no connection became free within the request timeout"))


def _next_in_time(waiters: deque, now: float) -> asyncio.Future | None:
    """Pop the longest-waiting (deadline, future) still within its deadline. Those given up on
    are dropped, and those past their deadline time out here, even if their timer has not run
    yet (same loop turn): none gets a connection or slot it could not use."""
    while waiters:
        deadline, waiter = waiters.popleft()
        if waiter.done():
            continue
        if deadline <= now:
            _expire(waiter)
            continue
        return waiter
    return None


class Pool:
    """The connections of one (scheme, host, port).

    `used` counts slots: live connections plus connects in progress plus slots handed to a
    waiter that has not connected yet. It never exceeds `limit`.
    """

    __slots__ = ("owner", "loop", "scheme", "host", "port", "ssl", "limit", "idle", "conns",
                 "used", "waiters", "literal", "cap")

    def __init__(self, owner: Owner, loop: asyncio.AbstractEventLoop,
                 key: tuple[str, str, int], limit: int) -> None:
        self.owner = owner
        self.loop = loop
        self.scheme, self.host, self.port = key
        self.ssl = owner.ssl_context() if self.scheme == "https" else None
        self.limit = limit if limit > 0 else sys.maxsize     # 0: no limit, as in aiohttp
        self.idle: list[_Conn] = []          # LIFO: append/pop at the end
        self.conns: set[_Conn] = set()       # every live connection (for close())
        self.used = 0
        self.waiters: deque[tuple[float, asyncio.Future]] = deque()   # (deadline, waiter)
        self.literal = _is_ip(self.host)
        # perVU: the worker's slots for this host over every VU's pool (None: shared pools,
        # or no maxConnectionsPerHost). Each slot of a VU pool holds one slot of the cap.
        self.cap: HostCap | None = None

    def take(self) -> _Conn | None:
        """The most recently used idle connection that is still open, if any."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            conn.state = _BUSY
            if not conn.lost and not conn.transport.is_closing():
                return conn
            self.discard(conn)
        return None

    async def acquire(self, deadline: float, fresh: bool) -> _Conn:
        """A connection to use: idle (unless `fresh`), new within the limit, or after a wait.
        Its `queued` says whether this request waited at the limit (or the perVU host cap)."""
        if not fresh:
            conn = self.take()
            if conn is not None:
                conn.queued = False
                return conn
        if self.owner.closed:
            raise TransportClosed("transport is closed")
        queued = False
        if self.used < self.limit:
            self.used += 1
            cap = self.cap
            if cap is not None and not cap.grab(self):
                queued = True
                try:
                    await cap.wait(deadline)
                except BaseException:
                    self.used -= 1      # a VU pool has no waiters of its own (one request at a time)
                    raise
        elif fresh and self.idle:
            oldest = self.idle.pop(0)
            oldest.state = _BUSY
            self.discard(oldest, free=False)     # its slot is ours now
        else:
            queued = True
            conn = await self._wait(deadline)
            if conn is not None:
                if not fresh:
                    conn.queued = True
                    return conn
                self.discard(conn, free=False)   # a retry wants a new connection: take the slot
        conn = await self._connect(deadline)
        conn.queued = queued
        return conn

    async def _wait(self, deadline: float) -> _Conn | None:
        """Queue until a connection (returned) or a free slot (None) is handed over."""
        waiter = self.loop.create_future()
        self.waiters.append((deadline, waiter))
        # a plain timer rather than asyncio.timeout_at(): ~4 us less per wait (docs/PERFORMANCE.md)
        timer = self.loop.call_at(deadline, _expire, waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                got = waiter.result()        # handed over just as we gave up: pass it on
                if got is None:
                    self.free_slot()
                else:
                    self.release(got)
            raise
        finally:
            timer.cancel()

    async def _connect(self, deadline: float) -> _Conn:
        """Open a new connection in a slot the caller holds; the slot is freed on failure."""
        conn = _Conn(self)
        try:
            async with asyncio.timeout_at(deadline):
                if self.literal:
                    started = _perf()
                    if self.ssl is not None and self.owner.detailed:
                        await self.loop.create_connection(lambda: conn, self.host, self.port)
                        await self._handshake(conn)
                    else:
                        await self.loop.create_connection(
                            lambda: conn, self.host, self.port, ssl=self.ssl,
                            server_hostname=self.host if self.ssl is not None else None)
                    conn.connect_ns = _perf() - started
                else:
                    await self._connect_resolved(conn)
        except BaseException:
            if conn.transport is not None:
                conn.transport.abort()
            self.free_slot()
            raise
        self.conns.add(conn)
        return conn

    async def _connect_resolved(self, conn: _Conn) -> None:
        infos = await self.owner.resolve(self.host, self.port)
        last: BaseException | None = None
        started = _perf()               # connecting: after the lookup, every address tried
        for family, _type, proto, _, sockaddr in infos:
            try:
                if self.ssl is not None and self.owner.detailed:
                    await self.loop.create_connection(
                        lambda: conn, sockaddr[0], sockaddr[1], family=family, proto=proto)
                    await self._handshake(conn)
                else:
                    await self.loop.create_connection(
                        lambda: conn, sockaddr[0], sockaddr[1], family=family, proto=proto,
                        ssl=self.ssl, server_hostname=self.host if self.ssl is not None else None)
                conn.connect_ns = _perf() - started
                return
            except (ssl.SSLError, TimeoutError):
                raise
            except OSError as exc:
                if exc.errno in _GENERATOR_ERRNOS:
                    raise
                last = exc
        raise last if last is not None else OSError(f"no address for {self.host}")

    async def _handshake(self, conn: _Conn) -> None:
        """TLS over the TCP connection `conn` just made, timed on its own (k6's
        http_req_tls_handshaking): asyncio's SSL transport calls `connection_made` only after
        the handshake, so the one-step connect cannot tell TCP and TLS apart."""
        started = _perf()
        raw = conn.transport
        conn.transport = await self.loop.start_tls(raw, conn, self.ssl, server_hostname=self.host)
        conn.tls_ns = _perf() - started

    def release(self, conn: _Conn) -> None:
        """Hand a finished, reusable connection to the next waiter or back to the idle list.
        perVU: while another VU waits for a slot of the host's cap, it is closed instead and
        its slot handed over."""
        if (conn.lost or conn.transport.is_closing() or self.owner.closed
                or (self.cap is not None and self.cap.waiting())):
            self.discard(conn)
            return
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(conn)
            return
        conn.state = _IDLE
        self.idle.append(conn)

    def discard(self, conn: _Conn, free: bool = True) -> None:
        """Close a connection we own (not reusable, failed or abandoned); free its slot."""
        if conn.state == _DEAD:
            return
        conn.state = _DEAD
        self.conns.discard(conn)
        transport = conn.transport
        if transport is not None and not transport.is_closing():
            if conn.fut is None and not conn.lost:
                transport.close()
            else:
                transport.abort()
        if free:
            self.free_slot()

    def lost_idle(self, conn: _Conn) -> None:
        """The server closed an idle connection: forget it."""
        try:
            self.idle.remove(conn)
        except ValueError:
            pass
        conn.state = _DEAD
        self.conns.discard(conn)
        self.free_slot()

    def free_slot(self) -> None:
        """A slot became free: the next waiter gets it (and connects), else it is released."""
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(None)
            return
        self.used -= 1
        if self.cap is not None:
            self.cap.release()

    def _next_waiter(self) -> asyncio.Future | None:
        return _next_in_time(self.waiters, self.loop.time())

    def close(self) -> None:
        waiters, self.waiters = self.waiters, deque()
        for _, waiter in waiters:
            if not waiter.done():
                waiter.set_exception(TransportClosed("transport is closed"))
        for conn in list(self.conns):
            if conn.fut is not None:
                conn._fail(TransportClosed("transport is closed"))
            elif conn.transport is not None:
                conn.transport.close()
            conn.state = _DEAD
        self.conns.clear()
        self.idle.clear()
        self.used = 0


class HostCap:
    """perVU: maxConnectionsPerHost (this worker's share) over the pools of every VU for one
    host. `used` counts the VU pools' slots (live connections and connects in progress).

    A VU pool needing a connection takes a free slot; at the cap it closes an idle connection
    of another VU (the first VU pool found with one) and takes its slot; when every slot holds
    a busy connection it queues (FIFO, within its request's deadline), and the next connection
    another VU hands back is closed and its slot passed on (`Pool.release`).
    """

    __slots__ = ("loop", "limit", "used", "waiters", "pools")

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.limit = limit
        self.used = 0
        self.waiters: deque[tuple[float, asyncio.Future]] = deque()
        self.pools: dict[Pool, None] = {}      # the VU pools of this host (ordered set)

    def grab(self, pool: Pool) -> bool:
        """A slot for `pool`, free or taken from another VU's idle connection; False: wait."""
        if self.used < self.limit:
            self.used += 1
            return True
        for other in self.pools:
            if other is not pool and other.idle:
                conn = other.idle.pop(0)        # its oldest idle connection
                conn.state = _BUSY
                other.discard(conn, free=False)  # the slot moves to `pool`
                other.used -= 1                 # (an idle pool has no waiters)
                return True
        return False

    async def wait(self, deadline: float) -> None:
        """Queue until a slot is handed over (TimeoutError at `deadline`)."""
        waiter = self.loop.create_future()
        self.waiters.append((deadline, waiter))
        timer = self.loop.call_at(deadline, _expire, waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()          # handed over just as we gave up: pass it on
            raise
        finally:
            timer.cancel()

    def waiting(self) -> bool:
        """Whether a VU waits for a slot still in time (those given up on or past their
        deadline are dropped, so no good connection is closed for them)."""
        waiters, now = self.waiters, self.loop.time()
        while waiters and (waiters[0][1].done() or waiters[0][0] <= now):
            _expire(waiters.popleft()[1])
        return bool(waiters)

    def release(self) -> None:
        """A VU pool gave a slot back: to the longest waiter still in time, else free."""
        waiter = _next_in_time(self.waiters, self.loop.time())
        if waiter is not None:
            waiter.set_result(None)
        else:
            self.used -= 1

