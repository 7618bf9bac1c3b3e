"""Secrets never leave the process in clear: every text a run writes goes through a Redactor.

What is secret (`Redactor.for_plan`):
- the value of every variable marked `secret: true`;
- the values of sensitive headers (Authorization, Proxy-Authorization, Cookie, X-Api-Key, ...)
  of the settings and of every request: a value without templates whole and without its scheme
  word (`Bearer abc` → `Bearer abc` and `abc`), a templated one by its literal parts;
- credentials written in URLs (`http://user:pass@host`): the password, and in any text the
  whole `user:pass@` part of a URL (`http://***@host`).

Where it is applied: the results document before any report is written (results.json, HTML,
CSV, JUnit and the history store all read it), the console summary (printed from it), error
lines about the config, the coordinator's traceback on an internal error, and each worker's
stderr and its failure message to the coordinator.

Every rendering of a secret is masked (`renderings`): as it is; percent-encoded (path, query
and form encoding, upper- or lower-case hex: a secret in a query string comes back encoded in
client error messages); its UTF-8 bytes read as latin-1 (a header echoed back); escaped in a Python repr (a check failure shows the body with repr, so
`pa\\ss` appears as `pa\\\\ss`) or a bytes repr; escaped in a JSON string (ASCII-only or not,
`/` as `\\/` or not); and HTML/XML-escaped. A text cut short with `...` or `…` (a check message,
a config error) is also masked where it ends in the first MIN_SECRET or more characters of a
rendering just before the cut, so a truncation cannot show the start of a secret.

A secret shorter than MIN_SECRET characters is only masked where a whole string equals it:
masking every `ab` inside other text would mangle the report and protect nothing.

Config errors and `validate` never print a secret variable's value either: they name it
(`<secret variable tok>`, `Redactor.for_config` and `label_secrets`), so the user knows which
variable landed in the wrong field.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterable, Mapping
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
_CUT_MARKERS = ("...", "\u2026")
_PERCENT = re.compile(r"%[0-9A-F]{2}")
# what the fast transport leaves unencoded in a path and in a query (worker/http1.py)
_URL_SAFE = ("/%:@!$&'()*+,;=~-._", "/%:@!$&'()*+,;=~-._?[]")


def _escapes(text: str) -> set[str]:
    """`text` as it appears inside a Python str or bytes repr (either quote style) and inside
    a JSON string (ASCII-only or not, `/` escaped or not)."""
    raw = text.encode("utf-8", "surrogatepass")
    as_json = json.dumps(text)[1:-1]
    as_json_utf8 = json.dumps(text, ensure_ascii=False)[1:-1]
    return {repr(text)[1:-1], repr(text + "'\"")[1:-4], repr(raw)[2:-1], repr(raw + b"'\"")[2:-4],
            as_json, as_json_utf8, as_json.replace("/", "\\/"), as_json_utf8.replace("/", "\\/")}


def renderings(secret: str) -> set[str]:
    """Every form `secret` can take in a text lunge_mp writes (see the module docstring):
    encoded for a URL, then escaped up to twice (a repr of a JSON body), or HTML-escaped."""
    odd = "surrogatepass"     # a lone surrogate (from a YAML escape) must not stop the masking
    encoded = {secret, quote(secret, safe="", errors=odd), quote(secret, errors=odd),
               quote_plus(secret, errors=odd)}
    encoded |= {quote(secret, safe=safe, errors=odd) for safe in _URL_SAFE}
    encoded |= {_PERCENT.sub(lambda m: m.group().lower(), e) for e in encoded}
    # a header value read back as latin-1 (how HTTP libraries decode header bytes)
    encoded.add(secret.encode("utf-8", odd).decode("latin-1"))
    once = set().union(*(_escapes(e) for e in encoded))
    twice = set().union(*(_escapes(e) for e in once))
    marked_up = {m for e in encoded for m in (html.escape(e), html.escape(e, quote=False),
                                              html.escape(e, quote=False).replace('"', "&quot;"))}
    return encoded | once | twice | marked_up


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
    """Masks known secret strings and URL credentials in text and in whole documents.

    `secrets` are replaced by MASK; `labels` maps a secret to its own replacement (config
    errors name the variable: `<secret variable tok>`)."""

    def __init__(self, secrets: Iterable[str] = (), labels: Mapping[str, str] | None = None) -> None:
        replacement: dict[str, str] = {}
        named = {value: label for value, label in (labels or {}).items() if value}
        for secret in sorted({s for s in secrets if s} | set(named), key=len):
            for form in renderings(secret):
                replacement.setdefault(form, named.get(secret, MASK))
        self._replacement = replacement
        self.long = sorted((s for s in replacement if len(s) >= MIN_SECRET), key=len, reverse=True)
        self.short = frozenset(s for s in replacement if len(s) < MIN_SECRET)
        self._re = re.compile("|".join(re.escape(s) for s in self.long)) if self.long else None

    def __bool__(self) -> bool:
        return True   # URL credentials are masked even when no secret is known

    @classmethod
    def for_plan(cls, plan: Plan | None, label: bool = False) -> Redactor:
        """The plan's secrets (module docstring); `label`: secret variables by their name
        (`<secret variable tok>`, for config messages) rather than MASK."""
        if plan is None:
            return cls()
        variables = {name: plan.variables[name] for name in plan.secrets if name in plan.variables}
        secrets = [] if label else list(variables.values())
        header_sets = [plan.settings.headers] + [r.headers for s in plan.scenarios for r in s.requests]
        for headers in header_sets:
            for name, value in headers.items():
                if name.lower() in SENSITIVE_HEADERS:
                    secrets += _header_secrets(value)
        urls = [plan.settings.base_url] + [r.url for s in plan.scenarios for r in s.requests]
        secrets += [p for p in (_url_password(u) for u in urls if "@" in u) if p]
        if plan.settings.redis is not None and plan.settings.redis.password:
            secrets.append(plan.settings.redis.password)     # settings.redis.password
        return cls(secrets, _labels(variables) if label else None)

    @classmethod
    def for_config(cls, variables: Mapping[str, str], secret_names: Iterable[str]) -> Redactor:
        """Names each secret variable's value in config messages (before there is a plan)."""
        return cls((), _labels({n: variables[n] for n in secret_names if n in variables}))

    def text(self, text: str) -> str:
        if not text:
            return text
        if text in self.short:
            return self._replacement[text]
        if self._re is not None:
            text = self._re.sub(self._replace, text)
            if "..." in text or "\u2026" in text:
                text = self._mask_cut(text)
        return mask_url_credentials(text)

    def _replace(self, m: re.Match[str]) -> str:
        return self._replacement[m.group()]

    def _mask_cut(self, text: str) -> str:
        """Mask the start of a rendering that a cut (`...`, `…`) left just before it."""
        for marker in _CUT_MARKERS:
            if marker not in text:
                continue
            pieces = text.split(marker)
            for i, head in enumerate(pieces[:-1]):
                for form in self.long:
                    cut = next((k for k in range(min(len(form) - 1, len(head)), MIN_SECRET - 1, -1)
                                if head.endswith(form[:k])), 0)
                    if cut:
                        pieces[i] = head[:-cut] + self._replacement[form]
                        break
            text = marker.join(pieces)
        return text

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


def _labels(variables: Mapping[str, str]) -> dict[str, str]:
    return {value: f"<secret variable {name}>" for name, value in variables.items()}


def label_secrets(lines: Iterable[str], variables: Mapping[str, str], secret_names: Iterable[str]) -> list[str]:
    """Config error lines with each secret variable's value replaced by its name."""
    redactor = Redactor.for_config(variables, secret_names)
    return [redactor.text(line) for line in lines]


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
