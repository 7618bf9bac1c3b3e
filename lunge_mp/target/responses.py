"""The embedded target's response bytes: each prebuilt once per connection "variant" (HTTP/1.1
keep-alive, HTTP/1.0 keep-alive, close), the few dynamic ones built per request."""

from __future__ import annotations

import http

import msgspec

MAX_DELAY_MS = 60_000
MAX_BYTES = 10 * 1024 * 1024
MAX_POST_BODY = 16 * 1024 * 1024

_json_encode = msgspec.json.encode
_json_decode = msgspec.json.decode

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


TEXT = b"text/plain"
JSON = b"application/json"
R_OK = _prebuilt(200, b"ok")
R_NOT_FOUND = _prebuilt(404, b"not found")
R_RESET = _prebuilt(200, b'{"reset": true}', JSON)
R_BAD_REQUEST = build_response(400, b"bad request", TEXT, CLOSE)
R_TOO_LARGE = build_response(413, b"request body too large", TEXT, CLOSE)
R_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

JSON_BODY = b'{"id": 42, "name": "widget", "items": [{"id": 1}, {"id": 2}], "token": "abc123"}'
# /json has a dynamic X-Request-ID header: prefix + <id> + suffix
JSON_PRE = tuple(
    _head(200, JSON, len(JSON_BODY), v)[:-2] + b"X-Request-ID: " for v in _VARIANTS
)
JSON_SUF = b"\r\n\r\n" + JSON_BODY

_STATUS_CACHE: dict[tuple[int, int], bytes] = {}
_BYTES_PATTERN = (b"abcdefghijklmnopqrstuvwxyz0123456789" * 29)[:1024]
_big_body: bytes | None = None


def status_response(code: int, variant: int) -> bytes:
    key = (code, variant)
    r = _STATUS_CACHE.get(key)
    if r is None:
        body = b"%d %s" % (code, _reason(code))
        if code < 200:
            # An informational status is never final: close so clients don't hang.
            variant = CLOSE
        r = _STATUS_CACHE[key] = build_response(code, body, TEXT, variant)
    return r


def bytes_response(n: int, variant: int) -> bytes:
    global _big_body
    if n <= len(_BYTES_PATTERN):
        body = _BYTES_PATTERN[:n]
    else:
        if _big_body is None:
            _big_body = _BYTES_PATTERN * (MAX_BYTES // len(_BYTES_PATTERN))
        body = _big_body[:n]
    return _head(200, b"application/octet-stream", n, variant) + body


def int_tail(tail: bytes) -> int | None:
    """The number a route's path ends with (`/delay/<ms>`), or None when it is not one."""
    if not tail or not tail.isdigit():
        return None
    return int(tail)


def echo_body(headers: list, raw: bytes) -> bytes:
    """What `/post` answers: the JSON it got (or null), the body as text, the headers."""
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
