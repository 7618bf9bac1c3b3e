"""Secrets never leave the process in clear: every text a run writes goes through a Redactor.

What is secret (`Redactor.for_plan`):
- the value of every variable marked `secret: true`, with its URL-encoded forms (a secret in
  a query string comes back percent-encoded in client error messages);
- the values of sensitive headers (Authorization, Proxy-Authorization, Cookie, X-Api-Key, ...)
  of the settings and of every request: a value without templates whole and without its scheme
  word (`Bearer abc` → `Bearer abc` and `abc`), a templated one by its literal parts;
- credentials written in URLs (`http://user:pass@host`): the password, and in any text the
  whole `user:pass@` part of a URL (`http://***@host`).

Where it is applied: the results document before any report is written (results.json, HTML,
CSV, JUnit and the history store all read it), the console summary (printed from it), error
lines about the config, the coordinator's traceback on an internal error, and each worker's
stderr and its failure message to the coordinator.

A secret shorter than MIN_SECRET characters is only masked where a whole string equals it:
masking every `ab` inside other text would mangle the report and protect nothing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote, quote_plus, unquote, urlsplit

if TYPE_CHECKING:
    from lunge_mp.plan import Plan

MASK = "***"
MIN_SECRET = 4
SENSITIVE_HEADERS = frozenset(("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                               "api-key", "x-auth-token", "x-access-token", "x-csrf-token", "x-amz-security-token"))
_AUTH_SCHEMES = frozenset(("bearer", "basic", "token", "digest", "negotiate", "apikey", "key"))
# scheme://userinfo@  — userinfo is everything up to '@' that cannot be a path, query or host end
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#@\"'<>]+)@")
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
#: results keys whose values are encoded data, never free text (masking could corrupt them)
OPAQUE_KEYS = frozenset(("histograms",))


def mask_url_credentials(text: str) -> str:
    """`http://user:pass@host/` → `http://***@host/` anywhere in `text`."""
    if "@" not in text:
        return text
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)


def _url_password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


class Redactor:
    """Masks known secret strings and URL credentials in text and in whole documents."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s for s in secrets if s}
        expanded = set()
        for s in values:
            expanded |= {s, quote(s, safe=""), quote_plus(s), quote(s)}
        self.long = sorted((s for s in expanded if len(s) >= MIN_SECRET), key=len, reverse=True)
        self.short = frozenset(s for s in expanded if len(s) < MIN_SECRET)
        self._re = re.compile("|".join(re.escape(s) for s in self.long)) if self.long else None

    def __bool__(self) -> bool:
        return True   # URL credentials are masked even when no secret is known

    @classmethod
    def for_plan(cls, plan: Plan | None) -> Redactor:
        if plan is None:
            return cls()
        secrets = [plan.variables[name] for name in plan.secrets if name in plan.variables]
        header_sets = [plan.settings.headers] + [r.headers for s in plan.scenarios for r in s.requests]
        for headers in header_sets:
            for name, value in headers.items():
                if name.lower() in SENSITIVE_HEADERS:
                    secrets += _header_secrets(value)
        urls = [plan.settings.base_url] + [r.url for s in plan.scenarios for r in s.requests]
        secrets += [p for p in (_url_password(u) for u in urls if "@" in u) if p]
        if plan.settings.redis is not None and plan.settings.redis.password:
            secrets.append(plan.settings.redis.password)     # settings.redis.password
        return cls(secrets)

    def text(self, text: str) -> str:
        if not text:
            return text
        if text in self.short:
            return MASK
        if self._re is not None:
            text = self._re.sub(MASK, text)
        return mask_url_credentials(text)

    def doc(self, obj: Any, opaque: bool = False) -> Any:
        """A copy of a JSON-like document with every string redacted, keys included. Values
        under OPAQUE_KEYS (encoded histograms) are kept as they are; only their keys are redacted."""
        if isinstance(obj, str):
            return obj if opaque else self.text(obj)
        if isinstance(obj, dict):
            return {(self.text(k) if isinstance(k, str) else k): self.doc(v, opaque or k in OPAQUE_KEYS)
                    for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.doc(v, opaque) for v in obj]
        return obj


def _header_secrets(value: str) -> list[str]:
    """The parts of a sensitive header value that are secret (see the module docstring)."""
    out = []
    for literal in _PLACEHOLDER.split(value):
        literal = literal.strip()
        if not literal:
            continue
        out.append(literal)
        words = literal.split(None, 1)
        if len(words) == 2 and words[0].lower() in _AUTH_SCHEMES:
            out.append(words[1].strip())
        elif len(words) == 1 and words[0].lower() in _AUTH_SCHEMES:
            out.pop()      # just "Bearer " before a placeholder: not a secret
    return out


class RedactingStream(io.TextIOBase):
    """A text stream that redacts each write before passing it on (line-buffered)."""

    def __init__(self, inner: TextIO, redactor: Redactor) -> None:
        self.inner = inner
        self.redactor = redactor
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self._pending += s
        if "\n" in self._pending:
            head, _, self._pending = self._pending.rpartition("\n")
            self.inner.write(self.redactor.text(head + "\n"))
        return len(s)

    def flush(self) -> None:
        if self._pending:
            self.inner.write(self.redactor.text(self._pending))
            self._pending = ""
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()
