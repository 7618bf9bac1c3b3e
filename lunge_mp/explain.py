"""A config's problems told to the user before any run: the errors of an invalid config, or
what keeps a valid plan from running. None from either function means exit 104.
"""

from __future__ import annotations

import sys

from lunge_mp.analysis.guardrails import plan_problems as guardrail_problems
from lunge_mp.config import ConfigError
from lunge_mp.plan import Plan
from lunge_mp.redact import Redactor, mask_url_credentials
from lunge_mp.scenario.preflight import unknown_template_names, unsafe_head_values
from lunge_mp.textsafe import escape


def load_or_explain(path: str, overrides: dict[str, str],
                    thresholds: dict[str, list[str]] | None = None) -> Plan | None:
    """The plan, or None after printing every config error (the caller exits 104)."""
    from lunge_mp.config import load_plan     # here: YAML and v1 files are not needed by `perf --url`

    try:
        return explain(path, load_plan(path, overrides=overrides, thresholds=thresholds))
    except ConfigError as exc:
        return explain(path, None, exc)


def explain(source: str, plan: Plan | None, error: ConfigError | None = None) -> Plan | None:
    """Print config errors (or checks that need the whole plan); None means exit 104."""
    if error is not None:
        print(f"error: invalid config in {escape(source)}:", file=sys.stderr)
        for line in error.errors:
            print(f"  {escape(mask_url_credentials(line))}", file=sys.stderr)
        return None
    assert plan is not None
    problems = (unknown_template_names(plan) + unsafe_head_values(plan)
                + guardrail_problems(plan))
    if problems:
        redactor = Redactor.for_plan(plan, label=True)
        print(f"error: {escape(source)} cannot run:", file=sys.stderr)
        for line in problems:
            print(f"  {escape(redactor.text(line))}", file=sys.stderr)
        return None
    return plan
