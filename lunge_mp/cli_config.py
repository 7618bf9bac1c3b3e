"""`lunge-mp perf -c FILE` and `lunge-mp validate FILE`: a config file of either version → Plan.

Like config/loader.py, this reads files; the translation itself is in config/v1.py (pure).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lunge_mp import capacity
from lunge_mp.config.errors import ConfigError, Errors
from lunge_mp.config.loader import plan_from_document, resolve_data_files, with_thresholds
from lunge_mp.config.summary import describe_plan
from lunge_mp.config.v1 import FLAGS, check_v1, is_v1, plan_from_v1, summary_v1, v1_path
from lunge_mp.config.v1_read import load_config_document
from lunge_mp.config.validate import plan_from_dict
from lunge_mp.plan import Plan
from lunge_mp.redact import Redactor

PROBE = "(environment check)"


def plan_from_file(path: str, environment: str | None, test: str | None, request: str | None,
                   load: Mapping[str, Any] | None = None,
                   thresholds: Mapping[str, list[str]] | None = None, suite: str | None = None) -> Plan:
    """The plan `perf -c` runs: one v1 performance test, request or suite, or a whole v2 config.

    `load` holds the v1 load flags (key → value or None); `thresholds` come from --threshold.
    A suite's assertions that cannot be checked under load are named on stderr.
    """
    doc = load_config_document(path, environment)
    if is_v1(doc) and suite is not None:
        import sys

        from lunge_mp.functional.perf_suite import perf_suite_document
        if test is not None or request is not None:
            raise ConfigError(["-s/--suite: give one of -p TEST, -r REQUEST or -s SUITE"], path)
        v2, warnings = perf_suite_document(doc, environment, suite, load, thresholds, source=path)
        for line in warnings:
            print(f"warning: {line}", file=sys.stderr)
        return plan_from_dict(v2, source=path)
    if is_v1(doc):
        return plan_from_v1(doc, environment, test, request, load, thresholds, source=path)
    given = [flag for flag, value in (("-e/--environment", environment), ("-p/--performance", test),
                                      ("-r/--request", request), ("-s/--suite", suite)) if value is not None]
    given += [FLAGS[k] for k, v in (load or {}).items() if v is not None]
    if given:
        raise ConfigError([f"{', '.join(given)}: only for Lunge v1 files; {path} is a v2 config, whose "
                           f"scenarios say how it runs (or run it with `lunge-mp run {path}`)"], path)
    plan = plan_from_dict(with_thresholds(doc, thresholds), source=path)
    return resolve_data_files(plan, Path(path).resolve().parent)


def validate_file(path: str, overrides: Mapping[str, str] | None = None) -> str | None:
    """A one-line summary of a config that can run, or None after printing every problem.

    v2: the whole config, its data files and its templates. v1: every section, and every
    performance test translated in every environment.
    """
    from lunge_mp.explain import explain
    from lunge_mp.scenario.preflight import unknown_template_names, unsafe_head_values

    def run_problems(plan: Plan) -> list[str]:
        return unknown_template_names(plan) + unsafe_head_values(plan)

    try:
        doc = load_config_document(path, None, overrides)
        if not is_v1(doc):
            plan = plan_from_document(doc, path, overrides)
            if explain(path, plan) is None:
                return None
            for line in capacity.warnings(plan, os.cpu_count() or 1):   # `lunge-mp selftest`'s figures
                print(f"warning: {line}", file=sys.stderr)
            return Redactor.for_plan(plan, label=True).text(describe_plan(plan))
        errs = Errors()
        check_v1(doc, errs)
        lines = list(errs.items)
        envs = doc.get("environments") if isinstance(doc.get("environments"), Mapping) else {}
        requests = doc.get("requests") if isinstance(doc.get("requests"), Mapping) else {}
        tests = doc.get("performance") if isinstance(doc.get("performance"), Mapping) else {}
        # every request in every environment (at a token load), then every test as it runs
        runs = [(env, None, req, {"concurrency": 1, "duration": 1}) for env in envs for req in requests]
        runs += [(env, test, None, None) for env in envs for test in tests]
        probe = {"url": "http://127.0.0.1/"}    # each environment alone, with a request that needs nothing
        runs = [(env, None, PROBE, {"concurrency": 1, "duration": 1}) for env in envs] + runs
        flow = _flow_names(doc)
        for env, test, req, load in runs:
            run_doc = doc if req != PROBE else {"environments": {env: envs[env]}, "requests": {PROBE: probe}}
            try:
                plan = plan_from_v1(run_doc, env, test, req, load, source=path)
            except ConfigError as e:
                lines += e.errors
                continue
            name = plan.scenarios[0].requests[0].name
            where = f" (in environment {env})" if len(envs) > 1 else ""
            problems = run_problems(plan)
            if test is None:    # a request alone may use what a suite gives it (checked below)
                problems = [p for p in problems if _template_name(p) not in flow]
            lines += [_in_env(v1_path(line, plan.scenarios[0].name, name, env, test), where)
                      for line in problems]
        lines += _suite_problems(doc, envs, path, run_problems)
        if lines:
            raise ConfigError(list(dict.fromkeys(lines)), path)
        return f"Lunge v1: {summary_v1(doc)}{_suites_summary(doc, envs)}"
    except ConfigError as exc:
        explain(path, None, exc)
        return None


_UNKNOWN_NAME = re.compile(r"unknown template value '\{\{(.+?)\}\}'")


def _template_name(line: str) -> str | None:
    m = _UNKNOWN_NAME.search(line)
    return m.group(1) if m else None


def _flow_names(doc: Mapping[str, Any]) -> set[str]:
    """Names a suite run provides: what any request extracts, and every suite's variables."""
    names: set[str] = set()
    for req in (doc.get("requests") or {}).values() if isinstance(doc.get("requests"), Mapping) else ():
        if isinstance(req, Mapping) and isinstance(req.get("extract"), Mapping):
            names.update(map(str, req["extract"]))
    for suite in (doc.get("suites") or {}).values() if isinstance(doc.get("suites"), Mapping) else ():
        if isinstance(suite, Mapping) and isinstance(suite.get("variables"), Mapping):
            names.update(map(str, suite["variables"]))
    return names


