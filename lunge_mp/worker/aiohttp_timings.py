"""k6's timing breakdown for `transport: aiohttp` (settings.timings: detailed), from aiohttp's
trace signals.

aiohttp tells a trace config when things happen inside `ClientSession.request`; one `Phases`
per request (the signals' context, handed in as `trace_request_ctx`) keeps the instants:

    on_connection_queued_start/end   waiting for a pooled connection (limit_per_host reached):
                                     part of http_req_blocked, and the request counts as queued
    on_connection_create_start/end   opening a connection: http_req_blocked and
                                     http_req_connecting. The TLS handshake happens inside it and
                                     aiohttp has no signal between TCP and TLS, so with aiohttp
                                     there is no http_req_tls_handshaking: the handshake is part
                                     of connecting (as it is with the fast transport)
    on_dns_resolvehost_start/end     a DNS lookup inside create (not cached yet): left out of
                                     connecting and kept in blocked, as the fast transport does
    on_request_headers_sent          the request head handed to aiohttp's writer: sending starts
    on_request_chunk_sent            a body chunk handed to the writer: sending lasts to the last
                                     one. aiohttp signals *before* it writes, so the last write
                                     (microseconds with uvloop) falls into waiting, and a request
                                     without a body has sending 0
    session.request returns          the response head is parsed (aiohttp has no first-byte
                                     signal; the head usually comes in the first bytes): waiting
                                     ends, receiving starts
    the body read                    receiving ends

sending + waiting + receiving cover the last hop, from its head to the end of the body; with
aiohttp `http_req_duration` is the whole call (the pool wait, the connect and aiohttp's own
preparation of the request too), so the parts add up to a little less than it. Blocked and
connecting add up over every hop of a redirected request.

Any trace config sends every request through aiohttp's tracing (a context, a parameters
object per signal, whether or not anything listens), so the transport sets one only when the
timings are asked for (docs/PERFORMANCE.md has the cost).
"""

from __future__ import annotations

import time
from typing import Any

_perf = time.perf_counter_ns


class Phases:
    """One request's instants and sums (ns), written by the signal handlers below."""

    __slots__ = ("t_queued", "t_create", "t_dns", "blocked_ns", "connect_ns", "dns_ns", "queued",
                 "t_send", "t_sent")

    def __init__(self) -> None:
        self.t_queued = self.t_create = self.t_dns = 0
        self.blocked_ns = self.connect_ns = self.dns_ns = 0
        self.queued = False
        self.t_send = 0          # the last hop's head handed to the writer (0: not yet)
        self.t_sent = 0          # ... and its last body chunk


def context(trace_request_ctx: Any = None) -> Any:
    """The trace config's context factory: the request's own `Phases` (None without one, as
    for the redirect check alone)."""
    return trace_request_ctx


async def _queued_start(_session, ctx: Phases | None, _params) -> None:
    if ctx is not None:
        ctx.t_queued = _perf()
        ctx.queued = True


async def _queued_end(_session, ctx: Phases | None, _params) -> None:
    if ctx is not None and ctx.t_queued:
        ctx.blocked_ns += _perf() - ctx.t_queued
        ctx.t_queued = 0


async def _create_start(_session, ctx: Phases | None, _params) -> None:
    if ctx is not None:
        ctx.t_create = _perf()
        ctx.dns_ns = 0


async def _create_end(_session, ctx: Phases | None, _params) -> None:
    if ctx is not None and ctx.t_create:
        took = _perf() - ctx.t_create
        ctx.blocked_ns += took
        ctx.connect_ns += max(0, took - ctx.dns_ns)
        ctx.t_create = 0


async def _dns_start(_session, ctx: Phases | None, _params) -> None:
    if ctx is not None:
        ctx.t_dns = _perf()


async def _dns_end(_session, ctx: Phases | None, _params) -> None:
    if ctx is not None and ctx.t_dns:
        ctx.dns_ns += _perf() - ctx.t_dns
        ctx.t_dns = 0


async def _headers_sent(_session, ctx: Phases | None, _params) -> None:
    if ctx is not None:
        ctx.t_send = ctx.t_sent = _perf()     # a redirect's next hop starts over


async def _chunk_sent(_session, ctx: Phases | None, _params) -> None:
    if ctx is not None:
        ctx.t_sent = _perf()


def add_signals(trace) -> None:
    """Listen to the signals above on `trace` (an aiohttp.TraceConfig made with `context`)."""
    trace.on_connection_queued_start.append(_queued_start)
    trace.on_connection_queued_end.append(_queued_end)
    trace.on_connection_create_start.append(_create_start)
    trace.on_connection_create_end.append(_create_end)
    trace.on_dns_resolvehost_start.append(_dns_start)
    trace.on_dns_resolvehost_end.append(_dns_end)
    trace.on_request_headers_sent.append(_headers_sent)
    trace.on_request_chunk_sent.append(_chunk_sent)


def fill(out, ph: Phases, t_head: int, t_end: int) -> None:
    """Set a response's Outcome fields from its `Phases`: blocked / connecting / queued (when
    it waited or connected), and sending / waiting / receiving (`t_head`: session.request
    returned; `t_end`: the body was read)."""
    wait(out, ph)
    t_send = ph.t_send or t_head
    t_sent = ph.t_sent if ph.t_sent >= t_send else t_send
    out.sending_us = (t_sent - t_send) // 1000
    out.waiting_us = (t_head - t_sent) // 1000 if t_head > t_sent else 0
    out.receiving_us = (t_end - t_head) // 1000


def wait(out, ph: Phases) -> None:
    """blocked / connecting / queued of a request (a failed one too), when it waited."""
    if ph.blocked_ns:
        out.blocked_us = max(1, ph.blocked_ns // 1000)
        out.connecting_us = ph.connect_ns // 1000
        out.queued = ph.queued
