"""One iteration of a scenario: its requests in order, with checks, extraction and metrics.

Templates, JSON paths and regexes are compiled once per scenario; a VU carries only its own
small state: its id, iteration number, extracted values and cookie jar.

An iteration of a scenario that uses data sources (`{{users.email}}`) first takes one row of
each from this worker's feeders (lunge_mp/scenario/data.py). When a `unique` source has no
row left for this worker, the iteration does not start and is counted as dropped with cause
`data_exhausted`: in the open model that arrival; in the closed model the VU stops looping, so
each VU stopped this way counts one (the iteration it could not start).

A warmup copy of a scenario (`warmup_of` set) reads a `unique` source as `sequential`, from a
feeder of its own: it hands no unique row out, so the measured test still gets every row once.
"""

from __future__ import annotations

import asyncio
import time
import weakref

import msgspec

from lunge_mp.metrics.recorder import Recorder
from lunge_mp.plan import DataSource, Plan, RequestSpec, ScenarioPlan
from lunge_mp.config.statuses import DEFAULT as DEFAULT_STATUSES, status_set
from lunge_mp.scenario.bodies import FormTemplate, JsonTemplate
from lunge_mp.scenario.checks import CompiledCheck, CompiledExtract, Response
from lunge_mp.scenario.cookies import CookieJar
from lunge_mp.scenario.data import Feeder, data_names, read_table
from lunge_mp.scenario.redis_command import RedisRequest
from lunge_mp.scenario.request_head import unsafe_url, unsafe_value
from lunge_mp.scenario.template import Template, TemplateError
from lunge_mp.worker.transport import Outcome, Prepared, Transport

DROP_DATA_EXHAUSTED = "data_exhausted"


class VU:
    """A virtual user: identity and per-VU state that outlives one iteration."""

    __slots__ = ("id", "iterations", "context", "stop_requested", "task", "in_iteration", "cookies")

    def __init__(self, vu_id: int, scenario: str, variables: dict[str, str]) -> None:
        self.id = vu_id
        self.iterations = 0
        self.context: dict[str, object] = dict(variables)
        self.context["vu"] = vu_id
        self.context["scenario"] = scenario
        self.stop_requested = False
        self.task: asyncio.Task | None = None
        self.in_iteration = False
        self.cookies = CookieJar()


class CompiledRequest:
    __slots__ = ("spec", "url", "headers", "body", "form", "static_headers", "checks", "extract",
                 "cookie_header", "static", "status_ok", "n_checks", "expected", "send",
                 "templated_headers")

    def __init__(self, spec: RequestSpec) -> None:
        self.spec = spec
        self.url = Template(spec.url)
        self.headers = [(k, Template(v)) for k, v in spec.headers.items()]
        self.static_headers = dict(spec.headers) if all(t.static for _, t in self.headers) else None
        # only values that templates fill are checked per request (static ones were at load)
        self.templated_headers = tuple(k for k, t in self.headers if not t.static)
        # a structured body is filled leaf by leaf and JSON-encoded; a raw one as it is
        self.body: Template | JsonTemplate | None = None
        if spec.body is not None:
            self.body = JsonTemplate.from_text(spec.body) if spec.body_json else Template(spec.body)
        self.form = FormTemplate(spec.form) if spec.form is not None else None
        self.checks = [CompiledCheck(a) for a in spec.assertions]
        self.extract = [CompiledExtract(e) for e in spec.extract]
        self.n_checks = len(self.checks)
        self.expected = status_set(spec.expected_statuses)   # any other status fails the request
        # the request's own Cookie header, if it sets one: the VU's cookies are added to it
        self.cookie_header = next((k for k in spec.headers if k.lower() == "cookie"), None)
        # Nothing to render: one Prepared, sent as is while the VU has no cookies (transports
        # never change a Prepared).
        self.static: Prepared | None = None
        if (self.static_headers is not None and self.url.static
                and (self.body is None or self.body.static)
                and (self.form is None or self.form.static)):
            self.static = self.prepare({})
        self.status_ok = _status_only(self.checks) if not self.extract else None

    def templates(self) -> list[Template]:
        out = [self.url] + [t for _, t in self.headers]
        if isinstance(self.body, JsonTemplate):
            out += self.body.templates()
        elif self.body is not None:
            out.append(self.body)
        if self.form is not None:
            out += self.form.templates()
        return out

    def prepare(self, ctx: dict[str, object], jar: CookieJar | None = None) -> Prepared:
        """The request to send. TemplateError: an unknown name, or a substituted value that
        would put a control character (CR, LF, NUL ...) into a header or the URL."""
        if not jar and self.static is not None:
            return self.static
        if self.static_headers is not None:
            headers = self.static_headers
        else:
            headers = {k: t.render(ctx) for k, t in self.headers}
            for k in self.templated_headers:
                if unsafe_value(headers[k]) is not None:
                    raise TemplateError(f"header {k}: a template value put a CR, LF, NUL or other "
                                        f"control character into it; not sent")
        if self.form is not None:
            body: bytes | None = self.form.render(ctx)
        elif isinstance(self.body, JsonTemplate):
            body = self.body.render(ctx)
        else:
            body = self.body.render(ctx).encode() if self.body is not None else None
        url = self.url.render(ctx)
        if not self.url.static and unsafe_url(url) is not None:
            raise TemplateError("url: a template value put a CR, LF, TAB, NUL or other control "
                                "character into it; not sent (percent-encode it)")
        if jar:
            cookie = jar.header(url, time.time())
            if cookie is not None:
                headers = dict(headers)      # never change the shared static headers
                own = self.cookie_header
                if own is not None:
                    headers[own] = f"{headers[own]}; {cookie}" if headers[own] else cookie
                else:
                    headers["Cookie"] = cookie
        return Prepared(self.spec.method, url, headers, body, self.spec.timeout)


