"""Checks on a valid plan that need the templates compiled: done before any traffic.

A `{{name}}` is known when it is a variable, a built-in, a value some request of the same
scenario extracts, or `source.column` of a data source the scenario can see (the top-level
`data:` and its own) whose file has that column. Anything else would fail every request
that uses it, so it is refused before the run.
"""

from __future__ import annotations

from lunge_mp.plan import DataSource, Plan, RequestSpec, ScenarioPlan
from lunge_mp.scenario.request_head import template_value_problems
from lunge_mp.scenario.template import BUILTINS, Template, is_known_name
from lunge_mp.suggest import suggest

_BUILTIN_HINT = "vu (or vuId), iteration, scenario, timestamp, uuid, requestId, randomInt(a,b)"


def template_parts(r: RequestSpec) -> list[tuple[str, str]]:
    """(field, template text) of every templated part of a request."""
    parts = [("url", r.url), ("body", r.body or "")]
    parts += [(f"headers.{k}", v) for k, v in r.headers.items()]
    parts += [(f"form.{k}", v) for k, v in (r.form or {}).items()]
    parts += [(f"assertions[{i}].value", a.value) for i, a in enumerate(r.assertions) if "{{" in a.value]
    if r.redis is not None:     # the payload is `body`; the other templated parts of a command
        parts += [("redis.key", r.redis.key), ("redis.score", r.redis.score or "")]
        parts += [(f"redis.args[{i}]", a) for i, a in enumerate(r.redis.args)]
    return parts


def data_sources_used(plan: Plan, scenario: ScenarioPlan) -> list[DataSource]:
    """The data sources a scenario's templates take rows from (its own, then top-level ones),
    as the worker's feeders see them (a scenario's own source hides a top-level one)."""
    used = {name.partition(".")[0] for r in scenario.requests for _, text in template_parts(r)
            for name in Template(text).names() if "." in name}
    sources = {**{d.name: d for d in plan.data}, **{d.name: d for d in scenario.data}}
    return [d for name, d in sources.items() if name in used]


def unknown_template_names(plan: Plan) -> list[str]:
    """`{{name}}` placeholders that nothing defines: no variable, built-in, extraction or
    data column."""
    errors = []
    top = {d.name: d for d in plan.data}
    for s in plan.scenarios:
        sources = {**top, **{d.name: d for d in s.data}}
        extracted = {rule.name for r in s.requests for rule in r.extract}
        for i, r in enumerate(s.requests):
            for where, text in template_parts(r):
                for name in Template(text).names():
                    if is_known_name(name, plan.variables) or name in extracted:
                        continue
                    at = f"scenarios.{s.name}.requests[{i}].{where}"
                    problem = _data_problem(name, sources)
                    if problem == "":
                        continue
                    if problem:
                        errors.append(f"{at}: {problem}")
                        continue
                    names = [*plan.variables, *sorted(extracted), *BUILTINS,
                             *(f"{n}.{c}" for n, d in sources.items() for c in d.columns)]
                    hint = suggest(name, names)
                    errors.append(f"{at}: " + (f"unknown template value '{{{{{name}}}}}'; did you mean "
                                               f"'{{{{{hint}}}}}'?" if hint else _unknown(name, sources)))
    return errors


def _data_problem(name: str, sources: dict[str, DataSource]) -> str | None:
    """"" when `name` is a column of a visible data source, a message when it names a
    visible source but a column its file lacks, None when it is not about data at all."""
    source, dot, column = name.partition(".")
    if not dot or source not in sources:
        return None
    d = sources[source]
    if not d.path:          # not read (a plan built without its files): nothing to check
        return ""
    if column in d.columns:
        return ""
    return (f"data source '{source}' ({d.file}) has no column '{column}'; "
            f"its columns are {', '.join(d.columns)}")


def _unknown(name: str, sources: dict[str, DataSource]) -> str:
    hint = (f", name a data column ({', '.join(f'{n}.<column>' for n in sources)})" if sources
            else ", read it from a CSV file (data:)")
    return (f"unknown template value '{{{{{name}}}}}'; define it under variables, extract it from "
            f"an earlier response{hint}, or use a built-in ({_BUILTIN_HINT})")


def unsafe_head_values(plan: Plan) -> list[str]:
    """Header values and URLs that variables alone fill, and that would put a CR, LF or another
    control character into a request head (scenario/request_head.py); never shows a value."""
    parts = []
    for s in plan.scenarios:
        for i, r in enumerate(s.requests):
            if r.redis is not None:
                continue             # a RESP command is binary-safe: no request head
            at = f"scenarios.{s.name}.requests[{i}]"
            parts.append((f"{at}.url", "url", r.url))
            parts += [(f"{at}.headers.{k}", "header", v) for k, v in r.headers.items()]
    return template_value_problems(parts, plan.variables, plan.secrets)
