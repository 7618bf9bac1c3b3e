"""A `redis:` request compiled once, rendered per request into one RESP command. Pure (sans-IO).

The argument list (plan.RedisCommand says which parts each command takes):

    LPUSH | RPUSH   key payload
    XADD            key [MAXLEN ~|= n] * field payload        (`*`: Redis picks the entry id)
    ZADD            key score payload   score = unix ms now + delay, or the `score` template
    anything else   [key] args… [payload]

Static arguments are RESP-encoded at compile time; per request only the templated ones are
rendered (a JSON payload's values JSON-escaped, see bodies.py) and framed as bulk
strings (`$<len>\\r\\n<bytes>\\r\\n`), so no value can break the framing: Redis reads every
argument as exactly the bytes given. The `{{timestamp}}`-like score of a delayed job reads the
wall clock when rendered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from lunge_mp.plan import RedisCommand, RequestSpec
from lunge_mp.scenario.bodies import JsonTemplate
from lunge_mp.scenario.template import Template

Arg = bytes | Callable[[Mapping[str, object]], str | bytes]
REPLY_STATUS = frozenset((0,))      # the Outcome.status of every Redis reply (worker/redis_transport.py)


class RedisPrepared:
    """One command ready for the wire: its RESP bytes, and what error messages name (the
    key as configured)."""

    __slots__ = ("wire", "command", "key", "timeout")

    def __init__(self, wire: bytes, command: str, key: str, timeout: float) -> None:
        self.wire = wire
        self.command = command
        self.key = key
        self.timeout = timeout


def bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def encode(args: list[bytes]) -> bytes:
    """A RESP array of bulk strings: what redis-cli and every client send."""
    return b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)


def _delay_score(delay_s: float) -> Callable[[Mapping[str, object]], str]:
    delay_ms = round(delay_s * 1000)
    return lambda ctx: str(time.time_ns() // 1_000_000 + delay_ms)


class CompiledRedis:
    """The compiled command of one request: `prepare(ctx)` → RedisPrepared (TemplateError
    when a placeholder has no value)."""

    __slots__ = ("spec", "command", "templates_", "_args", "_head", "static", "timeout")

    def __init__(self, spec: RedisCommand, timeout: float) -> None:
        self.spec = spec
        self.command = spec.command
        templates: list[Template] = []
        raw: list[str | Template | JsonTemplate | Callable[[Mapping[str, object]], str]] = [spec.command]

        def add(text: str, payload: bool = False) -> None:
            # an object payload is JSON whose template values are JSON-escaped (the HTTP body's
            # JsonTemplate, scenario/bodies.py); a string one is sent as written
            t = JsonTemplate.from_text(text) if payload and spec.payload_json else Template(text)
            templates.extend(t.templates() if isinstance(t, JsonTemplate) else [t])
            if isinstance(t, JsonTemplate):
                raw.append(t.render({}).decode() if t.static else t)
            else:
                raw.append(t.source if t.static else t)

        if spec.command in ("LPUSH", "RPUSH"):
            add(spec.key)
            add(spec.payload or "", payload=True)
        elif spec.command == "XADD":
            add(spec.key)
            if spec.maxlen:
                raw += ["MAXLEN", "=" if spec.exact_maxlen else "~", str(spec.maxlen)]
            raw += ["*", spec.field]
            add(spec.payload or "", payload=True)
        elif spec.command == "ZADD":
            add(spec.key)
            if spec.score is not None:
                add(spec.score)
            else:
                raw.append(_delay_score(spec.delay or 0.0))
            add(spec.payload or "", payload=True)
        else:
            if spec.key:
                add(spec.key)
            for a in spec.args:
                add(a)
            if spec.payload is not None:
                add(spec.payload, payload=True)
        self.templates_ = templates
        self._head = b"*%d\r\n" % len(raw)
        self._args: list[Arg] = [bulk(a.encode()) if isinstance(a, str)
                                 else a.render if isinstance(a, (Template, JsonTemplate)) else a
                                 for a in raw]
        self.static: RedisPrepared | None = None
        self.timeout = timeout
        if all(isinstance(a, bytes) for a in self._args):
            self.static = RedisPrepared(self._head + b"".join(self._args), spec.command, spec.key, timeout)

    def templates(self) -> list[Template]:
        return self.templates_

    def prepare(self, ctx: Mapping[str, object]) -> RedisPrepared:
        if self.static is not None:
            return self.static
        out = [self._head]
        for a in self._args:
            if a.__class__ is bytes:
                out.append(a)
            else:
                v = a(ctx)
                if v.__class__ is str:
                    v = v.encode()
                out.append(b"$%d\r\n%s\r\n" % (len(v), v))
        # messages name the key as configured (templates unfilled), as HTTP ones name the URL
        return RedisPrepared(b"".join(out), self.command, self.spec.key, self.timeout)


class RedisRequest:
    """A `redis:` request as the iteration runs it (the same attributes as its HTTP sibling
    `worker.iteration.CompiledRequest`): `prepare` builds the command; the reply is judged by
    body and duration assertions and read by body extractions."""

    __slots__ = ("spec", "command", "checks", "extract", "n_checks", "status_ok", "expected", "send")

    def __init__(self, spec: RequestSpec, send: Callable | None = None) -> None:
        from lunge_mp.scenario.checks import CompiledCheck, CompiledExtract
        assert spec.redis is not None
        self.spec = spec
        self.command = CompiledRedis(spec.redis, spec.timeout)
        self.checks = [CompiledCheck(a) for a in spec.assertions]
        self.extract = [CompiledExtract(e) for e in spec.extract]
        self.n_checks = len(self.checks)
        self.status_ok = None
        self.expected = REPLY_STATUS      # a reply is no HTTP status: never an unexpected one
        self.send = send

    def templates(self) -> list[Template]:
        return self.command.templates()

    def prepare(self, ctx: Mapping[str, object], jar: object = None) -> RedisPrepared:
        return self.command.prepare(ctx)
