"""Which values of a config document are secret, and the document with them masked. Pure.

A saved profile keeps its config readable and its secrets apart (encrypted by
profile_crypto.py). `split(doc)` returns the masked document and path → clear value;
`restore(masked, values)` puts them back. A path is a tuple of keys and list indices, shown
as `scenarios.api.requests[0].headers.Authorization` (`field_name`), as config errors are.

Secret, by the rules every output already masks with (lunge_mp/redact.py):
- the `value` of a variable marked `secret: true`;
- the value of a sensitive header (Authorization, Cookie, X-Api-Key, ... as
  `redact.SENSITIVE_HEADERS`) in any `headers` mapping, unless it is only templates
  (`Bearer {{token}}` holds no secret: the token lives in a variable);
- a value under a key named `password` (e.g. a Redis connection's);
- a URL with a password in it (`http://user:pass@host/`), the whole string;
- then any other string that contains one of those secrets (at least MIN_SECRET long), so a
  token pasted into a body as well is not left behind in clear.
The masked form keeps what can be shown: `Bearer ***`, `http://***@host/`, `***`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

# _header_secrets: the one rule for which parts of a sensitive header value are secret
from lunge_mp.redact import MASK, MIN_SECRET, SENSITIVE_HEADERS, Redactor, _header_secrets

Path = tuple[str | int, ...]
PASSWORD_KEYS = frozenset(("password", "passwd"))


def field_name(path: Path) -> str:
    """("scenarios", "api", "requests", 0, "url") → `scenarios.api.requests[0].url`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _leaves(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every scalar in the document with its path (mapping keys that are not strings skipped)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(key, str):
                yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    else:
        yield path, node


def _url_password(text: str) -> str | None:
    if "://" not in text or "@" not in text:
        return None
    try:
        password = urlsplit(text.strip()).password
    except ValueError:
        return None
    return unquote(password) if password else None


def find(doc: Any) -> tuple[dict[Path, Any], list[str]]:
    """(path → clear value of every secret field, the secret strings to mask them by)."""
    found: dict[Path, Any] = {}
    literals: list[str] = []
    variables = doc.get("variables") if isinstance(doc, Mapping) else None
    if isinstance(variables, Mapping):
        for name, var in variables.items():
            if isinstance(name, str) and isinstance(var, Mapping) and var.get("secret") is True \
                    and "value" in var and var["value"] not in (None, ""):
                found[("variables", name, "value")] = var["value"]
                literals.append(str(var["value"]))
    for path, value in _leaves(doc):
        if not isinstance(value, str) or not value or path in found:
            continue
        key = path[-1] if path else None
        parent = path[-2] if len(path) > 1 else None
        if parent == "headers" and isinstance(key, str) and key.lower() in SENSITIVE_HEADERS:
            parts = _header_secrets(value)
            if parts:
                found[path] = value
                literals += parts
        elif isinstance(key, str) and key.lower() in PASSWORD_KEYS:
            found[path] = value
            literals.append(value)
        elif (password := _url_password(value)) is not None:
            found[path] = value
            literals.append(password)
    long = [s for s in literals if len(s) >= MIN_SECRET]
    if long:
        for path, value in _leaves(doc):
            if path not in found and isinstance(value, str) and any(s in value for s in long):
                found[path] = value
    return found, literals


def split(doc: Any) -> tuple[Any, dict[Path, Any]]:
    """(the document with every secret field masked, path → clear value)."""
    found, literals = find(doc)
    if not found:
        return doc, {}
    redactor = Redactor(literals)
    masked = doc
    for path, value in found.items():
        shown = redactor.text(value) if isinstance(value, str) else MASK
        masked = set_at(masked, path, shown if shown != value else MASK)
    return masked, found


def restore(masked: Any, values: Mapping[Path, Any]) -> Any:
    """The document with each path set back to its clear value."""
    doc = masked
    for path, value in values.items():
        doc = set_at(doc, path, value)
    return doc


def get_at(doc: Any, path: Path, default: Any = None) -> Any:
    node = doc
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return default
    return node


def set_at(doc: Any, path: Path, value: Any) -> Any:
    """A copy of `doc` with the value at `path` replaced (only the nodes on the path are copied)."""
    def put(node: Any, depth: int) -> Any:
        if depth == len(path):
            return value
        head = path[depth]
        if isinstance(node, Mapping):
            return {**node, head: put(node.get(head), depth + 1)}
        if isinstance(node, list) and isinstance(head, int) and 0 <= head < len(node):
            out = list(node)
            out[head] = put(node[head], depth + 1)
            return out
        raise KeyError(f"{field_name(path)}: no such field in the config")
    return put(doc, 0)


def encode_value(value: Any) -> bytes:
    """A secret's clear value as bytes to encrypt (JSON keeps a number a number)."""
    return json.dumps(value, separators=(",", ":")).encode()


def decode_value(data: bytes) -> Any:
    return json.loads(data)


def path_from_json(raw: Any) -> Path:
    """A path read back from stored JSON; ValueError if it is not a list of keys and indices."""
    if not isinstance(raw, list) or not raw or not all(
            isinstance(p, str) or (isinstance(p, int) and not isinstance(p, bool)) for p in raw):
        raise ValueError(f"not a field path: {raw!r}")
    return tuple(raw)
