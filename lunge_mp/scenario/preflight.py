"""Checks on a valid plan that need the templates compiled: done before any traffic."""

from __future__ import annotations

from lunge_mp.plan import Plan
from lunge_mp.scenario.template import Template, is_known_name


def unknown_template_names(plan: Plan) -> list[str]:
    """`{{name}}` placeholders that nothing defines: no variable, built-in or extraction."""
    errors = []
    for s in plan.scenarios:
        extracted = {rule.name for r in s.requests for rule in r.extract}
        for i, r in enumerate(s.requests):
            parts = [("url", r.url), ("body", r.body or "")] + [(f"headers.{k}", v) for k, v in r.headers.items()]
            for where, text in parts:
                for name in Template(text).names():
                    if not is_known_name(name, plan.variables) and name not in extracted:
                        errors.append(
                            f"scenarios.{s.name}.requests[{i}].{where}: unknown template value "
                            f"'{{{{{name}}}}}'; define it under variables, extract it from an earlier "
                            f"response, or use a built-in (vu, iteration, scenario, timestamp, uuid, "
                            f"randomInt(a,b))")
    return errors
