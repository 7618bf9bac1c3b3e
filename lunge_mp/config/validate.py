"""`plan_from_dict`: a parsed config document → a validated Plan, or one ConfigError.

Pure: no file or environment access (loader.py does that), so it is tested with dicts.
Every section is read even when an earlier one failed, and all problems are raised together.
`guardrails:` is parsed by config/guardrails.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lunge_mp.analysis.selection import SERIES_KEYS, request_tags, tag_values
from lunge_mp import limits
from lunge_mp.config.data import parse_data
from lunge_mp.config.default_thresholds import with_defaults
from lunge_mp.config.errors import ConfigError, Errors, describe, join
from lunge_mp.config.fields import Fields, scalar_text
from lunge_mp.config.guardrails import parse_guardrails
from lunge_mp.config.http_requests import url_problem
from lunge_mp.config.names import check_names
from lunge_mp.config.redis_requests import parse_redis_settings
from lunge_mp.config.scenarios import parse_scenarios
from lunge_mp.config.statuses import parse_expected
from lunge_mp.config.thresholds import parse_thresholds, unmeasured
from lunge_mp.plan import Options, Plan, Settings, Warmup
from lunge_mp.redact import label_secrets
from lunge_mp.scenario.request_head import headers_problems, url_text_problem, value_problem

TOP_KEYS = ("name", "description", "settings", "variables", "scenarios", "thresholds", "options",
            "guardrails", "output", "data")
SETTINGS_KEYS = ("baseUrl", "timeout", "maxConnectionsPerHost", "maxIdleConnsPerHost", "keepalive",
                 "insecureSkipVerify", "userAgent", "headers", "transport", "connections",
                 "timings", "expectedStatuses", "checksFailRequests", "redis")
TRANSPORTS = ("auto", "fast", "aiohttp")
CONNECTIONS = ("shared", "perVU")
TIMINGS = ("summary", "detailed")
OPTIONS_KEYS = ("sequential", "iterationsTimeout", "warmup", "minEfficiency", "defaultThresholds")
LUNGE_V1_KEYS = ("environments", "requests", "suites", "performance")
# names the runtime templating defines itself; a variable of the same name would be shadowed
RESERVED_VARIABLES = ("baseUrl", "vu", "vuId", "iteration", "scenario", "timestamp", "uuid", "requestId")


def plan_from_dict(doc: object, source: str = "") -> Plan:
    """Validate a parsed document and build the Plan; ConfigError lists every problem."""
    errs = Errors()
    if not isinstance(doc, Mapping):
        raise ConfigError([f"(root): the config must be a mapping with at least name and scenarios, "
                           f"got {describe(doc)}"], source)
    if "scenarios" not in doc and any(k in doc for k in LUNGE_V1_KEYS):
        raise ConfigError(["(root): this is a Lunge v1 config (environments/requests/suites/performance); "
                           "run it with `lunge-mp perf -c FILE -e ENV -p TEST` (or -r REQUEST), or write a "
                           "v2 config with name and scenarios"], source)
    check_names(doc, errs)
    f = Fields(errs, doc, "")
    f.check_keys(TOP_KEYS)
    name = f.str("name", "", required="required: a name for the test, e.g. name: \"Checkout API\"",
                 nonempty=True)
    description = f.str("description", "")
    settings, base_ok = parse_settings(f.mapping("settings"), "settings", errs)
    variables, secrets = parse_variables(f.mapping("variables"), "variables", errs)
    data, data_where = parse_data(doc.get("data"), "data", errs)
    scenarios_doc = doc.get("scenarios")
    before = len(errs)
    scenarios = parse_scenarios(scenarios_doc, "scenarios", errs, settings, base_ok, data_where)
    names = [k for k in scenarios_doc if isinstance(k, str)] if isinstance(scenarios_doc, Mapping) else []
    # request filters are checked only when every scenario parsed (else a name may be missing)
    requests = [r.name for s in scenarios for r in s.requests] if len(errs) == before else None
    tags = request_tags(scenarios) if requests is not None else None
    for key in SERIES_KEYS:
        if tags and key in tag_values(tags):
            errs.add("scenarios", f"'{key}' is a reserved tag name (threshold filters use it for the "
                                  f"{key} name); rename that tag")
    thresholds = parse_thresholds(doc.get("thresholds"), "thresholds", errs, names, requests, tags)
    # a threshold on a timing these settings do not measure ("auto" is "fast": worker/transports.py)
    unmeasured(thresholds, "fast" if settings.transport == "auto" else settings.transport,
               settings.timings, "thresholds", errs)
    options = parse_options(f.mapping("options"), "options", errs)
    thresholds = with_defaults(thresholds, options.default_thresholds)
    guardrails = parse_guardrails(f.mapping("guardrails"), "guardrails", errs)
    output = parse_output(f.mapping("output"), "output", errs)
    if errs:   # a secret variable's value never shows in an error: its name does
        errs.items = label_secrets(errs.items, variables, secrets)
    errs.raise_if_any(source)
    return Plan(name=name, scenarios=scenarios, description=description, settings=settings,
                variables=variables, secrets=secrets, thresholds=thresholds, options=options,
                source=source, output=output, guardrails=guardrails, data=data)


def parse_settings(m: Mapping[Any, Any] | None, path: str, errs: Errors) -> tuple[Settings, bool]:
    """Settings, and whether baseUrl is usable (False suppresses repeat errors on every URL)."""
    if m is None:
        return Settings(), True
    f = Fields(errs, m, path)
    f.check_keys(SETTINGS_KEYS)
    defaults = Settings()
    before = len(errs)
    base_url = f.str("baseUrl", "")
    if url_text_problem(base_url):
        f.error("baseUrl", url_text_problem(base_url))
    base_ok = len(errs) == before
    if base_ok and base_url and not base_url.startswith("{{"):
        problem = url_problem(base_url)
        if problem:
            f.error("baseUrl", problem)
            base_ok = False
    headers = f.str_map("headers")
    user_agent = f.str("userAgent", defaults.user_agent)
    problems = headers_problems(headers, f.at("headers"))
    if value_problem(user_agent):
        problems.append((f.at("userAgent"), value_problem(user_agent)))
    for where, problem in problems:
        errs.add(where, problem)
    return Settings(
        base_url=base_url,
        timeout=f.duration("timeout", defaults.timeout, positive=True),
        max_connections_per_host=f.int("maxConnectionsPerHost", defaults.max_connections_per_host, minimum=0,
                                       bound=limits.CONNECTIONS),
        max_idle_conns_per_host=f.int("maxIdleConnsPerHost", defaults.max_idle_conns_per_host, minimum=0,
                                      bound=limits.CONNECTIONS),
        keepalive=f.bool("keepalive", defaults.keepalive),
        insecure_skip_verify=f.bool("insecureSkipVerify", defaults.insecure_skip_verify),
        transport=(transport := _transport(f, defaults.transport)),
        connections=_connections(f, defaults.connections, transport),
        timings=_timings(f, defaults.timings),
        user_agent=user_agent,
        headers=headers,
        expected_statuses=(parse_expected(m["expectedStatuses"], f.at("expectedStatuses"), errs)
                           if f.has("expectedStatuses") else None) or defaults.expected_statuses,
        checks_fail_requests=f.bool("checksFailRequests", defaults.checks_fail_requests),
        redis=parse_redis_settings(f.mapping("redis"), f.at("redis"), errs),
    ), base_ok


def parse_variables(m: Mapping[Any, Any] | None, path: str,
                    errs: Errors) -> tuple[dict[str, str], tuple[str, ...]]:
    """`name: value` or `name: {value, secret}` → (values as text, names of secrets)."""
    if m is None:
        return {}, ()
    values: dict[str, str] = {}
    secrets: list[str] = []
    for name, value in m.items():
        at = join(path, name)
        if not isinstance(name, str) or not name.strip():
            errs.add(at, f"variable names must be non-empty strings, got {describe(name)}")
            continue
        if name in RESERVED_VARIABLES:
            fix = "set settings.baseUrl instead" if name == "baseUrl" else "pick another name"
            errs.add(at, f"'{name}' is a built-in template value; {fix}")
            continue
        if isinstance(value, Mapping):
            f = Fields(errs, value, at)
            f.check_keys(("value", "secret"))
            text = f.text("value", required=True)
            if f.bool("secret", False):
                secrets.append(name)
        else:
            text = scalar_text(value)
            if text is None:
                errs.add(at, f"must be a string, number or boolean, or {{value: ..., secret: true}}, "
                             f"got {describe(value)}")
        if text is not None:
            values[name] = text
    return values, tuple(secrets)


def _transport(f: Fields, default: str) -> str:
    value = f.str("transport", default)
    if value not in TRANSPORTS:
        f.error("transport", f"unknown transport '{value}'; use one of {', '.join(TRANSPORTS)}")
        return default
    return value


def _timings(f: Fields, default: str) -> str:
    """`summary` (blocked, connecting) or `detailed` (+ tls, sending, waiting, receiving)."""
    value = f.str("timings", default)
    if value not in TIMINGS:
        f.error("timings", f"unknown timings '{value}'; use one of {', '.join(TIMINGS)}")
        return default
    return value


def _connections(f: Fields, default: str, transport: str) -> str:
    """`shared` (one pool per host for all of a worker's VUs) or `perVU` (fast transport only)."""
    value = f.str("connections", default)
    if value not in CONNECTIONS:
        f.error("connections", f"unknown connections mode '{value}'; use one of {', '.join(CONNECTIONS)}")
        return default
    if value == "perVU" and transport == "aiohttp":
        f.error("connections", "perVU is supported by the fast transport only; "
                               "use transport: fast (or auto), or connections: shared")
        return default
    return value


OUTPUT_FORMATS = ("json", "html", "csv", "junit")


def parse_output(m: Mapping[Any, Any] | None, path: str, errs: Errors) -> dict[str, str]:
    """`output: {html: {enabled: true, path: report.html}, ...}` → {"html": "report.html"}."""
    if m is None:
        return {}
    f = Fields(errs, m, path)
    f.check_keys(OUTPUT_FORMATS)
    out = {}
    for fmt in OUTPUT_FORMATS:
        entry = f.mapping(fmt)
        if entry is None:
            continue
        g = Fields(errs, entry, f"{path}.{fmt}")
        g.check_keys(("enabled", "path"))
        if g.bool("enabled", True):
            out[fmt] = g.str("path", "", required=f"required: where to write the {fmt} report", nonempty=True)
    return out


def parse_options(m: Mapping[Any, Any] | None, path: str, errs: Errors) -> Options:
    if m is None:
        return Options()
    f = Fields(errs, m, path)
    f.check_keys(OPTIONS_KEYS)
    defaults = Options()
    min_efficiency = f.number("minEfficiency", defaults.min_efficiency, minimum=0.0)
    if isinstance(min_efficiency, (int, float)) and min_efficiency > 1:
        f.error("minEfficiency", f"must be a fraction between 0 and 1 (0.95 = 95%), got {min_efficiency}")
    return Options(
        sequential=f.bool("sequential", defaults.sequential),
        iterations_timeout=f.duration("iterationsTimeout", defaults.iterations_timeout, positive=True),
        warmup=parse_warmup(f.mapping("warmup"), f"{path}.warmup", errs),
        min_efficiency=float(min_efficiency or 0.0),
        default_thresholds=f.bool("defaultThresholds", defaults.default_thresholds),
    )


def parse_warmup(m: Mapping[Any, Any] | None, path: str, errs: Errors) -> Warmup | None:
    """`warmup: {duration: 10s, rate: 50}` or `{duration: 10s, vus: 5}`."""
    if m is None:
        return None
    f = Fields(errs, m, path)
    f.check_keys(("duration", "rate", "vus"))
    duration = f.duration("duration", 0.0, required="required: how long to warm up, e.g. 10s",
                          positive=True)
    rate = f.number("rate", 0.0, positive=True, bound=limits.RATE)
    vus = f.int("vus", 0, minimum=1, bound=limits.VUS)
    if f.has("rate") == f.has("vus"):
        errs.add(path, "give exactly one of rate (iterations/s) or vus, e.g. {duration: 10s, rate: 50}")
    return Warmup(duration=float(duration or 0.0), rate=float(rate or 0.0), vus=int(vus or 0))
