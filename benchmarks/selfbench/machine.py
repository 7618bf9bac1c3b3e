"""What machine and software a benchmark ran on (recorded in its JSON)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess

import psutil

from selfbench.configs import PACKAGES, ROOT
from selfbench.peers import k6_binary

def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git() -> dict:
    def g(*a: str) -> str | None:
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True,
                                  timeout=5).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            return None
    return {"commit": g("rev-parse", "HEAD"), "dirty": bool(g("status", "--porcelain"))}


def _tool_version(cmd: list[str]) -> str | None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (p.stdout + p.stderr).strip().splitlines()
    return text[0][:120] if text else None


def machine_info() -> dict:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    freq = None
    try:
        f = psutil.cpu_freq()
        freq = round(f.current) if f else None
    except Exception:
        pass
    k6 = k6_binary()
    return {
        "cpuCount": os.cpu_count(), "cpuAffinity": affinity, "cpuMHz": freq,
        "memoryGB": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(), "machine": platform.machine(),
        "python": platform.python_version(), "pythonImplementation": platform.python_implementation(),
        "packages": {p: _version(p) for p in PACKAGES},
        "wrk": _tool_version(["wrk", "--version"]) if shutil.which("wrk") else None,
        "k6": _tool_version([k6, "version"]) if k6 else None,
        "git": _git(), "loadavg": os.getloadavg(),
    }
