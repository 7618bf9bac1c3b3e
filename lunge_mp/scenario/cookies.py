"""A VU's cookie jar (RFC 6265, without the public-suffix list). Pure: time is an argument.

Each VU owns one jar, so cookies never leak between VUs, and the jar does not depend on the
HTTP client: the worker feeds it the `Set-Cookie` values of every response
(`update(url, values, now)`) and asks it for the `Cookie` header of every request
(`header(url, now)`). `now` is wall-clock Unix seconds, because `Expires` is an absolute date.

Storage and matching follow RFC 6265 section 5.3: a cookie is keyed (domain, path, name); a
later one with the same key replaces it; `Max-Age` wins over `Expires`; an expiry in the past
deletes; a `Domain` attribute that does not domain-match the request host makes the cookie be
ignored, without it the cookie is host-only; the default path is the request path up to its
last `/`; `Secure` cookies go only over https. The header lists longer paths first, then
older cookies first (5.4). Dates are parsed by the standard library (`http.cookiejar.http2time`).
Not done: public suffixes (a server may set `Domain=com`), SameSite, and cookie size limits.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(slots=True)
class Cookie:
    name: str
    value: str
    domain: str
    path: str
    host_only: bool
    secure: bool
    expires: float | None      # Unix seconds; None = for the VU's lifetime
    created: int               # creation order, for the header's ordering


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def domain_match(host: str, domain: str) -> bool:
    """RFC 6265 5.1.3: host equals domain, or ends with "." + domain and is not an IP."""
    return host == domain or (host.endswith("." + domain) and not _is_ip(host))


def path_match(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 5.1.4."""
    if request_path == cookie_path:
        return True
    if request_path.startswith(cookie_path):
        return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    return False


def default_path(request_path: str) -> str:
    """RFC 6265 5.1.4: the request path up to, not including, its last "/" (or "/")."""
    if not request_path.startswith("/"):
        return "/"
    cut = request_path.rfind("/")
    return "/" if cut <= 0 else request_path[:cut]


def parse_set_cookie(value: str, host: str, request_path: str, now: float,
                     order: int) -> tuple[Cookie | None, bool]:
    """(cookie, delete): the cookie a `Set-Cookie` value sets, or None to ignore the value.

    `delete` is true when the cookie has already expired: it removes a stored one.
    """
    pair, *attrs = value.split(";")
    name, sep, cookie_value = pair.partition("=")
    name, cookie_value = name.strip(), cookie_value.strip()
    if not sep or not name:
        return None, False
    domain = ""
    path = ""
    secure = False
    expires: float | None = None
    max_age: float | None = None
    for attr in attrs:
        key, _, arg = attr.partition("=")
        key, arg = key.strip().lower(), arg.strip()
        if key == "expires":
            from http.cookiejar import http2time    # imported when a cookie has an Expires (~30 ms)
            parsed = http2time(arg)
            if parsed is not None:
                expires = float(parsed)
        elif key == "max-age":
            try:
                seconds = int(arg)
            except ValueError:
                continue
            max_age = now + seconds if seconds > 0 else float("-inf")
        elif key == "domain":
            domain = arg.lstrip(".").lower()
        elif key == "path":
            path = arg if arg.startswith("/") else ""
        elif key == "secure":
            secure = True
    if max_age is not None:
        expires = max_age
    if domain:
        if not domain_match(host, domain):
            return None, False
        host_only = False
    else:
        domain, host_only = host, True
    cookie = Cookie(name, cookie_value, domain, path or default_path(request_path), host_only,
                    secure, expires, order)
    return cookie, expires is not None and expires <= now


def _url_parts(url: str) -> tuple[str, str, bool]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.path or "/", parts.scheme == "https"


class CookieJar:
    """The cookies of one VU."""

    __slots__ = ("_cookies", "_order")

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}
        self._order = 0

    def __len__(self) -> int:
        return len(self._cookies)

    def update(self, url: str, set_cookies: list[str] | tuple[str, ...], now: float) -> None:
        """Store what the `Set-Cookie` values of a response to `url` set."""
        host, path, _ = _url_parts(url)
        for value in set_cookies:
            cookie, delete = parse_set_cookie(value, host, path, now, self._order)
            if cookie is None:
                continue
            key = (cookie.domain, cookie.path, cookie.name)
            if delete:
                self._cookies.pop(key, None)
                continue
            old = self._cookies.get(key)
            if old is not None:
                cookie.created = old.created       # RFC 6265 5.3 step 11.3
            else:
                self._order += 1
            self._cookies[key] = cookie

    def header(self, url: str, now: float) -> str | None:
        """The `Cookie` header value for a request to `url`, or None when no cookie applies."""
        if not self._cookies:
            return None
        host, path, https = _url_parts(url)
        chosen = []
        expired = []
        for key, c in self._cookies.items():
            if c.expires is not None and c.expires <= now:
                expired.append(key)
                continue
            if c.host_only:
                if host != c.domain:
                    continue
            elif not domain_match(host, c.domain):
                continue
            if (c.secure and not https) or not path_match(path, c.path):
                continue
            chosen.append(c)
        for key in expired:
            del self._cookies[key]
        if not chosen:
            return None
        chosen.sort(key=lambda c: (-len(c.path), c.created))
        return "; ".join(f"{c.name}={c.value}" for c in chosen)

    def clear(self) -> None:
        self._cookies.clear()
