"""`guardrails.allowedHosts`: which hosts a run may connect to. Pure: names are never resolved.

A pattern is one of
    *                       any host
    api.example.com         that host name (case-insensitive, a trailing dot ignored)
    *.staging.example.com   any host name ending in `.staging.example.com` (any depth),
                            not `staging.example.com` itself
    127.0.0.1, ::1          that address
    10.0.0.0/8, fd00::/8    any address in the network (addresses only, never names)
and may end in `:port` (`[::1]:8080` for IPv6) to allow only that port. Host names are
compared as written: `localhost` does not match `127.0.0.1`.

An empty list allows every host. The plan's URLs are checked before the run (every host the
config names, with variables filled in), a URL whose host is only known at run time (an
extracted value) is checked per request by the worker, and every redirect is checked
before it is followed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$")
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _split_port(pattern: str) -> tuple[str, int | None, str | None]:
    """(host part, port or None, problem or None)."""
    if pattern.startswith("["):
        end = pattern.find("]")
        if end < 0:
            return pattern, None, "an IPv6 address in brackets needs the closing ']'"
        host, rest = pattern[1:end], pattern[end + 1:]
        if not rest:
            return host, None, None
        if not rest.startswith(":"):
            return host, None, f"unexpected '{rest}' after ']'"
        port_text = rest[1:]
    elif pattern.count(":") == 1:
        host, port_text = pattern.split(":")
    else:
        return pattern, None, None          # no port, or a bare IPv6 address / network
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return host, None, f"port '{port_text}' must be a number from 1 to 65535"
    return host, int(port_text), None


class HostPattern:
    __slots__ = ("text", "any", "suffix", "name", "network", "port")

    def __init__(self, text: str) -> None:
        problem = host_pattern_problem(text)
        if problem:
            raise ValueError(problem)
        self.text = text
        host, self.port, _ = _split_port(text.strip())
        host = host.lower().rstrip(".")
        self.any = host == "*"
        self.suffix = host[1:] if host.startswith("*.") else None
        self.network = None
        self.name = None
        if not self.any and self.suffix is None:
            try:
                self.network = ipaddress.ip_network(host, strict=False)
            except ValueError:
                self.name = host

    def matches(self, host: str, port: int | None) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.any:
            return True
        if self.suffix is not None:
            return host.endswith(self.suffix)
        if self.network is not None:
            try:
                return ipaddress.ip_address(host) in self.network
            except ValueError:
                return False
        return host == self.name


def host_pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is not a valid allowedHosts entry, or None."""
    host, _, problem = _split_port(pattern.strip())
    if problem:
        return problem
    host = host.rstrip(".")
    if not host:
        return "must name a host, e.g. '127.0.0.1' or '*.staging.example.com'"
    if host == "*":
        return None
    try:
        ipaddress.ip_network(host, strict=False)
        return None
    except ValueError:
        pass
    if "/" in host:
        return f"'{host}' is not a network; write it as 10.0.0.0/8"
    labels = host.split(".")
    if labels[0] == "*":
        labels = labels[1:]
        if not labels:
            return "a wildcard needs a domain after it, e.g. '*.staging.example.com'"
    for label in labels:
        if "*" in label:
            return (f"'*' is only allowed as the whole first label ('*.example.com'), "
                    f"not inside '{label}'")
        if not _LABEL.match(label):
            return f"'{host}' is not a valid host name"
    return None


def url_host(url: str) -> tuple[str, int | None] | None:
    """(lower-case host, port) of an absolute URL, the scheme's port if none is given; None if
    the URL has no host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    return host.rstrip("."), port if port is not None else DEFAULT_PORTS.get(parts.scheme.lower())


class HostMatcher:
    """The allowedHosts list, compiled; `allows_url` caches decisions per URL authority."""

    CACHE_MAX = 4096

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [HostPattern(p) for p in patterns]
        self._cache: dict[str, bool] = {}

    @property
    def open(self) -> bool:
        """Every host is allowed (an empty list, or `*`)."""
        return not self.patterns or any(p.any and p.port is None for p in self.patterns)

    def allows(self, host: str, port: int | None) -> bool:
        if self.open:
            return True
        host = host.lower().rstrip(".")
        return any(p.matches(host, port) for p in self.patterns)

    def allows_url(self, url: str) -> bool:
        """Whether a request to `url` may be sent (a URL without a host is left to the client)."""
        if self.open:
            return True
        scheme_end = url.find("://")
        key = url[:url.find("/", scheme_end + 3)] if scheme_end >= 0 and url.find("/", scheme_end + 3) > 0 \
            else url.split("?", 1)[0]
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        found = url_host(url)
        ok = True if found is None else self.allows(*found)
        if len(self._cache) >= self.CACHE_MAX:
            self._cache.clear()
        self._cache[key] = ok
        return ok

    def describe(self) -> str:
        return ", ".join(p.text for p in self.patterns) or "any host"
