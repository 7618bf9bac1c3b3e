"""Running a functional suite: its requests one after another, each response checked.

The requests are the plan's own `RequestSpec`s, rendered by the worker's `CompiledRequest`
(templates, headers, JSON bodies exactly as a load test sends them) and sent by the worker's
aiohttp transport, one at a time, with one cookie jar, as one VU would. A request's tests
see the variables as they were when it was sent; what it extracts is there for the next.
A request that cannot be rendered or sent fails its tests (with the reason) and the suite
goes on: later requests that do not need its values still run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lunge_mp.functional.assertions import Outcome
from lunge_mp.functional.suite import Suite
from lunge_mp.plan import Plan
from lunge_mp.redact import mask_url_credentials
from lunge_mp.scenario.checks import Response
from lunge_mp.scenario.cookies import CookieJar
from lunge_mp.scenario.template import TemplateError


@dataclass
class CaseResult:
    name: str
    outcomes: list[Outcome]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)


@dataclass
class StepResult:
    request: str
    method: str
    url: str = ""
    status: int = 0
    duration_ms: float = 0.0
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    extracted: list[str] = field(default_factory=list)
    not_extracted: list[str] = field(default_factory=list)
    tests: list[CaseResult] = field(default_factory=list)


@dataclass
class RunResult:
    suite: str
    environment: str
    steps: list[StepResult]
    duration_ms: float = 0.0

    @property
    def tests(self) -> list[CaseResult]:
        return [t for s in self.steps for t in s.tests]

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.tests) and not any(s.error for s in self.steps)


def run_suite(suite: Suite, plan: Plan, timeout: float | None = None,
              on_step: Callable[[StepResult], None] | None = None) -> RunResult:
    """Run every step in order (a fresh event loop); `on_step` sees each result as it ends."""
    return asyncio.run(_run(suite, plan, timeout, on_step))


async def _run(suite: Suite, plan: Plan, timeout: float | None,
               on_step: Callable[[StepResult], None] | None) -> RunResult:
    from lunge_mp.worker.iteration import CompiledRequest
    from lunge_mp.worker.transport import AiohttpTransport

    scenario = plan.scenarios[0]
    ctx: dict[str, object] = {**plan.variables, "vu": 1, "iteration": 0, "scenario": scenario.name}
    jar = CookieJar()
    transport = AiohttpTransport(max_connections_per_host=1,
                                 insecure_skip_verify=plan.settings.insecure_skip_verify)
    started = time.perf_counter()
    steps: list[StepResult] = []
    try:
        for step, spec in zip(suite.steps, scenario.requests):
            result = StepResult(step.request, spec.method)
            compiled = CompiledRequest(spec)
            seen = dict(ctx)
            try:
                prepared = compiled.prepare(ctx, jar)
            except TemplateError as e:
                result.error = f"not sent: {e}" + _hint(str(e), steps)
                prepared = None
            if prepared is not None:
                if timeout is not None:
                    prepared.timeout = timeout
                result.url = mask_url_credentials(prepared.url)   # the URL is printed and written
                outcome = await transport.send(prepared)
                if outcome.error_class is not None:
                    result.error = f"{outcome.error_class}: {outcome.error or 'no response'}"
                else:
                    result.status, result.duration_ms = outcome.status, outcome.duration_us / 1000.0
                    result.headers, result.body = dict(outcome.headers), outcome.body
                    if outcome.set_cookies:
                        jar.update(prepared.url, outcome.set_cookies, time.time())
                    resp = Response(outcome.status, outcome.headers, outcome.body, result.duration_ms)
                    for rule in compiled.extract:
                        value = rule(resp)
                        if value is None:
                            result.not_extracted.append(rule.name)
                        else:
                            ctx[rule.name] = value
                            result.extracted.append(rule.name)
                    result.tests = [CaseResult(t.name, [a.evaluate(resp, seen) for a in t.assertions])
                                    for t in step.tests]
            if result.error:
                result.tests = [CaseResult(t.name, [Outcome("a response", False, "a response", result.error)])
                                for t in step.tests]
            steps.append(result)
            if on_step is not None:
                on_step(result)
    finally:
        await transport.close()
    return RunResult(suite.name, suite.environment, steps, (time.perf_counter() - started) * 1000.0)


def _hint(message: str, steps: list[StepResult]) -> str:
    """Which earlier request failed to extract the missing value, if one did."""
    for s in steps:
        for name in s.not_extracted:
            if f"{{{{{name}}}}}" in message:
                return f" ({s.request} did not extract {name})"
    return ""
