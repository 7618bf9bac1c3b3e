"""Who may call the API: bearer tokens with roles, compared in constant time.

Roles, each including the ones before it:
  viewer    read everything and watch the stream
  operator  start, stop, pause, resume and scale tests (and run a saved profile)
  admin     create, change and delete saved profiles too

Token sources: `--token-file PATH` or `$LUNGE_MP_API_TOKEN` (one token, role admin, name
`env`). A token file is either one token alone (role admin, name `default`) or YAML/JSON:
    tokens:
      - {name: ci, role: operator, token: "..."}
      - {name: grafana, role: viewer, token: "..."}
A server with no token (only possible on a loopback address) treats every caller as
`local` with role admin. Tokens are never logged or echoed: the audit log gets the name.

The dashboard page and its static files carry no data and are served to anyone (a browser
cannot add a header to a page load); everything they fetch needs the token. Browsers cannot
set headers on a WebSocket either, so the stream also takes the token as an offered
subprotocol `bearer.<token>` beside `lunge-mp` (the one the server picks, so the token is not
echoed); non-browser clients use the header.
"""

from __future__ import annotations

import hmac
import os
import stat
from dataclasses import dataclass

import yaml
from aiohttp import web

from lunge_mp.api import keys

ROLES = ("viewer", "operator", "admin")
ENV_VAR = "LUNGE_MP_API_TOKEN"
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = ("/", "/favicon.ico")
PROFILES = "/api/v1/load-test/profiles"


@dataclass(frozen=True)
class Identity:
    name: str
    role: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


LOCAL = Identity("local", "admin")


class TokenError(Exception):
    """A token file that cannot be used; the message names the problem (never the token)."""


@dataclass(frozen=True)
class _Entry:
    token: bytes
    identity: Identity


class Tokens:
    def __init__(self, entries: list[tuple[str, str, str]]) -> None:
        self._entries = [_Entry(t.encode(), Identity(n, r)) for n, r, t in entries]

    def __bool__(self) -> bool:
        return bool(self._entries)

    def lookup(self, presented: str) -> Identity | None:
        """The identity of a token; every entry is compared (in constant time) whatever matches."""
        given = presented.encode()
        found = None
        for e in self._entries:
            if hmac.compare_digest(given, e.token) and found is None:
                found = e.identity
        return found

    @classmethod
    def load(cls, path: str | None, environ=os.environ) -> Tokens:
        entries: list[tuple[str, str, str]] = []
        if environ.get(ENV_VAR):
            entries.append(("env", "admin", environ[ENV_VAR].strip()))
        if path:
            entries += _read_file(path)
        return cls(entries)


def _read_file(path: str) -> list[tuple[str, str, str]]:
    try:
        st = os.stat(path)
        text = open(path, encoding="utf-8").read()
    except OSError as exc:
        raise TokenError(f"cannot read the token file {path}: {exc.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenError(f"the token file {path} may be read by others (mode {stat.S_IMODE(st.st_mode):o}); "
                         f"chmod 600 it")
    stripped = text.strip()
    if stripped and "\n" not in stripped and ":" not in stripped and "{" not in stripped:
        return [("default", "admin", _check_token(stripped, "the token"))]
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        raise TokenError(f"the token file {path} is neither one token nor YAML/JSON with `tokens:`") from None
    items = doc.get("tokens") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise TokenError(f"the token file {path}: `tokens` must be a list of {{name, role, token}}")
    out, names = [], set()
    for i, item in enumerate(items):
        where = f"{path}: tokens[{i}]"
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("name", "role", "token")):
            raise TokenError(f"{where}: needs name, role and token (strings)")
        if item["role"] not in ROLES:
            raise TokenError(f"{where}.role: '{item['role']}' is not one of {', '.join(ROLES)}")
        if item["name"] in names:
            raise TokenError(f"{where}.name: '{item['name']}' is used twice")
        names.add(item["name"])
        out.append((item["name"], item["role"], _check_token(item["token"], f"{where}.token")))
    return out


def _check_token(token: str, where: str) -> str:
    token = token.strip()
    if len(token) < 16:
        raise TokenError(f"{where}: a token needs at least 16 characters")
    return token


def required_role(method: str, path: str) -> str:
    """The least role an action needs."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return "viewer"
    if path.startswith(PROFILES) and not path.endswith("/run"):
        return "admin"
    return "operator"


def _presented(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.headers.get("Upgrade", "").lower() == "websocket":
        for proto in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
            proto = proto.strip()
            if proto.startswith("bearer."):
                return proto[len("bearer."):]
    return None


def _error(status: int, text: str, **headers: str) -> web.Response:
    return web.json_response({"error": text}, status=status, headers=headers or None)


def auth_middleware(tokens: Tokens):
    @web.middleware
    async def middleware(request: web.Request, handler):
        path = request.path
        if request.method == "GET" and (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)):
            request[keys.IDENTITY] = LOCAL if not tokens else Identity("anonymous", "viewer")
            return await handler(request)
        if not tokens:
            identity = LOCAL
        else:
            presented = _presented(request)
            identity = tokens.lookup(presented) if presented else None
            if identity is None:
                return _error(401, "a valid token is required: Authorization: Bearer <token>",
                              **{"WWW-Authenticate": 'Bearer realm="lunge-mp"'})
        need = required_role(request.method, path)
        if not identity.can(need):
            return _error(403, f"token '{identity.name}' has role {identity.role}; this needs {need}")
        request[keys.IDENTITY] = identity
        return await handler(request)
    return middleware
