"""The HTTP client behind one small interface, so VUs never see which library sends.

`Transport.send(request) -> Outcome` is the whole contract: a prepared request goes out,
status, sizes, body and the service time come back; failures come back classified, never
raised. `AiohttpTransport` (here) and `FastTransport` (fast_transport.py) implement it.

aiohttp is imported when an `AiohttpTransport` is first made (or a failure is classified
while it is loaded), so a worker on the fast transport never loads it.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import math
import ssl
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from lunge_mp.worker import aiohttp_timings

if TYPE_CHECKING:
    import aiohttp


@dataclass(slots=True)
class Prepared:
    """A rendered request, ready to send."""
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    timeout: float
    # settings.connections: perVU: the VU's id; the fast transport keeps this key's connections
    # apart from every other key's (None: the worker's shared pools)
    pool_key: int | None = None


@dataclass(slots=True)
class Outcome:
    """What came back. `error_class` is None when a response arrived."""
    status: int = 0
    duration_us: int = 0            # service time: first byte sent .. body fully read
    bytes_in: int = 0
    bytes_out: int = 0
    body: bytes = b""
    # read-only: a dict (fast transport) or aiohttp's case-insensitive mapping (aiohttp)
    headers: Mapping[str, str] = field(default_factory=dict)
    error_class: str | None = None  # timeout connect dns tls reset other
    error: str | None = None
    # every Set-Cookie value of the response, in order (`headers` keeps only one per name)
    set_cookies: list[str] | tuple[str, ...] = ()
    # before the request went out (fast transport; aiohttp with settings.timings: detailed;
    # k6's http_req_blocked / _connecting): the
    # time waiting for a pooled connection or a free slot plus opening one (DNS, TCP, TLS), the
    # part of it spent opening one, and whether it queued at maxConnectionsPerHost
    blocked_us: int = 0
    connecting_us: int = 0
    queued: bool = False
    # settings.timings: detailed: the TLS handshake part of connecting (fast transport only),
    # and the response's parts, k6's http_req_sending / _waiting (time to first byte) /
    # _receiving; their sum is duration_us (aiohttp: a little less, worker/aiohttp_timings.py).
    # 0 when not measured.
    tls_us: int = 0
    sending_us: int = 0
    waiting_us: int = 0
    receiving_us: int = 0


class Transport(Protocol):
    async def send(self, request: Prepared) -> Outcome: ...
    async def close(self) -> None: ...


class Wrapper:
    """A Transport that adds one check before its inner transport's `send` (HostGuard,
    PermittedTransport): connection handling (`forget`, `close`) is the inner one's."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def forget(self, pool_key: int) -> None:
        forget = getattr(self.inner, "forget", None)
        if forget is not None:
            forget(pool_key)

    async def close(self) -> None:
        await self.inner.close()


# Guardrail permits (worker/permits.py): a closed-model VU's task sets this to a coroutine
# function that waits for one permit. Both transports await it before following each redirect,
# since every hop is a request at the server. None (open model, no guardrails): no wait.
HOP_PERMIT: ContextVar[Callable[[], Awaitable[None]] | None] = ContextVar("hop_permit", default=None)


class PermitDenied(Exception):
    """The worker stops while a VU waits for a permit: the request is not sent, and its
    iteration ends, interrupted (raised through the transports, never classified)."""


class RedirectRefused(Exception):
    """A redirect to a host outside guardrails.allowedHosts (class "guardrail"); not followed."""


_GENERATOR_ERRNOS = (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL)


def classify(exc: BaseException) -> str:
    """Map a client exception onto the failure classes of the report."""
    if isinstance(exc, RedirectRefused):
        return "guardrail"
    aiohttp = sys.modules.get("aiohttp")     # not loaded: exc cannot be one of its errors
    if isinstance(exc, asyncio.TimeoutError) or (
            aiohttp is not None and isinstance(exc, aiohttp.ServerTimeoutError)):
        return "timeout"
    if aiohttp is not None:
        dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
        if dns_error is not None and isinstance(exc, dns_error):
            return "dns"
        if isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
            return "tls"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if aiohttp is not None:
        if isinstance(exc, aiohttp.ClientConnectorError):
            os_error = getattr(exc, "os_error", None)
            if isinstance(os_error, OSError) and os_error.errno in _GENERATOR_ERRNOS:
                return "generator"  # the load generator ran out of sockets, not the target's fault
            return "connect"
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return "reset"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if aiohttp is not None and isinstance(exc, aiohttp.ClientOSError) and exc.errno in (
            errno.ECONNRESET, errno.EPIPE):
        return "reset"
    if isinstance(exc, OSError) and exc.errno in _GENERATOR_ERRNOS:
        return "generator"
    return "other"


