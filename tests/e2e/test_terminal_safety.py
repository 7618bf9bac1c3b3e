"""Control characters never reach a terminal: names holding them (scenarios, requests, tags,
checks, thresholds) are config errors (104, field named), and whatever a results document holds is printed escaped. The summary shows dropped
iterations' causes as text, not a Python dict."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from lunge_mp.report.console import print_summary
from lunge_mp.textsafe import UNSAFE, escape, unsafe_problem
from tests.support import cli, write_config

FIXTURE = Path(__file__).parent.parent / "fixtures" / "results-demo.json"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")   # all but \n


@pytest.mark.parametrize("char, label", [("\\0", "U+0000"), ("\\a", "U+0007"), ("\\e", "U+001B"),
                                         ("\\u202e", "U+202E"), ("\\u2066", "U+2066")])
def test_control_characters_in_names_are_config_errors(tmp_path, char, label):
    config = write_config(tmp_path, f"""
        name: "test{char}"
        scenarios:
          "api{char}x":
            executor: constant-vus
            vus: 1
            duration: 1s
            tags: {{team: "t{char}"}}
            requests: [{{url: "http://127.0.0.1:1/", name: "req{char}",
                         assertions: [{{type: status, condition: eq, value: 200, check: "ok{char}"}}]}}]
        thresholds:
          "http_req_duration{{scenario:api}}": ["p(95) < 500{char}"]
        """)
    proc = cli("validate", str(config))
    assert proc.returncode == 104, proc.stdout + proc.stderr
    err = proc.stderr
    for field in ("name: ", "scenarios.api", ".tags.team: ", ".requests[0].name: ", ".assertions[0].check: ",
                  "thresholds."):
        assert field in err, (field, err)
    assert label in err and "Traceback" not in err
    assert not RAW.search(err + proc.stdout), err


def test_a_results_file_is_printed_escaped_and_drops_read_as_text(tmp_path):
    doc = json.loads(FIXTURE.read_text())
    evil = "x\x1b]0;pwned\x07\x1b[2J\u202etxt.exe"
    doc["name"] = evil
    doc["scenarios"] = {evil: doc["scenarios"]["open"]}
    doc["metrics"]["dropped_iterations"] = {"count": 490_205, "byCause": {"no_vu": 490_000, "data": 205}}
    doc["metrics"]["http_req_failed"]["byClass"] = {"check": 3}
    doc["metrics"]["http_req_failed"]["firstError"] = {"check": f"body contains 'ok' failed (got {evil})"}
    doc["warnings"] = [f"a warning from a response: {evil}"]
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(doc))
    proc = cli("report", str(path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert not RAW.search(out), repr(out)
    assert "x\\x1b]0;pwned\\x07\\x1b[2J\\u202etxt.exe" in out
    assert "dropped 490,205 (no_vu 490,000, data 205)" in out and "{'no_vu'" not in out


def test_escape_and_names():
    assert escape("a\x1b[31mb\u202ec\n", keep="\n") == "a\\x1b[31mb\\u202ec\n"
    assert escape("tab\there") == "tab\\x09here"
    assert unsafe_problem("plain name, ünïcode ✓") is None
    assert "U+202E" in unsafe_problem("abc\u202e")
    assert all(UNSAFE.match(c) for c in "\x00\x07\x1b\x7f\x85\u200f\u2028\u202e\u2069")
    buf = io.StringIO()
    doc = json.loads(FIXTURE.read_text())
    doc["name"] = "n\x1b"
    print_summary(doc, out=buf)
    assert "n\\x1b" in buf.getvalue() and "\x1b" not in buf.getvalue()
