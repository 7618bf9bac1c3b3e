"""`lunge-mp perf -c` with Lunge v1 files, and `lunge-mp validate`, as a user runs them."""

from __future__ import annotations

import json

import pytest

from tests.support import cli, read_json, write_config


def v1_file(tmp_path, base_url: str) -> str:
    doc = {
        "environments": {"dev": {"baseUrl": base_url, "variables": {"who": "ann"}},
                         "other": {"baseUrl": "http://127.0.0.1:1", "variables": {"who": "bob"}}},
        "requests": {"getJson": {"url": "/json", "headers": {"X-Who": "{{who}}"}},
                     "echo": {"url": "/post", "method": "POST", "body": {"who": "{{who}}"}}},
        "suites": {"smoke": {"requests": ["getJson"]}},
        "performance": {"steady": {"request": "getJson", "load": {"rps": 40, "duration": "1s", "concurrency": 5},
                                   "thresholds": {"maxErrorRate": 0.01, "maxResponseTime": "2s"}}},
    }
    path = tmp_path / "api.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_perf_runs_a_v1_performance_test(tmp_path, fresh_target):
    out = tmp_path / "r.json"
    proc = cli("perf", "-c", v1_file(tmp_path, fresh_target.url), "-e", "dev", "-p", "steady",
               "--out", str(out), "-w", "2", "-q", "--no-history")
    assert proc.returncode == 0, proc.stderr
    r = read_json(out)
    assert r["name"] == "steady (dev)" and r["scenarios"]["steady"]["executor"] == "constant-arrival-rate"
    assert r["metrics"]["http_reqs"]["count"] == 40 == fresh_target.stats()["requests"]
    assert sorted(r["requests"]) == ["getJson"]
    assert [t["expression"] for t in r["thresholds"]] == ["max <= 2000", "rate <= 0.01"]
    assert all(t["ok"] for t in r["thresholds"])


def test_perf_runs_one_v1_request_with_the_load_from_the_flags(tmp_path, fresh_target):
    out = tmp_path / "r.json"
    proc = cli("perf", "-c", v1_file(tmp_path, fresh_target.url), "-e", "dev", "-r", "echo",
               "--concurrency", "2", "--iterations", "7", "--threshold", "http_req_failed:rate<0.01",
               "--out", str(out), "-w", "1", "-q", "--no-history")
    assert proc.returncode == 0, proc.stderr
    r = read_json(out)
    assert r["scenarios"]["echo"]["executor"] == "shared-iterations"
    assert r["metrics"]["http_reqs"]["count"] == 7 == fresh_target.stats()["requests"]


@pytest.mark.parametrize("args, words", [
    pytest.param(["-e", "prod", "-p", "steady"], ["-e/--environment: unknown environment 'prod'"], id="env"),
    pytest.param(["-e", "dev"], ["-p/-r: give one of -p TEST"], id="no-test"),
    pytest.param(["-e", "dev", "-p", "steady", "--rps", "0"], ["--rps: must be a number"], id="bad-rps"),
    pytest.param(["-e", "dev", "-p", "steady", "--vus", "3"], ["--vus only applies with --url"], id="quick-flag"),
    pytest.param(["-e", "dev", "-p", "steady", "--url", "http://x/"], ["give -c FILE"], id="both-modes"),
])
def test_perf_v1_mistakes_exit_104_and_send_nothing(tmp_path, fresh_target, args, words):
    proc = cli("perf", "-c", v1_file(tmp_path, fresh_target.url), *args, "-q", "--no-history")
    assert proc.returncode == 104, proc.stderr
    for w in words:
        assert w in proc.stderr
    assert "Traceback" not in proc.stderr
    assert fresh_target.stats()["requests"] == 0


def test_perf_quick_mode_refuses_v1_flags():
    proc = cli("perf", "--url", "http://127.0.0.1:1/", "-r", "getJson")
    assert proc.returncode == 104 and "-r/--request only applies with -c FILE" in proc.stderr


def test_run_points_v1_files_to_perf(tmp_path):
    proc = cli("run", v1_file(tmp_path, "http://127.0.0.1:1"))
    assert proc.returncode == 104 and "lunge-mp perf -c" in proc.stderr and "-p TEST" in proc.stderr


V2 = """
    name: checkout
    settings: {baseUrl: "${BASE:-http://127.0.0.1:1}"}
    data: [{name: users, file: users.csv, mode: unique}]
    scenarios:
      browse:
        executor: ramping-vus
        stages: [{duration: 10s, target: 5}, {duration: 20s, target: 5}]
        requests:
          - {name: login, method: POST, url: /login, form: {user: "{{users.email}}"}}
      steady:
        executor: constant-arrival-rate
        rate: 5
        duration: 1m
        requests: [{url: /}]
    thresholds: {http_req_failed: ["rate < 1%"]}
    """


def test_validate_summarises_a_good_v2_config(tmp_path):
    (tmp_path / "users.csv").write_text("email\na@x\nb@x\n")
    proc = cli("validate", str(write_config(tmp_path, V2)), "-e", "BASE=http://127.0.0.1:2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1
    assert proc.stdout == (
        f"ok: {tmp_path / 'test.yaml'}: 'checkout': 2 scenarios: browse (ramping-vus, up to 5 VUs, 30s, 1 request), "
        f"steady (constant-arrival-rate, 5/s, 1m, 1 request); data users (unique, 2 rows); 1 threshold\n")


def test_validate_lists_every_problem_and_exits_104(tmp_path):
    (tmp_path / "users.csv").write_text("mail\na@x\n")
    bad = V2.replace("rate: 5", "rate: -5").replace("ramping-vus", "ramping-vu")
    proc = cli("validate", str(write_config(tmp_path, bad)))
    assert proc.returncode == 104 and proc.stdout == ""
    assert "scenarios.browse.executor: unknown executor 'ramping-vu'" in proc.stderr
    assert "scenarios.steady.rate: must be > 0" in proc.stderr
    proc = cli("validate", str(write_config(tmp_path, V2.replace("url: /}", 'url: "/{{nope}}"}'))))
    assert proc.returncode == 104
    assert "data source 'users' (users.csv) has no column 'email'; its columns are mail" in proc.stderr
    assert "scenarios.steady.requests[0].url: unknown template value '{{nope}}'" in proc.stderr


def test_validate_checks_v1_files(tmp_path):
    path = v1_file(tmp_path, "http://127.0.0.1:1")
    proc = cli("validate", path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (f"ok: {path}: Lunge v1: environments dev, other; 2 requests; performance tests "
                           f"steady (getJson: constant-arrival-rate, 40/s, 1s, 5 VUs max); "
                           f"suites smoke (1 request, 0 tests)\n")
    doc = json.loads(open(path).read())
    doc["requests"]["getJson"]["url"] = "/json/{{missing}}"
    doc["performance"]["steady"]["load"]["rps"] = "fast"
    doc["suites"]["smoke"]["requests"] = ["getJSON"]
    del doc["environments"]["other"]["variables"]
    (tmp_path / "api.json").write_text(json.dumps(doc))
    proc = cli("validate", path)
    assert proc.returncode == 104
    assert "suites.smoke.requests[0]: unknown request 'getJSON'; did you mean 'getJson'?" in proc.stderr
    assert "performance.steady.load.rps: must be a number of requests per second > 0" in proc.stderr
    assert "requests.getJson.url (in environment dev): unknown template value '{{missing}}'" in proc.stderr
    assert "requests.echo.body (in environment other): unknown template value '{{who}}'" in proc.stderr
