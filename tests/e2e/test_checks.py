"""The `checks` metric end to end: assertions counted by real workers against the embedded
target, summed per request, scenario and run, judged by a `checks` threshold, shown in the
summary."""

from __future__ import annotations

import re

from tests.support import cli, run_config


def test_checks_count_every_assertion_and_a_checks_threshold_fails_with_the_right_value(tmp_path, fresh_target):
    # 2 VUs × 5 iterations = 10 iterations; each: `home` (2 assertions that hold) and
    # `down` (/status/503 asserted to be 200: one assertion that fails)
    proc, r = run_config(tmp_path, f"""
        name: checks
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          api:
            executor: per-vu-iterations
            vus: 2
            iterations: 5
            requests:
              - name: home
                url: /
                assertions:
                  - {{type: status, condition: eq, value: 200}}
                  - {{type: status, condition: lt, value: 400}}
              - name: down
                url: /status/503
                assertions: [{{type: status, condition: eq, value: 200}}]
          quiet:
            executor: per-vu-iterations
            vus: 1
            iterations: 3
            requests: [{{name: plain, url: /json}}]
        thresholds:
          checks: ["rate>0.9"]
          "checks{{request:home}}": ["rate==1"]
          "checks{{scenario:api}}": ["rate>0.6 over 1s"]
        """, workers=2)
    out = tmp_path / "results.json"
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 99, proc.stderr
    assert r["status"] == "failed" and r["exitCode"] == 99
    assert r["metrics"]["checks"] == {"passes": 20, "fails": 10, "rate": 0.666667}
    assert r["scenarios"]["api"]["checks"] == {"passes": 20, "fails": 10, "rate": 0.666667}
    assert r["scenarios"]["quiet"]["checks"] == {"passes": 0, "fails": 0, "rate": None}
    assert r["requests"]["home"]["checks"] == {"passes": 20, "fails": 0, "rate": 1.0}
    assert r["requests"]["down"]["checks"] == {"passes": 0, "fails": 10, "rate": 0.0}
    assert r["requests"]["plain"]["checks"] == {"passes": 0, "fails": 0, "rate": None}
    # the failing assertion's request is an http_5xx failure, as before
    assert r["requests"]["down"]["http_req_failed"]["byClass"] == {"http_5xx": 10}
    # the 1-second buckets add up to the totals
    assert sum(b.get("checksPassed", 0) for b in r["buckets"]) == 20
    assert sum(b.get("checksFailed", 0) for b in r["buckets"]) == 10
    assert sum(b["byScenario"].get("api", {}).get("checksFailed", 0) for b in r["buckets"]) == 10

    run, home, windowed = [t for t in r["thresholds"] if not t.get("default")]   # the config's own
    assert (run["metric"], run["ok"]) == ("checks", False)
    assert abs(run["observed"] - 20 / 30) < 1e-9
    assert (home["ok"], home["observed"]) == (True, 1.0)
    assert windowed["ok"] is True and abs(windowed["observed"] - 2 / 3) < 1e-9
    assert "checks        30 assertions: 20 passed, 10 failed (66.67% passed)" in proc.stdout
    assert "FAIL  checks: rate>0.9  (observed 0.6667 (66.67%))" in proc.stdout
    # k6's list: each check by name under its request, with passes/total and the first failure
    tree = proc.stdout.split("\n  checks\n", 1)[1].split("\n\n", 1)[0]
    assert "    home (api)" in tree and "    down (api)" in tree
    assert re.search(r"(✓|ok) status eq 200 +10/10", tree) and re.search(r"(✓|ok) status lt 400 +10/10", tree)
    assert re.search(r"(✗|x ) status eq 200 +0/10   first failure: .*503", tree), tree
    assert [(c["request"], c["check"], c["passes"], c["fails"]) for c in r["checkResults"]] == [
        ("home", "status eq 200", 10, 0), ("home", "status lt 400", 10, 0), ("down", "status eq 200", 0, 10)]

    again = cli("report", str(out), "--csv", str(tmp_path / "b.csv"), "--junit", str(tmp_path / "j.xml"),
                "--html", str(tmp_path / "r.html"))
    assert again.returncode == 0, again.stderr
    assert "20 passed, 10 failed" in again.stdout


def test_a_run_without_assertions_has_no_checks_line_and_a_checks_threshold_has_no_data(tmp_path, fresh_target):
    proc, r = run_config(tmp_path, f"""
        name: no checks
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          api: {{executor: per-vu-iterations, vus: 1, iterations: 3, requests: [{{url: /}}]}}
        thresholds:
          checks: ["rate>0.9"]
        """, workers=1)
    assert proc.returncode == 99, proc.stderr
    assert r["metrics"]["checks"] == {"passes": 0, "fails": 0, "rate": None}
    [t] = [t for t in r["thresholds"] if not t.get("default")]   # the config's own
    assert t["observed"] is None and t["ok"] is False
    assert "  checks  " not in proc.stdout
