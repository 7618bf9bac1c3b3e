"""Files in Lunge's formats run unchanged against a real httpbin (gunicorn on 127.0.0.1):
`lunge-mp test`, `run -c`, `get/post`, `perf -s`, `validate` and a short v2 `run`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.httpbin_server import httpbin_server
from tests.support import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lunge"


@pytest.fixture(scope="module")
def httpbin():
    with httpbin_server() as base:
        yield base


def lunge(httpbin: str, *args: str, timeout: float = 120):
    return cli(*args, timeout=timeout, env={"HTTPBIN_URL": httpbin})


def fx(name: str) -> str:
    return str(FIXTURES / name)


@pytest.mark.parametrize("fixture, env, suite, tests", [
    pytest.param("httpbin-suite.json", "local", "checks", 5, id="json-assertions"),
    pytest.param("extraction-flow.json", "local", "flow", 2, id="extraction-flow"),
    pytest.param("schemas.json", None, "valid", 3, id="schemas"),
    pytest.param("dialect.yaml", None, "basic", 2, id="yaml-dialect-basic"),
    pytest.param("dialect.yaml", None, "full", 2, id="yaml-dialect-full"),
])
def test_passing_suites(httpbin, fixture, env, suite, tests):
    args = ["test", "-c", fx(fixture), "-s", suite] + (["-e", env] if env else [])
    proc = lunge(httpbin, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("✓ PASS") == tests, proc.stdout
    assert f"PASSED: suite {suite}" in proc.stdout and f"{tests}/{tests} tests passed" in proc.stdout


def test_failing_suite_names_expected_and_actual(httpbin, tmp_path):
    junit, out = tmp_path / "junit.xml", tmp_path / "results.json"
    proc = lunge(httpbin, "test", "-c", fx("httpbin-suite.json"), "-e", "local", "-s", "failing",
                 "--junit", str(junit), "--out", str(out))
    assert proc.returncode == 99, proc.stdout + proc.stderr
    assert "✗ FAIL   wrong on purpose" in proc.stdout
    assert "status is 201: expected 201, got 200" in proc.stdout
    assert "expected Not The Title, got Sample Slide Show" in proc.stdout
    assert "FAILED: suite failing in local: 1/2 tests passed, 2/4 assertions passed" in proc.stdout
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failures = [f.get("message") for f in root.iter("failure")]
    assert failures == ["status is 201", "path $.slideshow.title equals 'Not The Title'"]
    doc = json.loads(out.read_text())
    assert doc["passed"] is False and doc["summary"]["tests"] == 2 and doc["summary"]["assertionsPassed"] == 2
    assert [s["request"] for s in doc["steps"]] == ["slides", "newUuid"]


def test_schema_failures_list_violations(httpbin):
    proc = lunge(httpbin, "test", "-c", fx("schemas.json"), "-s", "invalid", "--format", "json")
    assert proc.returncode == 99
    doc = json.loads(proc.stdout)
    actual = [a["actual"] for s in doc["steps"] for t in s["tests"] for a in t["assertions"]]
    assert any("'id' is a required property" in a for a in actual)
    assert any("'missingField' is a required property" in a for a in actual)


def test_single_request_and_single_test(httpbin):
    proc = lunge(httpbin, "test", "-c", fx("dialect.yaml"), "-r", "listAnything")
    assert proc.returncode == 0 and "✓ PASS   listTest" in proc.stdout, proc.stdout + proc.stderr
    proc = lunge(httpbin, "test", "-c", fx("httpbin-suite.json"), "-e", "local", "-s", "checks", "-t", "a uuid")
    assert proc.returncode == 0 and proc.stdout.count("✓ PASS") == 1, proc.stdout + proc.stderr


def test_unreachable_server_fails_every_test(tmp_path):
    proc = cli("test", "-c", fx("httpbin-suite.json"), "-e", "local", "-s", "checks",
               env={"HTTPBIN_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 99
    assert "0/5 tests passed" in proc.stdout and "connect" in proc.stdout


@pytest.mark.parametrize("args, message", [
    pytest.param(["-s", "nope"], "unknown suite 'nope'", id="suite"),
    pytest.param(["-e", "prod", "-s", "checks"], "unknown environment 'prod'", id="environment"),
    pytest.param(["-e", "local"], "give one of -s SUITE", id="no-suite"),
])
def test_wrong_arguments_exit_104_and_send_nothing(args, message):
    proc = cli("test", "-c", fx("httpbin-suite.json"), *args, env={"HTTPBIN_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 104, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_run_v1_request_shows_the_response(httpbin):
    proc = lunge(httpbin, "run", "-c", fx("extraction-flow.json"), "-e", "local", "-r", "makeList")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "◀ 200 (" in proc.stdout and '"tag": "red"' in proc.stdout
    assert "extracted firstId, firstTagSeen" in proc.stdout
    proc = lunge(httpbin, "run", "-c", fx("extraction-flow.json"), "-e", "local", "-s", "flow")
    assert proc.returncode == 0 and proc.stdout.count("◀ 200") == 3, proc.stdout + proc.stderr


def test_curl_like_verbs(httpbin):
    proc = lunge(httpbin, "get", f"{httpbin}/get?x=1", "-H", "X-A: b", "-v")
    assert proc.returncode == 0 and '"X-A": "b"' in proc.stdout, proc.stdout + proc.stderr
    proc = lunge(httpbin, "post", f"{httpbin}/post", "-j", '{"k": 1}')
    assert proc.returncode == 0 and '"k": 1' in proc.stdout, proc.stdout + proc.stderr
    for verb in ("put", "delete"):
        proc = lunge(httpbin, verb, f"{httpbin}/{verb}")
        assert proc.returncode == 0 and "◀ 200" in proc.stdout, proc.stdout + proc.stderr
    proc = cli("get", "http://127.0.0.1:9/")
    assert proc.returncode == 99 and "connect" in proc.stdout


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.iterdir() if p.suffix in (".json", ".yaml")))
def test_every_fixture_validates(httpbin, fixture):
    proc = lunge(httpbin, "validate", fx(fixture))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_suite_as_load_test_counts_checks(httpbin, tmp_path):
    out = tmp_path / "results.json"
    proc = lunge(httpbin, "perf", "-c", fx("httpbin-suite.json"), "-e", "local", "-s", "checks",
                 "--rps", "5", "--duration", "2s", "--concurrency", "4", "-w", "1", "-q", "--no-history",
                 "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    checks = doc["metrics"]["checks"]
    iterations = doc["scenarios"]["checks"]["iterations"]["count"]
    # every assertion of every test is a check: 19 per iteration (all pass against httpbin);
    # the 20th, `exists: false` on a header, has no load-test check and is named on stderr
    assert iterations > 0 and checks == {**checks, "fails": 0, "passes": 19 * iterations}
    assert "test 'slides come back' assertion 5 (header X-Not-There exists) is not applied under load" in proc.stderr

def test_v2_file_with_lunge_templates_and_thresholds_runs(httpbin, tmp_path):
    out = tmp_path / "results.json"
    proc = lunge(httpbin, "run", fx("v2-load.yaml"), "-w", "1", "-q", "--no-history", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "only the first YAML document is read" in proc.stderr
    doc = json.loads(out.read_text())
    assert doc["metrics"]["checks"]["fails"] == 0
    assert len(doc["thresholds"]) == 7 and all(t["ok"] for t in doc["thresholds"]), doc["thresholds"]


def test_config_errors_name_the_v1_field(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({
        "environments": {"dev": {"baseUrl": "http://127.0.0.1:9"}},
        "requests": {"a": {"url": "/a/{{nope}}"}, "b": {"url": "/b"}},
        "suites": {"s": {"requests": ["b", "a"], "tests": [
            {"name": "t", "request": "b", "assertions": [{"path": "$.x", "between": 1}]}]}}}))
    proc = cli("test", "-c", str(bad), "-s", "s")
    assert proc.returncode == 104 and "Traceback" not in proc.stderr
    assert "suites.s.tests[0].assertions[0]: a path assertion takes one of" in proc.stderr, proc.stderr
    bad.write_text(bad.read_text().replace('"between"', '"exists"'))
    proc = cli("test", "-c", str(bad), "-s", "s")
    assert proc.returncode == 104
    assert "requests.a.url (step 2 of s): unknown template value '{{nope}}'" in proc.stderr, proc.stderr
