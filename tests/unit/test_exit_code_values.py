"""The exit codes live in one IntEnum (lunge_mp/exit_codes.py) with DESIGN.md's values, and no
module defines codes of its own beside it."""

from __future__ import annotations

import re
from pathlib import Path

from lunge_mp.exit_codes import ExitCode

PACKAGE = Path(__file__).resolve().parents[2] / "lunge_mp"


def test_the_values_are_the_documented_ones():
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0, "INTERNAL": 1, "FAILED": 99, "INVALID_INPUT": 104, "STOPPED": 105,
        "GUARDRAIL": 111, "LOST_WORKERS": 112, "INVALID_RUN": 113}


def test_a_code_prints_and_serialises_as_its_number():
    assert f"{ExitCode.INVALID_INPUT}" == "104" and str(ExitCode.FAILED) == "99"


def test_no_module_defines_exit_codes_of_its_own():
    own = re.compile(r"^EXIT_\w+(\s*,\s*EXIT_\w+)*\s*=", re.M)
    found = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if own.search(p.read_text(encoding="utf-8"))]
    assert found == []