_STATUS_CODES = range(1000)
DEFAULT_EXPECTED = status_set(DEFAULT_STATUSES)


def _status_only(checks: list[CompiledCheck]) -> frozenset[int] | None:
    """When every check is on the status alone: the statuses (0-999) that pass them all.
    A status outside the set (or outside 0-999) goes through the checks themselves."""
    if not checks or any(c.assertion.type != "status" or c.templated for c in checks):
        return None
    ok = set(_STATUS_CODES)
    for compiled in checks:
        ok = {code for code in ok if compiled(Response(code, {}, b"", 0.0)) is None}
    return frozenset(ok)


# failures that may come back without the request ever suspending (the iteration's return value)
_LOCAL_FAILURES = frozenset(("generator", "guardrail", "other"))


def failure_of(outcome: Outcome, expected: frozenset[int] = DEFAULT_EXPECTED) -> str | None:
    """The failure class of a finished request, before checks (k6: a status outside
    expectedStatuses, by default 200-399, fails it)."""
    if outcome.error_class is not None:
        return outcome.error_class
    if outcome.status in expected:
        return None
    if outcome.status >= 500:
        return "http_5xx"
    if outcome.status >= 400:
        return "http_4xx"
    return "unexpected_status"


# -- data feeders, one set per worker process ---------------------------------------------------

class DataPool:
    """This worker's feeders. A top-level source has one feeder shared by every scenario; a
    scenario's own source has one feeder for that scenario (and its warmup copy). A `unique`
    source read by a warmup copy gets a `sequential` feeder of its own, apart from the one
    that hands the rows out. Files are read once."""

    def __init__(self, plan: Plan, worker: int, workers: int) -> None:
        self.plan = plan
        self.worker = worker
        self.workers = workers
        self._tables: dict[str, tuple[tuple[str, ...], list[tuple[str, ...]]]] = {}
        self._feeders: dict[tuple[str, str, str], Feeder] = {}   # (scope, name, mode)

    def feeder(self, scope: str, source: DataSource, warmup: bool = False) -> Feeder:
        if warmup and source.mode == "unique":
            source = msgspec.structs.replace(source, mode="sequential")   # reads rows, uses none up
        key = (scope, source.name, source.mode)
        f = self._feeders.get(key)
        if f is None:
            path = source.path or source.file
            table = self._tables.get(path)
            if table is None:
                table = self._tables[path] = read_table(path)
            f = self._feeders[key] = Feeder(source, table[0], table[1], self.worker, self.workers)
        return f


