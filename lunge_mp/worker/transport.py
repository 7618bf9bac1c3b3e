"""The HTTP client behind one small interface, so VUs never see which library sends.

`Transport.send(request) -> Outcome` is the whole contract: a prepared request goes out,
status, sizes, body and the service time come back; failures come back classified, never
raised. aiohttp is the first implementation; a leaner one can be added beside it.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Protocol

import aiohttp
import yarl


@dataclass(slots=True)
class Prepared:
    """A rendered request, ready to send."""
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    timeout: float


@dataclass(slots=True)
class Outcome:
    """What came back. `error_class` is None when a response arrived."""
    status: int = 0
    duration_us: int = 0            # service time: first byte sent .. body fully read
    bytes_in: int = 0
    bytes_out: int = 0
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error_class: str | None = None  # timeout connect dns tls reset other
    error: str | None = None
    # every Set-Cookie value of the response, in order (`headers` keeps only one per name)
    set_cookies: list[str] | tuple[str, ...] = ()


class Transport(Protocol):
    async def send(self, request: Prepared) -> Outcome: ...
    async def close(self) -> None: ...


class RedirectRefused(Exception):
    """A redirect to a host outside guardrails.allowedHosts (class "guardrail"); not followed."""


def classify(exc: BaseException) -> str:
    """Map a client exception onto the failure classes of the report."""
    if isinstance(exc, RedirectRefused):
        return "guardrail"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return "timeout"
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
    if dns_error is not None and isinstance(exc, dns_error):
        return "dns"
    if isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError, ssl.SSLError)):
        return "tls"
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = getattr(exc, "os_error", None)
        if isinstance(os_error, OSError) and os_error.errno in (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL):
            return "generator"  # the load generator ran out of sockets, not the target's fault
        return "connect"
    if isinstance(exc, (aiohttp.ServerDisconnectedError, ConnectionResetError)):
        return "reset"
    if isinstance(exc, aiohttp.ClientOSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE):
        return "reset"
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL):
        return "generator"
    return "other"


class AiohttpTransport:
    """aiohttp with one connection pool per worker: keep-alive within the configured limit.

    `allow_url` (set by the worker when guardrails.allowedHosts is set) is asked before every
    redirect is followed; a refused one fails the request with class "guardrail".
    """

    def __init__(self, max_connections_per_host: int = 100, keepalive: bool = True,
                 insecure_skip_verify: bool = False) -> None:
        self.allow_url: Callable[[str], bool] | None = None
        trace = aiohttp.TraceConfig()
        trace.on_request_redirect.append(self._check_redirect)
        self._connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=max_connections_per_host,
            force_close=not keepalive,
            ssl=False if insecure_skip_verify else True,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=self._connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
            trace_configs=[trace],
        )

    async def _check_redirect(self, _session, _ctx, params: aiohttp.TraceRequestRedirectParams) -> None:
        if self.allow_url is None:
            return
        location = params.response.headers.get("Location") or params.response.headers.get("URI")
        if location is None:
            return
        try:
            target = str(params.url.join(yarl.URL(location)))
        except ValueError:
            return    # aiohttp refuses it itself
        if not self.allow_url(target):
            params.response.close()
            raise RedirectRefused(f"redirect to {target} refused: its host is not in guardrails.allowedHosts")

    async def send(self, request: Prepared) -> Outcome:
        out = Outcome(bytes_out=_request_size(request))
        start = time.perf_counter_ns()
        try:
            async with asyncio.timeout(request.timeout):
                async with self._session.request(
                    request.method, request.url, headers=request.headers,
                    data=request.body, allow_redirects=True,
                ) as resp:
                    body = await resp.read()
            out.status = resp.status
            out.body = body
            out.bytes_in = len(body) + _head_size(resp.raw_headers)
            out.headers = dict(resp.headers)
            cookies = resp.headers.getall("Set-Cookie", ())
            if resp.history:    # redirects followed: their cookies count too
                cookies = [c for r in resp.history for c in r.headers.getall("Set-Cookie", ())] + list(cookies)
            out.set_cookies = cookies
        except Exception as exc:  # every failure becomes a classified outcome
            out.error_class = classify(exc)
            out.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        out.duration_us = max(1, (time.perf_counter_ns() - start) // 1000)
        return out

    async def close(self) -> None:
        await self._session.close()


def _head_size(raw_headers) -> int:
    """Bytes of a response head: status line (~17) plus `Name: value\r\n` lines."""
    return 19 + sum(len(k) + len(v) + 4 for k, v in raw_headers)


def _request_size(request: Prepared) -> int:
    """Bytes of a request as sent: request line, headers and body (Host etc. estimated)."""
    head = len(request.method) + len(request.url) + 12
    head += sum(len(k) + len(v) + 4 for k, v in request.headers.items()) + 2
    return head + (len(request.body) if request.body else 0)
