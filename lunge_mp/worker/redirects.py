"""The fast transport's redirect policy, pure: from a redirect response and the request that got
it, the next request of the chain (or the reason to stop). No I/O: FastTransport sends the hops.

301, 302, 303, 307 and 308 with a `Location` (or `URI`) header are followed, as aiohttp (and
k6) do. Per hop, in aiohttp's order:

* the `Location` is resolved against the current URL (`urljoin`); when `allow_url` is given
  (guardrails.allowedHosts, by worker/guard.py) it is asked first, and a refused target fails
  the request with class "guardrail" (`RedirectRefused`) without connecting to it;
* the redirect is counted: the 10th redirect response fails the request with class "other"
  (aiohttp's `max_redirects=10` raises `TooManyRedirects` there, so both follow at most 9);
* a 3xx without a `Location` is the final response;
* 301, 302 and 303 turn a method other than GET and HEAD into GET without a body (and without
  a user `Content-Length`); 307 and 308 keep the method and the body;
* to another origin (scheme, host, port) `Authorization`, `Proxy-Authorization` and `Cookie`
  are dropped, as aiohttp does, and so is a user `Host` (it named the first host).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urljoin

from lunge_mp.worker.http1 import TooManyRedirects, _header, parse_url
from lunge_mp.worker.transport import RedirectRefused

__all__ = ["MAX_REDIRECTS", "REDIRECTS", "Hop", "location", "next_hop"]

MAX_REDIRECTS = 10                  # aiohttp's default: the 10th redirect response is an error
REDIRECTS = frozenset((301, 302, 303, 307, 308))
_CROSS_ORIGIN_DROPPED = frozenset(("authorization", "proxy-authorization", "cookie", "host"))


class Hop(NamedTuple):
    """The next request of a redirect chain."""
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def location(headers: dict[str, str]) -> str | None:
    """Where a redirect response points: its `Location` header, else its `URI` header."""
    found = _header(headers, "location")
    return found if found is not None else _header(headers, "uri")


def next_hop(status: int, location: str | None, method: str, url: str, headers: dict[str, str],
             body: bytes | None, redirects: int,
             allow_url: Callable[[str], bool] | None = None) -> Hop | None:
    """The request that follows the redirect response `status` (pointing at `location`) to the
    request (`method`, `url`, `headers`, `body`); `redirects` counts the redirect responses of
    the chain, this one included. None: there is no `location`, so this 3xx is the final
    response. Raises ValueError (a `location` that is no URL), RedirectRefused (`allow_url`
    refused the target) or TooManyRedirects (the MAX_REDIRECTS-th redirect response)."""
    target = None
    if location is not None:
        target = urljoin(url, location.strip())     # ValueError: aiohttp's InvalidUrlRedirect
        if allow_url is not None and not allow_url(target):
            raise RedirectRefused(f"redirect to {target} refused: its host is not in "
                                  f"guardrails.allowedHosts")
    if redirects >= MAX_REDIRECTS:
        raise TooManyRedirects(f"{redirects} redirects, the last to {target or url}")
    if target is None:
        return None
    if status <= 303 and method != "GET" and method != "HEAD":
        method = "GET"
        if body is not None or _header(headers, "content-length") is not None:
            body = None
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    try:
        cross = parse_url(url)[:3] != parse_url(target)[:3]
    except ValueError:
        cross = False       # the hop's own send reports the bad URL
    if cross:
        headers = {k: v for k, v in headers.items() if k.lower() not in _CROSS_ORIGIN_DROPPED}
    return Hop(method, target, headers, body)