_POOLS: weakref.WeakKeyDictionary[object, DataPool] = weakref.WeakKeyDictionary()


def _pool(recorder: object, plan: Plan, worker: int, workers: int) -> DataPool:
    """The DataPool of the worker that owns `recorder` (one Recorder per worker process)."""
    pool = _POOLS.get(recorder)
    if pool is None or pool.plan is not plan:
        pool = _POOLS[recorder] = DataPool(plan, worker, workers)
    return pool


class ScenarioRunner:
    """Runs iterations of one scenario on VUs, recording into the worker's Recorder.

    `worker` / `workers` (this worker's index and the worker count) decide which rows of a
    `unique` data source this worker may hand out.
    """

    def __init__(self, plan: Plan, scenario: ScenarioPlan, transport: Transport,
                 recorder: Recorder, vu_id_base: int, worker: int = 0, workers: int = 1,
                 redis: Transport | None = None) -> None:
        self.scenario = scenario
        self.name = scenario.name
        # each request is sent by the transport of its kind: HTTP, or Redis (`redis:` requests)
        self.requests: list[CompiledRequest | RedisRequest] = []
        for r in scenario.requests:
            if r.redis is not None:
                self.requests.append(RedisRequest(r, redis.send if redis is not None else None))
            else:
                self.requests.append(req := CompiledRequest(r))
                req.send = transport.send
        self.transport = transport
        self.recorder = recorder
        self.variables = dict(plan.variables)
        self.variables["baseUrl"] = plan.settings.base_url
        self._next_vu_id = vu_id_base
        self.active = 0             # VUs inside an iteration right now
        self.feeders = self._feeders(plan, worker, workers)
        # check passes/fails per request, once the Recorder can count them (`checks`)
        self._count_checks = getattr(recorder, "checks", None)
        # k6's model unless the config says otherwise: a failed check is counted by `checks`,
        # and fails its request only with settings.checksFailRequests
        self.checks_fail_requests = plan.settings.checks_fail_requests
        # settings.connections: perVU: every request carries its VU's id as the pool key, and
        # the VU's connections are closed when it ends (`vu_ended`)
        self.per_vu = plan.settings.connections == "perVU"
        if plan.settings.http_debug:   # --http-debug: the first exchanges printed; off, no cost
            from lunge_mp.worker.http_debug import attach
            attach([r for r in self.requests if isinstance(r, CompiledRequest)], self.name, recorder, plan, worker)

    def _feeders(self, plan: Plan, worker: int, workers: int) -> list[Feeder]:
        """The feeders of the data sources this scenario's templates name."""
        used = {source for r in self.requests for t in r.templates()
                for source, _ in data_names(t.names())}
        if not used:
            return []
        pool = _pool(self.recorder, plan, worker, workers)
        warm = bool(self.scenario.warmup_of)
        own_name = self.scenario.warmup_of or self.name
        # names are unique over plan.data and scenario.data (the config refuses a clash)
        scoped = [("", s) for s in plan.data] + [(own_name, s) for s in self.scenario.data]
        return [pool.feeder(scope, s, warm) for scope, s in scoped if s.name in used]

    def new_vu(self) -> VU:
        vu = VU(self._next_vu_id, self.name, self.variables)
        self._next_vu_id += 1
        return vu

    def vu_ended(self, vu: VU) -> None:
        """A VU loop ended (ramp-down, end, stop): perVU, its connections are closed."""
        if self.per_vu:
            forget = getattr(self.transport, "forget", None)
            if forget is not None:
                forget(vu.id)

    def _take_rows(self, vu: VU) -> bool:
        """One row of every data source into the VU's context; False when one is exhausted."""
        ctx = vu.context
        for feeder in self.feeders:
            row = feeder.take()
            if row is None:
                return False
            ctx.update(zip(feeder.keys, row))
        return True

    async def iteration(self, vu: VU, index: int, scheduled_ns: int | None) -> str | None:
        """Run the scenario's requests once. `scheduled_ns` is the open-model arrival instant.

        Returns the class of a failure that may have come back without suspending
        ("generator", "template", "guardrail", "other": out of sockets, nothing to send, a
        refused host, a URL the transport cannot use), so that the closed model backs off or
        yields after it; else None.

        Response time (open model) = the iteration's schedule lag + the time from handing the
        request to the transport to its outcome, so waiting for a pooled connection counts
        whatever the transport's service time covers (coordinated omission).
        """
        rec = self.recorder
        detailed = rec.detailed
        if self.feeders and not self._take_rows(vu):
            rec.dropped(self.name, DROP_DATA_EXHAUSTED)
            if scheduled_ns is None:
                vu.stop_requested = True      # closed model: this VU loop ends (one drop per VU)
            return None
        local = None
        started = time.monotonic_ns()
        lag_us = (started - scheduled_ns) // 1000 if scheduled_ns is not None else None
        if lag_us is not None and lag_us < 0:
            lag_us = 0
        vu.context["iteration"] = index
        vu.in_iteration = True
        self.active += 1
        jar = vu.cookies
        pool_key = vu.id if self.per_vu else None
        try:
            for req in self.requests:
                spec = req.spec
                try:
                    prepared = req.prepare(vu.context, jar)
                except TemplateError as exc:
                    rec.not_sent(self.name, spec.name, "template", str(exc))
                    local = "template"
                    break
                if pool_key is not None and prepared.__class__ is Prepared:
                    prepared = Prepared(prepared.method, prepared.url, prepared.headers,
                                        prepared.body, prepared.timeout, pool_key)
                handed_ns = time.monotonic_ns() if lag_us is not None else 0
                outcome = await req.send(prepared)
                if outcome.blocked_us:          # it waited for a connection, or opened one
                    rec.blocked(self.name, spec.name, outcome.blocked_us, outcome.connecting_us,
                                outcome.queued, outcome.tls_us)
                if detailed and outcome.error_class is None:    # settings.timings: detailed
                    rec.phases(self.name, spec.name, outcome.sending_us, outcome.waiting_us,
                               outcome.receiving_us)
                if lag_us is not None:
                    waited_us = (time.monotonic_ns() - handed_ns) // 1000
                    response_us = lag_us + (waited_us if waited_us > outcome.duration_us else outcome.duration_us)
                else:
                    response_us = None
                if outcome.set_cookies:
                    jar.update(prepared.url, outcome.set_cookies, time.time())
                if outcome.error_class is None and outcome.status in req.expected:
                    failure = message = None
                else:
                    failure = failure_of(outcome, req.expected)
                    if failure in _LOCAL_FAILURES:
                        local = failure
                    message = outcome.error
                    if message is None:
                        message = f"HTTP {outcome.status} from {prepared.method} {spec.url}"
                if outcome.error_class is not None or not (req.checks or req.extract):
                    pass
                elif req.status_ok is not None and outcome.status in req.status_ok:
                    # status checks only, and they all pass: no Response to build
                    if self._count_checks is not None:
                        self._count_checks(self.name, spec.name, req.n_checks, 0, None)
                else:
                    resp = Response(outcome.status, outcome.headers, outcome.body, outcome.duration_us / 1000)
                    if req.checks:
                        failed_checks = None
                        for i, compiled in enumerate(req.checks):
                            problem = compiled(resp, vu.context)
                            if problem is not None:
                                if failed_checks is None:
                                    failed_checks = [(i, problem)]
                                    if self.checks_fail_requests:
                                        failure, message = failure or "check", message or problem
                                else:
                                    failed_checks.append((i, problem))
                        if self._count_checks is not None:
                            n_failed = len(failed_checks) if failed_checks else 0
                            self._count_checks(self.name, spec.name, req.n_checks - n_failed, n_failed,
                                               failed_checks)
                    for rule in req.extract:
                        value = rule(resp)
                        if value is not None:
                            vu.context[rule.name] = value
                rec.request_done(self.name, spec.name, outcome.duration_us, response_us,
                                 failure is not None, failure, message,
                                 outcome.bytes_in, outcome.bytes_out)
                if spec.think_time > 0:
                    await asyncio.sleep(spec.think_time)
        finally:
            self.active -= 1
        vu.in_iteration = False   # stays True when cancelled: the caller counts an interruption
        vu.iterations += 1
        rec.iteration_done(self.name, (time.monotonic_ns() - started) // 1000, lag_us)
        return local
