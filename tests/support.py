"""Test helpers: config files on disk and the CLI as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


def write_config(tmp_path: Path, text: str, name: str = "test.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def cli(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """`lunge-mp ARGS` in a child process, output captured."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "lunge_mp.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def cli_popen(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
