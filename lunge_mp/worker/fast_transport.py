"""A lean HTTP/1.1 keep-alive client: asyncio Protocols (uvloop) + httptools' response parser.

`FastTransport` implements the same contract as `AiohttpTransport` (`send(Prepared) -> Outcome`,
never raises except on cancellation; `close()`), for a fraction of the CPU per request.

What it does
------------
* One connection pool per (scheme, host, port), at most `max_connections_per_host` connections
  open or being opened per host, reused LIFO; further requests queue FIFO (worker/pool.py).
* `keepalive=False` sends `Connection: close` and never reuses a connection.
* Request head: the request line and `Host` are encoded once per (method, URL) and cached;
  user headers are written as given (a user `Host` replaces ours); `Content-Length` is added for
  bodies (and `Content-Length: 0` for body-less POST/PUT/PATCH, like aiohttp).
  HTTP/1.1 keep-alive is implicit, so no `Connection` header is sent by default.
* Response bodies: Content-Length, chunked and read-until-close; HEAD, 1xx, 204 and 304 have no
  body. A response the server marks `Connection: close` (or HTTP/1.0 without keep-alive, or a
  read-until-close body) closes the connection. A server closing an idle pooled connection is
  noticed (`connection_lost`) and that connection leaves the pool.
* If a request on a *reused* connection fails because the server closed it before sending any
  byte of a response (the keep-alive race), it is retried once on a fresh connection, whatever
  the method, like browsers do, within the first attempt's deadline. Nothing else is ever
  retried (timeouts, resets mid-response, failures on fresh connections). aiohttp differs: it
  retries once on any connection, fresh or reused, but only idempotent methods.
* `Prepared.timeout` covers pool wait + connect (+ TLS handshake) + send + the whole response.
  The response phase is timed by the protocol itself with one lazy `loop.call_at` timer per
  connection: armed for the first request's deadline, and when it fires while a later request is
  in flight, re-armed for that request's deadline (a shorter deadline re-arms at once). Per
  request that is one `loop.time()` call (the alternatives' costs: docs/PERFORMANCE.md). The
  rare connect phase uses `asyncio.timeout_at`; pool waits a plain timer (worker/pool.py).
* Connections per VU (`per_vu=True`, settings.connections: perVU): a request whose
  `Prepared.pool_key` is set (the VU id) uses that key's own pool of one connection per host,
  within a per-host cap over every key (worker/pool.py says how the cap is shared).
  `forget(key)` closes a key's connections (the VU ended). A request without a key uses the
  shared pools; the shared path pays one `pool_key is not None` check.
* https through asyncio's SSL (`ssl.create_default_context()`); `insecure_skip_verify=True`
  turns off hostname and certificate checks.
* Hostname lookups are cached for `DNS_TTL_S` (like aiohttp's `ttl_dns_cache=300`); IP literals
  are never resolved.

Redirects
---------
301, 302, 303, 307 and 308 with a `Location` (or `URI`) header are followed, as aiohttp (and
k6) do; `send(request, follow_redirects=False)` returns the 3xx as is. The hot path pays one
status comparison; the chain runs in `_follow`, each hop being a `send(..., False)`, so a hop
goes through the same pools (another host gets its own pool), the same head cache and the same
keep-alive-race retry as any request. Where each hop goes, and with which method, headers and
body, is the pure policy of worker/redirects.py (`next_hop`); the whole chain has the first
request's deadline (aiohttp's total timeout covers the chain).

The outcome is the final response's status, headers and body; `bytes_in`/`bytes_out` sum every
hop; `set_cookies` is every hop's `Set-Cookie` values in order; `duration_us` runs from writing
the first request to the end of the last body (so, unlike a single request, it includes the
pool waits and connects of the later hops). A chain that fails reports the bytes of the hops
that went out and the time until the failure.

What it does not do (use `AiohttpTransport` for these)
-------------------------------------------------------
No cookie jar (the VU keeps cookies: lunge_mp/scenario/cookies.py),
no proxies, no response decompression (no `Accept-Encoding` is sent), no `Expect: 100-continue`,
no HTTP/2, no upgrades.

Timings
-------
Each request's time in k6's parts. Always: `blocked_us` (waiting for a pooled connection or a
free slot, plus opening one) and `connecting_us` (the opening: TCP connect, with TLS for https).
With `detailed=True` (settings.timings: detailed) also, from timestamps the connection's
protocol takes where it sees the events: `sending_us` (from just before the write to just after
`transport.write` returned: uvloop hands the bytes to the kernel at once when the socket takes
them), `waiting_us` (then to the first `data_received`: time to first byte), `receiving_us`
(then to the parser's message complete), and `tls_us` (the TLS handshake: the TCP connect and
`loop.start_tls` are then made as two steps, since the one-step connect calls `connection_made`
only after the handshake). sending + waiting + receiving = `duration_us` (per-part rounding
to the microsecond aside). A redirected request carries the last hop's three parts.

Outcome fields
--------------
* `duration_us`: from just before the request is written to the socket until the parser saw the
  end of the body (measured in the protocol callback, so event-loop scheduling delay before the
  caller resumes is not counted). Pool wait, DNS and connect are not included, as the contract
  says ("first byte sent"); `AiohttpTransport` times the whole `session.request`, connect
  included. A request that fails before anything was sent reports the time spent in `send`.
  A redirected request: from the first write to the end of the last body (Redirects, above).
* `bytes_out`: exact bytes written (head + body). `bytes_in`: exact bytes received for the
  response (head, body and chunk framing).
* `headers`: names in the case the server sent; repeated headers are joined with ", ".
  `set_cookies` keeps every `Set-Cookie` value apart (a joined one cannot be split safely).
* `error_class`: as `transport.classify` does for aiohttp: timeout, connect, dns, tls, reset
  (connection reset, EPIPE, server closed before the response was complete), generator
  (EMFILE/ENFILE/EADDRNOTAVAIL), other (malformed response, bad URL, ...). One deliberate
  difference: a body cut short by the close is "reset" here, while aiohttp's
  ClientPayloadError comes out of `classify` as "other".
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Callable

from lunge_mp.worker.http1 import (_BUSY, _IDLE, ServerDisconnected, TooManyRedirects, _Conn,
                                   _encode_head, _perf, classify_fast, parse_url)
from lunge_mp.worker.pool import HostCap, Pool
from lunge_mp.worker.redirects import REDIRECTS, location, next_hop
from lunge_mp.worker.transport import HOP_PERMIT, Outcome, Prepared, RedirectRefused

__all__ = ["FastTransport", "classify_fast", "parse_url"]

DNS_TTL_S = 300.0
_HEAD_CACHE_MAX = 4096              # cached request heads (templated URLs make many)


def _phases(out: Outcome, conn: _Conn) -> None:
    """The response's sending / waiting / receiving (settings.timings: detailed), from the
    protocol's own timestamps: their sum is `duration_us` (to the microsecond's rounding)."""
    t_first = conn.t_first or conn.t_end
    out.sending_us = (conn.t_sent - conn.t_start) // 1000
    out.waiting_us = (t_first - conn.t_sent) // 1000
    out.receiving_us = (conn.t_end - t_first) // 1000


class FastTransport:
    """HTTP/1.1 on asyncio Protocols + httptools. One instance per worker process, shared by
    all its VUs. See the module docstring for what it does and does not do.

    `per_vu` (settings.connections: perVU): a request with a `pool_key` (the VU id) uses only
    that key's connections; see "Connections per VU" in the module docstring."""

    def __init__(self, max_connections_per_host: int = 100, keepalive: bool = True,
                 insecure_skip_verify: bool = False, per_vu: bool = False,
                 detailed: bool = False) -> None:
        self.max_connections_per_host = max_connections_per_host
        # settings.timings: detailed: each response's sending / waiting / receiving, and the TLS
        # handshake apart from the TCP connect (see "Timings" in the module docstring)
        self.detailed = detailed
        self.keepalive = keepalive
        self.insecure_skip_verify = insecure_skip_verify
        self.per_vu = per_vu
        self.closed = False
        # a connection handed back goes through Pool.release (not the inlined idle append):
        # after close(), and always with per-VU pools (the host cap may have waiters)
        self._slow_release = per_vu
        # (pool key, the host's shared pool) -> that key's pool; key -> its entries there
        self._key_pools: dict[tuple[int, Pool], Pool] = {}
        self._by_key: dict[int, list[tuple[int, Pool]]] = {}
        self._caps: dict[Pool, HostCap] = {}      # the host's shared pool -> its cap
        # asked with every redirect target before it is followed (worker/guard.py sets it when
        # guardrails.allowedHosts is set); False: the request fails with class "guardrail"
        self.allow_url: Callable[[str], bool] | None = None
        self._pools: dict[tuple[str, str, int], Pool] = {}
        # (method, URL) -> (headers as given, pool, encoded head) for body-less requests
        self._heads: dict[tuple[str, str], tuple[dict[str, str], Pool, bytes]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._dns: dict[tuple[str, int], tuple[float, list]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- helpers ----------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context()
            if self.insecure_skip_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        return self._ssl

    async def resolve(self, host: str, port: int) -> list:
        now = time.monotonic()
        cached = self._dns.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        self._dns[(host, port)] = (now + DNS_TTL_S, infos)
        return infos

    def _pool(self, key: tuple[str, str, int]) -> Pool:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        pool = self._pools[key] = Pool(self, loop, key, self.max_connections_per_host)
        return pool

    def _key_pool(self, pool_key: int, host_pool: Pool) -> Pool:
        """The pool of `pool_key` (a VU) for the host of `host_pool` (the shared pool, which
        then only names the host and holds its cap): one connection, within the host cap."""
        pool = self._key_pools.get((pool_key, host_pool))
        if pool is None:
            pool = Pool(self, host_pool.loop, (host_pool.scheme, host_pool.host, host_pool.port), 1)
            if self.max_connections_per_host > 0:
                cap = self._caps.get(host_pool)
                if cap is None:
                    cap = self._caps[host_pool] = HostCap(host_pool.loop,
                                                           self.max_connections_per_host)
                pool.cap = cap
                cap.pools[pool] = None
            self._key_pools[(pool_key, host_pool)] = pool
            self._by_key.setdefault(pool_key, []).append((pool_key, host_pool))
        return pool

    def forget(self, pool_key: int) -> None:
        """The VU `pool_key` ended: close its connections (and free their cap slots)."""
        for entry in self._by_key.pop(pool_key, ()):
            pool = self._key_pools.pop(entry, None)
            if pool is None:
                continue
            cap, used = pool.cap, pool.used
            pool.close()
            if cap is not None:
                cap.pools.pop(pool, None)
                for _ in range(used):
                    cap.release()

    # -- the contract -----------------------------------------------------------------------

    async def send(self, request: Prepared, follow_redirects: bool = True) -> Outcome:
        """One request; with `follow_redirects`, its redirects too (module docstring)."""
        t0 = _perf()
        method = request.method
        body = request.body
        headers = request.headers
        # the head of a body-less request is cached per (method, URL) with a copy of its headers
        cached = self._heads.get((method, request.url)) if body is None else None
        if cached is not None and cached[0] == headers:
            _, pool, data = cached
        else:
            try:
                key, data = _encode_head(method, request.url, headers, body, self.keepalive)
            except (ValueError, UnicodeError) as exc:
                return Outcome(duration_us=max(1, (_perf() - t0) // 1000), error_class="other",
                               error=f"{type(exc).__name__}: {exc}")
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pool(key)
            if body is None:
                if len(self._heads) >= _HEAD_CACHE_MAX:
                    self._heads.clear()
                self._heads[(method, request.url)] = (dict(headers), pool, data)
        if request.pool_key is not None:        # perVU: that VU's pool for this host
            pool = self._key_pools.get((request.pool_key, pool)) or self._key_pool(request.pool_key, pool)
        bytes_out = len(data) + (len(body) if body else 0)
        head = method == "HEAD"
        retried = False
        deadline = 0.0
        idle = pool.idle
        blocked = 0                     # ns waiting for a connection or opening one (rare)
        connect_ns = 0
        tls_ns = 0
        queued = False
        while True:
            conn = None
            if idle and not retried:        # pool.take(), inlined: the common case
                conn = idle.pop()
                conn.state = _BUSY
                if conn.lost or conn.transport.is_closing():
                    pool.discard(conn)
                    conn = pool.take()
            connecting = False
            try:
                if conn is None:
                    connecting = True
                    if not deadline:
                        deadline = pool.loop.time() + request.timeout
                    t_blocked = _perf()
                    conn = await pool.acquire(deadline, retried)
                    blocked += _perf() - t_blocked
                    queued = queued or conn.queued
                    if not conn.requests:       # opened for this request
                        connect_ns += conn.connect_ns
                        tls_ns += conn.tls_ns
                    connecting = False
                    timeout = deadline - pool.loop.time()
                else:
                    timeout = request.timeout if not deadline else deadline - pool.loop.time()
                await conn.begin(data, body, timeout, head)
            except asyncio.CancelledError:
                if conn is not None:
                    pool.discard(conn)
                raise
            except Exception as exc:   # every failure becomes a classified outcome
                if conn is not None:
                    pool.discard(conn)
                    if (not retried and conn.reused and conn.nbytes == 0
                            and isinstance(exc, (ServerDisconnected, ConnectionResetError,
                                                 BrokenPipeError))):
                        retried = True          # the keep-alive race: once, on a fresh connection
                        if not deadline:
                            deadline = conn.deadline    # the first attempt's: no extra time
                        continue
                    started = conn.t_start or t0
                else:
                    started = t0
                if connecting:                  # failed while waiting or connecting
                    blocked += _perf() - t_blocked
                return Outcome(bytes_out=bytes_out if conn is not None and not connecting else 0,
                               bytes_in=conn.nbytes if conn is not None else 0,
                               duration_us=max(1, (_perf() - started) // 1000),
                               error_class=classify_fast(exc, connecting),
                               error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                               blocked_us=blocked // 1000, connecting_us=connect_ns // 1000,
                               queued=queued, tls_us=tls_ns // 1000)
            status = conn.status
            out = Outcome(status, max(1, (conn.t_end - conn.t_start) // 1000), conn.nbytes,
                          bytes_out, b"".join(conn.chunks), conn.headers, set_cookies=conn.cookies)
            if blocked:
                out.blocked_us = blocked // 1000
                out.connecting_us = connect_ns // 1000
                out.tls_us = tls_ns // 1000
                out.queued = queued
            if self.detailed:
                _phases(out, conn)
            if not conn.keep or not self.keepalive:
                pool.discard(conn)
            elif pool.waiters or conn.lost or self._slow_release:
                pool.release(conn)
            else:                               # pool.release(conn), inlined: the common case
                conn.state = _IDLE
                idle.append(conn)
            if 300 < status < 309 and status in REDIRECTS and follow_redirects:
                # conn is not ours any more, but nothing ran since: its fields are this request's
                final = await self._follow(request, out, conn.t_start, conn.deadline)
                if blocked:                     # the first hop's wait (the later hops' are not kept)
                    final.blocked_us += out.blocked_us
                    final.connecting_us += out.connecting_us
                    final.tls_us += out.tls_us
                    final.queued = final.queued or queued
                return final
            return out

    async def _follow(self, request: Prepared, out: Outcome, t_start: int, deadline: float
                      ) -> Outcome:
        """Follow the redirect `out` (the response to `request`, written at `t_start`, due by
        `deadline`) to the end of its chain: where each hop goes is `redirects.next_hop`."""
        method, url, headers, body = request.method, request.url, request.headers, request.body
        bytes_in, bytes_out = out.bytes_in, out.bytes_out
        cookies = list(out.set_cookies)
        t_hop = t_start                 # when the hop of `out` was sent (about)
        redirects = 0
        loop = self._loop
        error: BaseException
        while True:
            redirects += 1
            try:
                hop = next_hop(out.status, location(out.headers), method, url, headers, body,
                               redirects, self.allow_url)
            except (ValueError, RedirectRefused, TooManyRedirects) as exc:
                error = exc
                break
            if hop is None:         # nowhere to go: this 3xx is the response
                return Outcome(out.status, (t_hop - t_start) // 1000 + out.duration_us, bytes_in,
                               bytes_out, out.body, out.headers, set_cookies=cookies)
            method, target, headers, body = hop
            permit = HOP_PERMIT.get()
            if permit is not None:      # a closed-model VU under guardrails: each hop needs one
                waited = _perf()
                await permit()
                t_start += _perf() - waited     # the wait is not service time
            remaining = deadline - loop.time()
            if remaining <= 0:
                error = TimeoutError("no complete response within the request timeout")
                break
            url = target
            t_hop = _perf()
            out = await self.send(Prepared(method, url, headers, body, remaining,
                                            request.pool_key), False)
            bytes_in += out.bytes_in
            bytes_out += out.bytes_out
            if out.error_class is not None:
                return Outcome(bytes_out=bytes_out, bytes_in=bytes_in,
                               duration_us=(t_hop - t_start) // 1000 + out.duration_us,
                               error_class=out.error_class, error=out.error)
            if out.set_cookies:
                cookies += out.set_cookies
            if out.status not in REDIRECTS:
                return Outcome(out.status, (t_hop - t_start) // 1000 + out.duration_us, bytes_in,
                               bytes_out, out.body, out.headers, set_cookies=cookies,
                               sending_us=out.sending_us, waiting_us=out.waiting_us,
                               receiving_us=out.receiving_us)
        return Outcome(bytes_out=bytes_out, bytes_in=bytes_in,
                       duration_us=max(1, (_perf() - t_start) // 1000),
                       error_class="guardrail" if isinstance(error, RedirectRefused) else
                       classify_fast(error), error=f"{type(error).__name__}: {error}")

    async def close(self) -> None:
        self.closed = True
        self._slow_release = True
        for pool in self._pools.values():
            pool.close()
        for pool in self._key_pools.values():
            pool.close()
        self._pools.clear()
        self._key_pools.clear()
        self._by_key.clear()
        self._caps.clear()
        self._heads.clear()
        await asyncio.sleep(0)   # let the transports run connection_lost
        await asyncio.sleep(0)
