"""`--http-debug[=full]`: each worker prints its first exchanges to stderr, as k6 does.

`lunge-mp run` and `perf` set `settings.http_debug` in the plan ("headers" or "full"); a worker
whose plan has it wraps the send of each HTTP request of its scenarios (`attach`), so a run
without the flag keeps its hot path exactly as it is. Once the worker has printed its
`LIMIT` exchanges, the wrappers are taken off again and later requests cost nothing more.

What is printed, per exchange: which worker, scenario and request; the request line and
headers (those lunge_mp sends, plus the Host and Content-Length the transport adds; aiohttp
adds its own defaults, such as Accept, which are not shown); the final response's status line
and headers (after redirects, which are followed), or the transport error. `full` adds both
bodies, each cut at BODY_CAP bytes. Redis requests are not shown.

Nothing secret is printed: the values of sensitive headers (Authorization, Cookie, Set-Cookie,
X-Api-Key ...: redact.SENSITIVE_HEADERS) are masked whatever they hold (an Authorization keeps
its scheme word, a cookie its name), and the whole text goes through the plan's Redactor (secret
variables, URL credentials) before control characters are escaped (textsafe.py).
"""

from __future__ import annotations

import http
import sys
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from lunge_mp.redact import _AUTH_SCHEMES, MASK, SENSITIVE_HEADERS, Redactor
from lunge_mp.textsafe import escape
from lunge_mp.worker.transport import Outcome, Prepared

if TYPE_CHECKING:
    from lunge_mp.plan import Plan

MODES = ("headers", "full")
LIMIT = 10              # exchanges printed per worker process
BODY_CAP = 2048         # bytes of each body shown with `full`
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))   # sent with Content-Length: 0 when empty


def masked_header(name: str, value: str) -> str:
    """A sensitive header's value with the secret part masked (others as they are)."""
    lname = name.lower()
    if lname not in SENSITIVE_HEADERS:
        return value
    if lname == "cookie":
        return "; ".join(f"{pair.split('=', 1)[0].strip()}={MASK}" if "=" in pair else MASK
                         for pair in value.split(";"))
    if lname == "set-cookie":
        first, sep, attributes = value.partition(";")
        name_part = first.split("=", 1)[0].strip() if "=" in first else ""
        return f"{name_part}={MASK}" + (sep + attributes if sep else "") if name_part else MASK
    words = value.split(None, 1)
    if len(words) == 2 and words[0].lower() in _AUTH_SCHEMES:
        return f"{words[0]} {MASK}"
    return MASK


def _body(data: bytes) -> str:
    """A body as text, cut at BODY_CAP bytes (the cut is marked right after the kept text, so
    the Redactor also masks the start of a secret the cut left)."""
    shown = data[:BODY_CAP].decode("utf-8", "replace").replace("\r\n", "\n")
    if len(data) > BODY_CAP:
        shown += f"… ({len(data) - BODY_CAP} more bytes not shown)"
    return shown


def _request_lines(prepared: Prepared, full: bool) -> list[str]:
    parts = urlsplit(prepared.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{prepared.method} {target} HTTP/1.1"]
    given = {k.lower() for k in prepared.headers}
    if "host" not in given:
        lines.append(f"Host: {parts.netloc.rpartition('@')[2]}")
    lines += [f"{k}: {masked_header(k, v)}" for k, v in prepared.headers.items()]
    body = prepared.body
    if "content-length" not in given and (body is not None or prepared.method in _BODY_METHODS):
        lines.append(f"Content-Length: {len(body) if body else 0}")
    if full and body:
        lines += ["", _body(body)]
    return lines


def _response_lines(outcome: Outcome, full: bool) -> list[str]:
    if outcome.error_class is not None:
        return [f"(no response: {outcome.error_class}: {outcome.error or ''})"]
    try:
        reason = http.HTTPStatus(outcome.status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {outcome.status} {reason}".rstrip()]
    cookies = list(outcome.set_cookies)
    for name, value in outcome.headers.items():
        if name.lower() == "set-cookie" and cookies:    # every Set-Cookie, once each
            lines += [f"{name}: {masked_header(name, c)}" for c in cookies]
            cookies = []
        elif name.lower() != "set-cookie" or not outcome.set_cookies:
            lines.append(f"{name}: {masked_header(name, value)}")
    if full and outcome.body:
        lines += ["", _body(outcome.body)]
    return lines


def format_exchange(title: str, prepared: Prepared, outcome: Outcome, full: bool) -> str:
    """The printed block for one exchange (before redaction and escaping)."""
    return "\n".join([f"--- http-debug: {title} ---", "Request:", *_request_lines(prepared, full),
                      "", "Response:", *_response_lines(outcome, full), "", ""])


class DebugPrinter:
    """One per worker process: counts what it printed and takes the wrappers off at LIMIT."""

    def __init__(self, plan: Plan, worker: int, out: TextIO | None = None) -> None:
        self.plan = plan
        self.full = plan.settings.http_debug == "full"
        self.worker = worker
        self.redactor = Redactor.for_plan(plan)
        self.out = out
        self.printed = 0
        self._restore: list[Callable[[], None]] = []

    def show(self, scenario: str, request: str, prepared: Prepared, outcome: Outcome) -> None:
        if self.printed >= LIMIT:
            return
        self.printed += 1
        last = self.printed == LIMIT
        title = (f"worker {self.worker} · scenario {scenario} · request {request} · "
                 f"{self.printed} of at most {LIMIT}")
        text = format_exchange(title, prepared, outcome, self.full)
        if last:
            text += f"--- http-debug: worker {self.worker} has shown {LIMIT} exchanges; no more ---\n"
        out = self.out or sys.stderr
        try:
            out.write(escape(self.redactor.text(text), keep="\n"))
            out.flush()
        except (OSError, ValueError):       # stderr closed (`| head`): the run goes on unprinted
            last = True
        if last:
            for restore in self._restore:
                restore()
            self._restore.clear()

    def wrap(self, holder: object, scenario: str, request: str) -> None:
        """Route `holder.send` through show() until LIMIT exchanges are printed."""
        send: Callable[[Prepared], Awaitable[Outcome]] = holder.send   # type: ignore[attr-defined]

        async def debug_send(prepared: Prepared) -> Outcome:
            outcome = await send(prepared)
            self.show(scenario, request, prepared, outcome)
            return outcome

        holder.send = debug_send                                       # type: ignore[attr-defined]
        self._restore.append(lambda: setattr(holder, "send", send))


# one per worker (a worker has one Recorder) and plan
_PRINTERS: weakref.WeakKeyDictionary[object, DebugPrinter] = weakref.WeakKeyDictionary()


def attach(requests: list, scenario: str, recorder: object, plan: Plan, worker: int) -> None:
    """Wrap a scenario's HTTP requests (worker/iteration.CompiledRequest) with its worker's
    printer (one per Recorder)."""
    printer = _PRINTERS.get(recorder)
    if printer is None or printer.plan is not plan:
        printer = _PRINTERS[recorder] = DebugPrinter(plan, worker)
    for req in requests:
        printer.wrap(req, scenario, req.spec.name)


def with_http_debug(plan: Plan, mode: str) -> Plan:
    """The plan with `settings.http_debug` set (the CLI's --http-debug), for the workers."""
    import msgspec

    return msgspec.structs.replace(plan, settings=msgspec.structs.replace(plan.settings, http_debug=mode))