_CACHE_MAX = 4096                # request URLs and header sets kept (templated URLs make many)
_current_task = asyncio.current_task


class _Clock:
    """The request timer of one VU task (the fast transport does the same per connection).

    aiohttp's own `ClientTimeout(total=…)` costs ~4 µs of CPU a request (a `TimeoutHandle`,
    a loop timer armed and cancelled, a `TimerContext` entered around every wait, with a
    `current_task()` lookup each time); `asyncio.timeout()` costs about as much. Here one
    loop timer per VU is armed for its first request's deadline; when it fires and the VU's
    request in flight has a later deadline, it re-arms for that one; when the VU is not
    sending, the clock is dropped. Per request that is a dict lookup and a `loop.time()`.
    A request past its deadline is cancelled where it waits, in aiohttp (pool wait, connect,
    send, head or body: the same points aiohttp's timer cancels at), and comes back as a
    "timeout" outcome; a cancellation from outside still propagates.
    """

    __slots__ = ("deadline", "busy", "fired", "cancelling", "timer", "when")

    def __init__(self) -> None:
        self.deadline = 0.0
        self.busy = False
        self.fired = False
        self.cancelling = 0
        self.timer: asyncio.TimerHandle | None = None
        self.when = 0.0


class AiohttpTransport:
    """aiohttp with one connection pool per worker: keep-alive within the configured limit.

    `allow_url` (set by the worker when guardrails.allowedHosts is set) is asked before every
    redirect is followed; a refused one fails the request with class "guardrail".

    Per request this hands aiohttp what it would otherwise build each time: the URL parsed
    once (`yarl.URL`, kept per URL string), the headers as a `CIMultiDict` with `istr` names
    (kept per URL with a copy of the dict they came from). `Prepared.timeout` covers waiting
    for a pooled connection, connecting, sending and reading the whole body; it is timed by
    one lazy timer per VU task (`_Clock`), or, outside a task, by aiohttp's own
    `ClientTimeout(total=…)`, never rounded up to whole seconds (`ceil_threshold=inf`).
    The redirect check is a trace config, and aiohttp runs every request through its tracing
    signals once any trace is configured, so there is one only while `allow_url` is set (or
    with `detailed`, settings.timings: detailed: the timing breakdown, worker/aiohttp_timings.py). The
    session is made on the first request (inside the loop). Response headers are handed over
    as aiohttp's read-only case-insensitive mapping, not copied; a repeated header reads as
    its first value, as the copy did.
    """

    def __init__(self, max_connections_per_host: int = 100, keepalive: bool = True,
                 insecure_skip_verify: bool = False, detailed: bool = False) -> None:
        import aiohttp   # noqa: F401  (loaded here, so a failure shows at construction)
        self._limit = max_connections_per_host
        # settings.timings: detailed: blocked / connecting / sending / waiting / receiving from
        # aiohttp's trace signals (worker/aiohttp_timings.py); tracing costs every request CPU
        self.detailed = detailed
        self._keepalive = keepalive
        self._insecure = insecure_skip_verify
        self._allow_url: Callable[[str], bool] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._old_sessions: list[aiohttp.ClientSession] = []
        # URL string -> [yarl.URL, headers dict as given, CIMultiDict, no User-Agent, head bytes]
        self._requests: dict[str, list] = {}
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._no_timeout = aiohttp.ClientTimeout()      # the VU clocks time requests instead
        self._clocks: dict[asyncio.Task, _Clock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # closed-model guardrail permits: redirect hops wait for one (set before the first request)
        self.hop_permits = False

    @property
    def allow_url(self) -> Callable[[str], bool] | None:
        return self._allow_url

    @allow_url.setter
    def allow_url(self, value: Callable[[str], bool] | None) -> None:
        if (value is None) != (self._allow_url is None) and self._session is not None:
            # the trace config is fixed when a session is made: the next request makes another
            self._old_sessions.append(self._session)
            self._session = None
        self._allow_url = value

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp
        self._loop = asyncio.get_running_loop()
        traces = []
        if self._allow_url is not None or self.hop_permits or self.detailed:
            trace = aiohttp.TraceConfig(trace_config_ctx_factory=aiohttp_timings.context)
            if self._allow_url is not None or self.hop_permits:
                trace.on_request_redirect.append(self._check_redirect)
            if self.detailed:
                aiohttp_timings.add_signals(trace)
            traces.append(trace)
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=self._limit,
            force_close=not self._keepalive,
            ssl=False if self._insecure else True,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            trace_configs=traces or None,
        )
        return self._session

    async def _check_redirect(self, _session, _ctx, params: aiohttp.TraceRequestRedirectParams) -> None:
        if self._allow_url is None:
            await self._hop_permit()
            return
        import yarl
        location = params.response.headers.get("Location") or params.response.headers.get("URI")
        if location is None:
            return
        try:
            target = str(params.url.join(yarl.URL(location)))
        except ValueError:
            return    # aiohttp refuses it itself
        if not self._allow_url(target):
            params.response.close()
            raise RedirectRefused(f"redirect to {target} refused: its host is not in guardrails.allowedHosts")
        await self._hop_permit()

    @staticmethod
    async def _hop_permit() -> None:
        """A closed-model VU under guardrails: the next hop is a request, it needs a permit."""
        permit = HOP_PERMIT.get()
        if permit is not None:
            await permit()

    def _request_entry(self, url: str, headers: dict[str, str]) -> list:
        """The cached [URL, headers, CIMultiDict, no User-Agent, head size] for `url`, made
        or refreshed for these headers. Raises ValueError for a URL yarl refuses."""
        from multidict import CIMultiDict, istr
        import yarl
        entry = self._requests.get(url)
        if entry is None:
            if len(self._requests) >= _CACHE_MAX:
                self._requests.clear()
            entry = self._requests[url] = [yarl.URL(url), None, None, False, 0]
        entry[1] = dict(headers)
        entry[2] = CIMultiDict([(istr(k), v) for k, v in headers.items()])
        entry[3] = "user-agent" not in (k.lower() for k in headers)
        # request line (without the method) and headers as sent, Host etc. estimated
        entry[4] = len(url) + 12 + sum(len(k) + len(v) + 4 for k, v in headers.items()) + 2
        return entry

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        import aiohttp
        if len(self._timeouts) >= 64:
            self._timeouts.clear()
        t = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds, ceil_threshold=math.inf)
        return t

    def _on_timer(self, task: asyncio.Task, clock: _Clock) -> None:
        """A VU's timer: cancel its request if past the deadline, re-arm for a later one,
        forget the VU if it is not sending."""
        clock.timer = None
        if not clock.busy:
            if self._clocks.get(task) is clock:
                del self._clocks[task]
            return
        loop = self._loop
        if loop.time() + 0.001 >= clock.deadline:       # uvloop's clock ticks in milliseconds
            clock.fired = True
            task.cancel()
        else:
            clock.timer = loop.call_at(clock.deadline, self._on_timer, task, clock)
            clock.when = clock.deadline

    async def send(self, request: Prepared) -> Outcome:
        start = time.perf_counter_ns()
        session = self._session or self._open()
        headers = request.headers
        body = request.body
        task = _current_task()
        clock = None
        phases = aiohttp_timings.Phases() if self.detailed else None
        try:
            entry = self._requests.get(request.url)
            if entry is None or entry[1] != headers:
                entry = self._request_entry(request.url, headers)
            if task is not None:
                # One lazy timer per VU task rather than one per request (see _Clock).
                clock = self._clocks.get(task)
                if clock is None:
                    clock = self._clocks[task] = _Clock()
                deadline = clock.deadline = self._loop.time() + request.timeout
                if clock.timer is None or deadline < clock.when:
                    if clock.timer is not None:
                        clock.timer.cancel()
                    clock.timer = self._loop.call_at(deadline, self._on_timer, task, clock)
                    clock.when = deadline
                clock.busy = True
                # cancels requested before ours (from outside) are told apart by this count
                clock.cancelling = task.cancelling()
                timeout = self._no_timeout
            else:
                timeout = self._timeouts.get(request.timeout) or self._timeout(request.timeout)
            # a request without a User-Agent goes without one (aiohttp would add its own)
            if phases is None:
                resp = await session.request(
                    request.method, entry[0], headers=entry[2], data=body, allow_redirects=True,
                    timeout=timeout, skip_auto_headers=_NO_UA if entry[3] else None)
            else:
                resp = await session.request(
                    request.method, entry[0], headers=entry[2], data=body, allow_redirects=True,
                    timeout=timeout, skip_auto_headers=_NO_UA if entry[3] else None,
                    trace_request_ctx=phases)
                t_head = time.perf_counter_ns()     # the response head is in: waiting ends
            content = resp.content
            if content.is_eof() and resp.closed:
                # the whole body is in and the connection back in the pool (a small response
                # comes with its head): take it without read()'s chain of coroutines
                data = content.read_nowait(-1)
            else:
                try:
                    data = await resp.read()
                except BaseException:
                    resp.close()
                    raise
            t_end = time.perf_counter_ns()      # the body is in
            raw = resp.raw_headers
            history = resp.history
            resp_headers = resp.headers
            cookies = resp_headers.getall("Set-Cookie", ())
            bytes_in = len(data) + 19 + 4 * len(raw) + sum(map(len, _chain(raw)))
            bytes_out = len(request.method) + entry[4] + (len(body) if body else 0)
            if history:
                # redirects followed: their cookies and bytes count too (a 3xx without a
                # Location is both the last of history and the response: counted once)
                hops = [r for r in history if r is not resp]
                cookies = [c for r in hops for c in r.headers.getall("Set-Cookie", ())] + list(cookies)
                bytes_in += sum(_head_size(r.raw_headers) + (r.content_length or 0) for r in hops)
                bytes_out += sum(_hop_size(r.request_info, request) for r in hops[1:])
                if hops:
                    bytes_out += _hop_size(resp.request_info, request)
            out = Outcome(resp.status, max(1, (t_end - start) // 1000),
                          bytes_in, bytes_out, data, resp_headers, None, None, cookies)
            if phases is not None:
                aiohttp_timings.fill(out, phases, t_head, t_end)
            return out
        except asyncio.CancelledError:
            if clock is None or not clock.fired:
                raise
            clock.fired = False
            if task.uncancel() > clock.cancelling:
                raise                           # cancelled from outside as well: let it through
            out = Outcome(duration_us=max(1, (time.perf_counter_ns() - start) // 1000),
                          bytes_out=_request_size(request), error_class="timeout",
                          error="TimeoutError: no complete response within the request timeout")
            if phases is not None:
                aiohttp_timings.wait(out, phases)       # e.g. the pool wait it timed out in
            return out
        except Exception as exc:  # every failure becomes a classified outcome
            if type(exc) is PermitDenied:
                raise
            out = Outcome(duration_us=max(1, (time.perf_counter_ns() - start) // 1000),
                          bytes_out=_request_size(request), error_class=classify(exc),
                          error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            if phases is not None:
                aiohttp_timings.wait(out, phases)
            return out
        finally:
            if clock is not None:
                clock.busy = False
                if clock.fired:         # the cancel never reached us (swallowed on the way)
                    clock.fired = False
                    task.uncancel()
                if clock.timer is None:     # fired: no timer left to drop this clock later
                    self._clocks.pop(task, None)

    async def close(self) -> None:
        sessions, self._old_sessions = self._old_sessions, []
        if self._session is not None:
            sessions.append(self._session)
            self._session = None
        for clock in self._clocks.values():
            if clock.timer is not None:
                clock.timer.cancel()
                clock.timer = None
        self._clocks.clear()
        for session in sessions:
            await session.close()
        self._requests.clear()


_NO_UA = ("User-Agent",)
_chain = itertools.chain.from_iterable


def _head_size(raw_headers) -> int:
    """Bytes of a response head: status line (~17) plus `Name: value\r\n` lines."""
    return 19 + sum(len(k) + len(v) + 4 for k, v in raw_headers)


def _hop_size(info, request: Prepared) -> int:
    """Bytes of a redirected request (estimated, from aiohttp's RequestInfo): the body went
    along when the method stayed the same (aiohttp drops it only when it switches to GET)."""
    head = len(info.method) + len(str(info.real_url)) + 12
    head += sum(len(k) + len(v) + 4 for k, v in info.headers.items()) + 2
    return head + (len(request.body) if request.body and info.method == request.method else 0)


def _request_size(request: Prepared) -> int:
    """Bytes of a request as sent: request line, headers and body (Host etc. estimated)."""
    head = len(request.method) + len(request.url) + 12
    head += sum(len(k) + len(v) + 4 for k, v in request.headers.items()) + 2
    return head + (len(request.body) if request.body else 0)
