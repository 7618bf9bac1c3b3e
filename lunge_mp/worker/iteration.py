"""One iteration of a scenario: its requests in order, with checks, extraction and metrics.

Templates are compiled once per scenario; a VU carries only its own small context
(its id, iteration number and extracted values).
"""

from __future__ import annotations

import asyncio
import time

from lunge_mp.metrics.recorder import Recorder
from lunge_mp.plan import Plan, RequestSpec, ScenarioPlan
from lunge_mp.scenario.checks import Response, check, extract
from lunge_mp.scenario.template import Template, TemplateError
from lunge_mp.worker.transport import Outcome, Prepared, Transport


class VU:
    """A virtual user: identity and per-VU state that outlives one iteration."""

    __slots__ = ("id", "iterations", "context", "stop_requested", "task", "in_iteration")

    def __init__(self, vu_id: int, scenario: str, variables: dict[str, str]) -> None:
        self.id = vu_id
        self.iterations = 0
        self.context: dict[str, object] = dict(variables)
        self.context["vu"] = vu_id
        self.context["scenario"] = scenario
        self.stop_requested = False
        self.task: asyncio.Task | None = None
        self.in_iteration = False


class CompiledRequest:
    __slots__ = ("spec", "url", "headers", "body", "static_headers")

    def __init__(self, spec: RequestSpec) -> None:
        self.spec = spec
        self.url = Template(spec.url)
        self.headers = [(k, Template(v)) for k, v in spec.headers.items()]
        self.static_headers = dict(spec.headers) if all(t.static for _, t in self.headers) else None
        self.body = Template(spec.body) if spec.body is not None else None

    def prepare(self, ctx: dict[str, object]) -> Prepared:
        headers = self.static_headers if self.static_headers is not None else {
            k: t.render(ctx) for k, t in self.headers}
        body = self.body.render(ctx).encode() if self.body is not None else None
        return Prepared(self.spec.method, self.url.render(ctx), headers, body, self.spec.timeout)


def failure_of(outcome: Outcome) -> str | None:
    """The failure class of a finished request, before assertions (k6: status >= 400 fails)."""
    if outcome.error_class is not None:
        return outcome.error_class
    if outcome.status >= 500:
        return "http_5xx"
    if outcome.status >= 400:
        return "http_4xx"
    return None


class ScenarioRunner:
    """Runs iterations of one scenario on VUs, recording into the worker's Recorder."""

    def __init__(self, plan: Plan, scenario: ScenarioPlan, transport: Transport,
                 recorder: Recorder, vu_id_base: int) -> None:
        self.scenario = scenario
        self.name = scenario.name
        self.requests = [CompiledRequest(r) for r in scenario.requests]
        self.transport = transport
        self.recorder = recorder
        self.variables = dict(plan.variables)
        self.variables["baseUrl"] = plan.settings.base_url
        self._next_vu_id = vu_id_base
        self.active = 0             # VUs inside an iteration right now

    def new_vu(self) -> VU:
        vu = VU(self._next_vu_id, self.name, self.variables)
        self._next_vu_id += 1
        return vu

    async def iteration(self, vu: VU, index: int, scheduled_ns: int | None) -> None:
        """Run the scenario's requests once. `scheduled_ns` is the open-model arrival instant.

        Response time = service time + the iteration's schedule lag (coordinated omission).
        """
        rec = self.recorder
        started = time.monotonic_ns()
        lag_us = (started - scheduled_ns) // 1000 if scheduled_ns is not None else None
        if lag_us is not None and lag_us < 0:
            lag_us = 0
        vu.context["iteration"] = index
        vu.in_iteration = True
        self.active += 1
        try:
            for req in self.requests:
                spec = req.spec
                try:
                    prepared = req.prepare(vu.context)
                except TemplateError as exc:
                    rec.not_sent(self.name, spec.name, "template", str(exc))
                    await asyncio.sleep(0)   # a VU whose every iteration fails here must still yield
                    break
                outcome = await self.transport.send(prepared)
                failure = failure_of(outcome)
                message = outcome.error
                if failure is not None and message is None:
                    message = f"HTTP {outcome.status} from {prepared.method} {spec.url}"
                if outcome.error_class is None and (spec.assertions or spec.extract):
                    resp = Response(outcome.status, outcome.headers, outcome.body, outcome.duration_us / 1000)
                    for assertion in spec.assertions:
                        problem = check(assertion, resp)
                        if problem is not None:
                            failure, message = failure or "check", message or problem
                            break
                    for rule in spec.extract:
                        value = extract(rule, resp)
                        if value is not None:
                            vu.context[rule.name] = value
                response_us = outcome.duration_us + lag_us if lag_us is not None else None
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
