"""A request that cannot be sent because a `{{name}}` has no value at run time is a failed
request of class `template` (like a DNS error, it never reaches the server): counted in
http_reqs and http_req_failed per request, per scenario, in the run's totals and in the
1-second buckets, so failure-rate thresholds (also over windows) see it. It has no latency
sample: nothing was timed."""

from __future__ import annotations

from tests.support import run_config


def test_template_errors_are_failed_requests_that_thresholds_see(tmp_path, fresh_target):
    # 2 VUs × 5 iterations; each: `fetch` (200, extracts nothing: the path matches nothing),
    # then `use`, whose {{token}} never has a value: not sent, class template
    proc, r = run_config(tmp_path, f"""
        name: template errors
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          api:
            executor: per-vu-iterations
            vus: 2
            iterations: 5
            requests:
              - name: fetch
                url: /json
                extract: [{{name: token, source: body, path: $.no_such_field}}]
              - name: use
                url: "/?t={{{{token}}}}"
        thresholds:
          http_req_failed: ["rate<0.01"]
          "http_req_failed{{scenario:api}}": ["rate<0.01 over 1s"]
        """, workers=2)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 99, proc.stderr
    assert fresh_target.stats()["requests"] == 10        # only `fetch` reached the target
    m = r["metrics"]
    assert m["http_reqs"]["count"] == 20
    assert m["http_req_failed"]["count"] == 10 and m["http_req_failed"]["rate"] == 0.5
    assert m["http_req_failed"]["byClass"] == {"template": 10}
    assert "token" in m["http_req_failed"]["firstError"]["template"]
    assert m["http_req_duration"]["count"] == 10         # no latency sample for an unsent request
    api = r["scenarios"]["api"]
    assert (api["http_reqs"]["count"], api["http_req_failed"]["count"]) == (20, 10)
    use, fetch = r["requests"]["use"], r["requests"]["fetch"]
    assert use["http_reqs"]["count"] == 10 and use["http_req_failed"]["rate"] == 1.0
    assert use["http_req_failed"]["byClass"] == {"template": 10}
    assert use["http_req_duration"]["count"] == 0
    assert fetch["http_req_failed"]["count"] == 0
    # per second, as in the totals
    assert sum(b["requests"] for b in r["buckets"]) == 20
    assert sum(b["failures"] for b in r["buckets"]) == 10
    assert sum(b["errors"].get("template", 0) for b in r["buckets"]) == 10
    assert sum(b["byScenario"]["api"]["failures"] for b in r["buckets"] if "api" in b["byScenario"]) == 10
    whole, windowed = r["thresholds"]
    assert (whole["ok"], whole["observed"]) == (False, 0.5)
    assert windowed["ok"] is False and windowed["window"] == 1
    assert "failed 10 (50.00%)" in proc.stdout and "template     10 not sent" in proc.stdout


def test_abort_on_fail_stops_a_run_whose_template_errors_break_the_failure_rate(tmp_path, fresh_target):
    proc, r = run_config(tmp_path, f"""
        name: template abort
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          api:
            executor: constant-vus
            vus: 1
            duration: 30s
            requests:
              - {{name: fetch, url: /json, extract: [{{name: token, source: body, path: $.nope}}]}}
              - {{name: use, url: "/?t={{{{token}}}}"}}
        thresholds:
          http_req_failed:
            - {{threshold: "rate<0.01", abortOnFail: true}}
        """, "-q", workers=1)
    assert proc.returncode == 99, proc.stderr
    assert r["status"] == "failed" and "abortOnFail" in (r["abortReason"] or "")
    assert r["wallSeconds"] < 15