def _suite_problems(doc: Mapping[str, Any], envs: Mapping[str, Any], path: str, run_problems: Any) -> list[str]:
    """Every suite, as `lunge-mp test` would run it, in every environment: its tests and
    assertions, and its requests as one scenario (templates, extracted values)."""
    from lunge_mp.functional.suite import build_suite

    lines: list[str] = []
    suites = doc.get("suites") if isinstance(doc.get("suites"), Mapping) else {}
    for env in envs:
        for name in suites:
            try:
                built = build_suite(doc, env, name, None, source=path)
                plan = plan_from_dict(built.document, source=path)
            except ConfigError as e:
                lines += e.errors
                continue
            where = f" (in environment {env})" if len(envs) > 1 else ""
            lines += [_in_env(line.replace(f"scenarios.{name}.", f"suites.{name}."), where)
                      for line in run_problems(plan)]
    return lines


def _suites_summary(doc: Mapping[str, Any], envs: Mapping[str, Any]) -> str:
    """`; suites smoke (3 requests, 2 tests)` for the summary line (a valid file)."""
    from lunge_mp.functional.suite import build_suite

    suites = doc.get("suites") if isinstance(doc.get("suites"), Mapping) else {}
    if not suites or not envs:
        return ""
    env = next(iter(envs))
    parts = []
    for name in suites:
        built = build_suite(doc, env, name, None)
        tests = sum(len(s.tests) for s in built.steps)
        parts.append(f"{name} ({len(built.steps)} request{'s' * (len(built.steps) != 1)}, "
                     f"{tests} test{'s' * (tests != 1)})")
    return f"; suites {', '.join(parts)}"


def _in_env(line: str, where: str) -> str:
    """`requests.a.url: problem` → `requests.a.url (in environment dev): problem`."""
    path, sep, rest = line.partition(": ")
    return f"{path}{where}{sep}{rest}" if where and sep else line
