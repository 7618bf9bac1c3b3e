"""What may go into a request's head, so no config or run-time value can add a header or a request.

A CR or LF in a header value or in the URL would end the line it is on (`X-A: v\\r\\nInjected: 1`
reaches the server as two headers: CRLF injection); a NUL or another control character is
refused by servers or cut by some. The rules (RFC 9110 §5.1, §5.5, RFC 9112 §3):

- a method and a header name are tokens: letters, digits and !#$%&'*+-.^_`|~;
- a header value has no control character but HTAB (no CR, LF, NUL, DEL);
- a URL has no control character at all (a space is percent-encoded by both transports, so it
  cannot split the request line; CR, LF and TAB would be silently dropped by URL parsing).

Where they are applied:
- static parts of the config (names, values, URLs as written, `${VAR}` already expanded): at
  load, exit 104 naming the field (config/http_requests.py, config/validate.py);
- templates whose names are all variables: rendered with the variables before the run
  (`template_value_problems`, called with the other whole-plan checks), 104 naming the field
  and the variable, never its value;
- values known only at run time (data rows, extracted values, built-ins): after each render,
  on the substituted header values and URL only (`unsafe_text`); the request is not sent and
  counts as a failed request of class `template` (worker/iteration.py);
- and as the last line of defence, the fast transport's head encoder refuses a head with a
  CR, LF or NUL where it does not belong (worker/http1.py). aiohttp refuses them itself.

Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from lunge_mp.scenario.template import Template

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")     # every CTL but HTAB
_BAD_URL = re.compile(r"[\x00-\x1f\x7f]")

#: the run-time check: a match means the text must not go into a request head
unsafe_value = _BAD_VALUE.search
unsafe_url = _BAD_URL.search

TOKEN_CHARS = "letters, digits and !#$%&'*+-.^_`|~"


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a header name, or None."""
    if TOKEN.match(name):
        return None
    return (f"'{_visible(name)}' is not a valid header name: use only {TOKEN_CHARS} "
            f"(no spaces, colons or control characters)")


def method_problem(method: str) -> str | None:
    if TOKEN.match(method):
        return None
    return f"'{_visible(method)}' is not a valid HTTP method: use only {TOKEN_CHARS}"


def value_problem(value: str) -> str | None:
    """Why `value` cannot be a header value, or None. Never shows the value (it may be secret)."""
    m = _BAD_VALUE.search(value)
    if m is None:
        return None
    return (f"contains {_char_name(m.group())} at character {m.start() + 1}: a header value may "
            f"not hold CR, LF, NUL or other control characters (it could add headers)")


def url_text_problem(url: str) -> str | None:
    """Why `url` cannot go into a request line, or None. Never shows the URL."""
    m = _BAD_URL.search(url)
    if m is None:
        return None
    return (f"contains {_char_name(m.group())} at character {m.start() + 1}: a URL may not hold "
            f"control characters (CR, LF, TAB, NUL ...); percent-encode them (%0D, %0A, %09, %00)")


def headers_problems(headers: Mapping[str, str], path: str) -> list[tuple[str, str]]:
    """(field path, problem) for each header of a config whose name or value is unsafe."""
    out = []
    for name, value in headers.items():
        problem = name_problem(name)
        if problem:
            out.append((path, problem))
            continue
        problem = value_problem(value)
        if problem:
            out.append((f"{path}.{name}", problem))
    return out


def template_value_problems(parts: Iterable[tuple[str, str, str]], variables: Mapping[str, str],
                            secrets: Iterable[str] = ()) -> list[str]:
    """For (field path, kind "header" or "url", template text): each template whose every
    name is a variable, rendered with the variables before the run and checked. The problem
    names the field and the variables used, never a value."""
    secret = set(secrets)
    out = []
    for where, kind, text in parts:
        template = Template(text)
        names = template.names()
        if template.static or not all(n in variables for n in names):
            continue                 # built-ins, data columns and extractions: checked at run time
        rendered = template.render(variables)
        problem = url_text_problem(rendered) if kind == "url" else value_problem(rendered)
        if problem:
            used = ", ".join(f"{'secret ' if n in secret else ''}variable {n}" for n in dict.fromkeys(names))
            out.append(f"{where}: after substituting {used}: {problem}")
    return out


def _char_name(ch: str) -> str:
    return {"\r": "a CR", "\n": "an LF", "\x00": "a NUL", "\t": "a TAB", "\x7f": "a DEL"}.get(
        ch, f"the control character U+{ord(ch):04X}")


def _visible(text: str) -> str:
    """`text` with control characters shown as escapes, shortened (it is printed in an error)."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= 40 else shown[:37] + "..."
