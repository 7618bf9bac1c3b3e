"""The import contracts of pyproject.toml ([tool.importlinter]) hold: the pure core (schedule,
scenario, metrics, analysis, protocol, plan.py, outcome.py) imports no sockets, event loops,
ZeroMQ, psutil, aiohttp or Redis client, and nothing outside it but the leaf modules; worker and
coordinator never import each other; no import cycle between the modules or packages of any
package. import-linter checks them on the import graph grimp builds from the source (imports
inside functions and under TYPE_CHECKING count too). docs/ARCHITECTURE.md, "Import directions".

The second test breaks each contract in a copy of the package, to show that the check bites.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = ("import sys\n"
        "from importlinter.cli import lint_imports\n"
        "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))\n")


def _lint(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-c", LINT, str(ROOT / "pyproject.toml")], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 5 kept, 0 broken." in out.stdout, out.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("schedule/rates.py", "from lunge_mp.schedule import patterns", "no import cycles"),
    ("worker/main.py", "from lunge_mp.coordinator import run", "worker and coordinator never import each other"),
    ("metrics/hdr.py", "import zmq", "the pure core does no I/O"),
    ("analysis/verdict.py", "import asyncio", "the pure core does no I/O"),
    ("scenario/template.py", "from lunge_mp.config import loader", "the pure core imports nothing outside it"),
    ("coordinator/dealing.py", "import zmq", "the coordinator's core decides without I/O"),
], ids=["cycle", "worker-imports-coordinator", "core-imports-zmq", "core-imports-asyncio", "core-imports-config",
        "coordinator-core-imports-zmq"])
def test_each_contract_fails_when_broken(tmp_path, module, line, broken):
    copy = tmp_path / "src" / "lunge_mp"
    shutil.copytree(ROOT / "lunge_mp", copy, ignore=shutil.ignore_patterns("__pycache__", "vendor", "static"))
    with open(copy / module, "a", encoding="utf-8") as f:
        f.write(f"\n{line}\n")
    out = _lint(tmp_path, pythonpath=tmp_path / "src")
    assert out.returncode == 1, out.stdout + out.stderr
    text = " ".join(out.stdout.split())       # the report wraps long contract names
    assert re.search(re.escape(broken) + r"(?:(?!KEPT).)*? BROKEN", text), out.stdout
