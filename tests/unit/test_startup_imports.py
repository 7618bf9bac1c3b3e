"""Issue 12 (start-up): what each process imports on the way to the first request. Not a timing
(benchmarks/startup.py measures that): a fresh interpreter shows which modules are loaded, so a
top-level import that drags YAML, the history store or the results document back into the
start-up path fails here."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
{code}
print(",".join(sorted(m for m in {absent!r} if m in sys.modules)) or "none")
"""

CASES = {
    "the CLI, before it starts the workers": (
        "import lunge_mp.cli",
        ("asyncio", "zmq", "yaml", "lunge_mp.cli_history", "lunge_mp.cli_serve", "lunge_mp.store",
         "lunge_mp.config.loader")),
    "`perf --url -q --no-history` up to its first request": (
        "import lunge_mp.cli\n"
        "from lunge_mp.config import ConfigError, plan_from_dict\n"
        "import lunge_mp.config.quick, lunge_mp.cli_run, lunge_mp.runner, lunge_mp.explain",
        ("yaml", "lunge_mp.cli_config", "lunge_mp.config.loader", "lunge_mp.report.results",
         "lunge_mp.report.banner", "lunge_mp.store", "lunge_mp.worker.transports")),
    "a worker": (
        "import lunge_mp.worker.main",
        ("yaml", "click", "lunge_mp.config.loader", "lunge_mp.config.validate")),
}


@pytest.mark.parametrize("case", CASES)
def test_what_start_up_does_not_import(case):
    code, absent = CASES[case]
    out = subprocess.run([sys.executable, "-c", CHECK.format(code=code, absent=absent)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none", f"{case} imports {out.stdout.strip()}"


def test_the_config_package_still_exports_its_names():
    from lunge_mp import config

    assert {config.ConfigError.__name__, config.load_plan.__name__, config.plan_from_dict.__name__,
            config.parse_duration.__name__, config.parse_text.__name__, config.expand_env.__name__}
    with pytest.raises(AttributeError):
        config.no_such_name  # noqa: B018
