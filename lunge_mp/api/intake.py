"""A test submitted over the API: body → document → Plan, under the server's ceiling.

- The body is a v2 config as JSON, or YAML (`application/yaml`, `text/yaml`, ...). It is not
  `${VAR}`-expanded from the server's environment (that would hand the server's variables to
  whoever may start a test); use the config's `variables:`.
- `output:` and CSV `data:` files are refused: over the API, files on the server are neither
  written where a request says nor read (results and the report go to the server's own folder).
- The server-wide ceiling (`--max-rate`, `--max-duration`, `--allowed-hosts`) is one no request
  can raise: a config that asks for more is refused (422, naming the field, nothing sent), and
  the run's own guardrails are lowered to it, so the coordinator enforces it as it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from lunge_mp.analysis.guardrails import plan_problems
from lunge_mp.config import ConfigError
from lunge_mp.config.loader import parse_text
from lunge_mp.config.validate import plan_from_dict
from lunge_mp.coordinator.lifecycle import Lifecycle
from lunge_mp.plan import Plan
from lunge_mp.redact import Redactor, mask_url_credentials
from lunge_mp.scenario.preflight import unknown_template_names
from lunge_mp import warmup
from lunge_mp.schedule.capped_rate import peak_rate

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


class Refused(Exception):
    """status (400 or 422) and the problems, each starting with its field path."""

    def __init__(self, status: int, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.status = status
        self.problems = problems


@dataclass(frozen=True)
class Ceiling:
    max_rate: float = 0.0            # requests/s over every scenario (0 = none)
    max_duration: float = 0.0        # seconds (0 = none)
    allowed_hosts: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"maxRate": self.max_rate or None, "maxDuration": self.max_duration or None,
                "allowedHosts": list(self.allowed_hosts)}


def parse_document(body: bytes, content_type: str) -> object:
    """The config document of a request body; 400 for text that is not JSON or YAML."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, ["(body): not UTF-8 text"]) from None
    fmt = "yaml" if content_type in YAML_TYPES else "json"
    try:
        return parse_text(text, fmt, "request body")
    except ConfigError as exc:
        raise Refused(400, [mask_url_credentials(e) for e in exc.errors]) from None


def plan_from_document(doc: object, ceiling: Ceiling) -> Plan:
    """A runnable Plan, or Refused: 400 for config errors (field paths as the CLI gives
    them), 422 for what is over the server's ceiling."""
    if isinstance(doc, dict):
        problems = []
        if doc.get("output"):
            problems.append("output: not accepted over the API; results and the report are kept by "
                            "the server (GET /api/v1/tests/{id}/results and /report)")
        if doc.get("data") or any(isinstance(s, dict) and s.get("data")
                                  for s in (doc.get("scenarios") or {}).values()
                                  if isinstance(doc.get("scenarios"), dict)):
            problems.append("data: CSV data files are not read over the API; use the CLI on the load box")
        if problems:
            raise Refused(422, problems)
    try:
        plan = plan_from_dict(doc, source="api")
    except ConfigError as exc:
        raise Refused(400, [mask_url_credentials(e) for e in exc.errors]) from None
    problems = unknown_template_names(plan) + plan_problems(plan)
    if problems:
        raise Refused(400, [mask_url_credentials(p) for p in problems])
    over = ceiling_problems(plan, ceiling)
    if over:
        raise Refused(422, over)
    return under_ceiling(plan, ceiling)


def ceiling_problems(plan: Plan, ceiling: Ceiling) -> list[str]:
    problems = []
    if ceiling.max_rate:
        total = 0.0
        for s in plan.scenarios:
            if s.is_open:
                peak = peak_rate(s.target_fn()) * max(1, len(s.requests))
                total += peak
                if peak > ceiling.max_rate * (1 + 1e-9):
                    problems.append(f"scenarios.{s.name}.{s.load_key}: asks up to {peak:,.6g} requests/s, "
                                    f"over the server's --max-rate {ceiling.max_rate:,.6g}")
        if not problems and total > ceiling.max_rate * (1 + 1e-9) and not plan.options.sequential:
            problems.append(f"scenarios: the open scenarios together ask up to {total:,.6g} requests/s, "
                            f"over the server's --max-rate {ceiling.max_rate:,.6g}")
    if ceiling.max_duration:
        length = Lifecycle(plan, warmup.scenarios(plan), warmup.offset(plan)).planned_length()
        if length > ceiling.max_duration + 1e-9:
            longest = max(plan.scenarios, key=lambda s: s.start_time + s.length)
            field = "maxDuration" if longest.iteration_based else "duration"
            problems.append(f"scenarios.{longest.name}.{field}: the test lasts up to {length:,.6g}s, over "
                            f"the server's --max-duration {ceiling.max_duration:,.6g}s")
    if ceiling.allowed_hosts:
        server = msgspec.structs.replace(plan, guardrails=msgspec.structs.replace(
            plan.guardrails, allowed_hosts=ceiling.allowed_hosts))
        problems += [p.replace("guardrails.allowedHosts", "the server's --allowed-hosts")
                     for p in plan_problems(server)]
        if plan.guardrails.allowed_hosts and not set(plan.guardrails.allowed_hosts) <= set(ceiling.allowed_hosts):
            extra = sorted(set(plan.guardrails.allowed_hosts) - set(ceiling.allowed_hosts))
            problems.append(f"guardrails.allowedHosts: {', '.join(extra)} not in the server's --allowed-hosts")
    return problems


def under_ceiling(plan: Plan, ceiling: Ceiling) -> Plan:
    """The plan with its guardrails lowered to the ceiling (never raised)."""
    g = plan.guardrails
    changes = {}
    if ceiling.max_rate and (not g.max_rate or g.max_rate > ceiling.max_rate):
        changes["max_rate"] = ceiling.max_rate
    if ceiling.max_duration and (not g.max_duration or g.max_duration > ceiling.max_duration):
        changes["max_duration"] = ceiling.max_duration
    if ceiling.allowed_hosts and not g.allowed_hosts:
        changes["allowed_hosts"] = tuple(ceiling.allowed_hosts)
    if not changes:
        return plan
    return msgspec.structs.replace(plan, guardrails=msgspec.structs.replace(g, **changes))


def estimate(plan: Plan) -> dict:
    """Estimated duration (s) and iterations of the open scenarios (seed 004's estimates)."""
    length = Lifecycle(plan, warmup.scenarios(plan), warmup.offset(plan)).planned_length()
    jobs = sum(s.planned_iterations() for s in plan.scenarios)
    return {"duration": round(length, 3), "jobs": jobs}


def masked_config(doc: object, plan: Plan) -> object:
    """The submitted document with secrets (secret variables, auth headers, URL passwords) masked."""
    return Redactor.for_plan(plan).doc(doc)
