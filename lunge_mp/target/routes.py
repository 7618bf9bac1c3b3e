"""The embedded target's routes: a table from path to handler instead of an if/elif chain.

A handler gets the connection, the rest of the path after its route (empty for an exact route)
and the connection variant; it returns the response bytes, or None when it answers itself
(later, or with a close). Exact paths are one dict lookup; `/name/<tail>` routes one more.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from lunge_mp.target.app import App
from lunge_mp.target.responses import (CLOSE, JSON, JSON_PRE, JSON_SUF, MAX_BYTES, MAX_DELAY_MS,
                                       MAX_POST_BODY, R_NOT_FOUND, R_OK, R_RESET, R_TOO_LARGE,
                                       TEXT, build_response, bytes_response, echo_body, int_tail,
                                       status_response)



class Connection(Protocol):
    """What a handler may use of the connection (server.HttpProtocol)."""
    app: App
    req_headers: list           # the request's (name, value) pairs
    req_body: list | None       # its body chunks (POST_PATH only)
    req_body_size: int

    def answer(self, resp: bytes, close: bool) -> None: ...

    def respond(self, data: bytes, close: bool) -> None: ...

    def respond_later(self, delay: float, data: bytes, close: bool) -> None: ...

    def respond_async(self, coro: Coroutine[Any, Any, Any], variant: int, close: bool,
                      fixed: bytes | None = None) -> None: ...


Handler = Callable[[Connection, bytes, int], "bytes | None"]

STATS_PATH = b"/__stats"
RESET_PATH = b"/__reset"
POST_PATH = b"/post"            # the one route whose request body is kept


def ok(conn: Connection, tail: bytes, variant: int) -> bytes:
    return R_OK[variant]


def json(conn: Connection, tail: bytes, variant: int) -> bytes:
    return b"%s%d%s" % (JSON_PRE[variant], conn.app.next_request_id(), JSON_SUF)


def post(conn: Connection, tail: bytes, variant: int) -> bytes | None:
    if conn.req_body_size > MAX_POST_BODY:
        conn.respond(R_TOO_LARGE, True)
        return None
    body = echo_body(conn.req_headers, b"".join(conn.req_body or ()))
    return build_response(200, body, JSON, variant)


def delay(conn: Connection, tail: bytes, variant: int) -> bytes | None:
    ms = int_tail(tail)
    if ms is None:
        return R_NOT_FOUND[variant]
    conn.respond_later(min(ms, MAX_DELAY_MS) / 1000.0, R_OK[variant], variant == CLOSE)
    return None


def status(conn: Connection, tail: bytes, variant: int) -> bytes | None:
    code = int_tail(tail)
    if code is None:
        return R_NOT_FOUND[variant]
    if not 100 <= code <= 599:
        return build_response(400, b"status must be 100..599", TEXT, variant)
    if code < 200:          # never final: the response says close, and we do
        conn.answer(status_response(code, variant), True)
        return None
    return status_response(code, variant)


def bytes_(conn: Connection, tail: bytes, variant: int) -> bytes:
    n = int_tail(tail)
    return R_NOT_FOUND[variant] if n is None else bytes_response(min(n, MAX_BYTES), variant)


def stats(conn: Connection, tail: bytes, variant: int) -> bytes | None:
    app = conn.app
    if app.multi:
        conn.respond_async(app.gather_stats_body(), variant, variant == CLOSE)
        return None
    return build_response(200, app.stats_body(), JSON, variant)


def reset(conn: Connection, tail: bytes, variant: int) -> bytes | None:
    app = conn.app
    if app.multi:
        conn.respond_async(app.broadcast_reset(), variant, variant == CLOSE, R_RESET[variant])
        return None
    app.stats.reset()
    return R_RESET[variant]


EXACT: dict[bytes, Handler] = {b"/": ok, b"/json": json, POST_PATH: post,
                               STATS_PATH: stats, RESET_PATH: reset}
PREFIX: dict[bytes, Handler] = {b"/delay/": delay, b"/status/": status, b"/bytes/": bytes_}


def not_found(conn: Connection, tail: bytes, variant: int) -> bytes:
    return R_NOT_FOUND[variant]


def route(path: bytes) -> tuple[Handler, bytes]:
    """The handler of `path` and the tail it gets."""
    handler = EXACT.get(path)
    if handler is not None:
        return handler, b""
    i = path.find(b"/", 1)
    if i > 0:
        handler = PREFIX.get(path[:i + 1])
        if handler is not None:
            return handler, path[i + 1:]
    return not_found, b""
