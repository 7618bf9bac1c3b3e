"""Issue 13: windowed thresholds with request and tag filters (`http_req_duration{request:login}
p(95)<100 over 2s`), judged on the seconds of the requests they name, in real runs (worker
processes, the embedded target): when only `login` is slow for a second, its filtered windows
fail (by request name, by tag, with several filters at once) while the unfiltered window and a
filter on the other requests pass; abortOnFail stops the run on a filtered window; bad filters
are config errors (exit 104) before anything is sent."""

from __future__ import annotations

from tests.support import cli, read_json, write_config


def _config(tmp_path, url: str, duration: int, spike_at: int, login_thresholds: str) -> str:
    # `steady`: 20 iterations a second of home, home2 and a quick login; `spike`: for one
    # second from `spike_at`, 20 more logins a second, each 150 ms slow
    return str(write_config(tmp_path, f"""
        name: filtered windows
        settings: {{baseUrl: "{url}"}}
        scenarios:
          steady:
            executor: constant-arrival-rate
            rate: 20
            duration: {duration}s
            preAllocatedVUs: 10
            tags: {{team: web}}
            requests:
              - {{name: home, url: /}}
              - {{name: home2, url: /}}
              - {{name: login, url: /delay/1, tags: {{flow: auth}}}}
          spike:
            executor: constant-arrival-rate
            rate: 20
            startTime: {spike_at}s
            duration: 1s
            preAllocatedVUs: 10
            maxVUs: 20
            requests:
              - {{name: login, url: /delay/150, tags: {{flow: auth}}}}
        thresholds:
{login_thresholds}
        """))


FINAL = """\
          "http_req_duration{request:login}": ["p(95)<100 over 2s"]
          "http_req_duration{flow:auth}": ["p(95)<100 over 2s"]
          "http_req_duration{scenario:steady,request:login}": ["p(95)<100 over 2s"]
          "http_req_duration{team:web,request:home}": ["p(95)<100 over 2s"]
          "http_req_failed{request:login}": ["rate<0.5 over 2s"]
          "http_reqs{flow:auth}": ["count>=10 over 2s"]
          http_req_duration: ["p(50)<100 over 2s"]"""


def test_only_the_slow_requests_filtered_windows_fail(tmp_path, fresh_target):
    out = tmp_path / "results.json"
    config = _config(tmp_path, fresh_target.url, duration=5, spike_at=2, login_thresholds=FINAL)
    proc = cli("run", config, "--out", str(out), "--workers", "2", "--no-history", "-q")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 99, proc.stderr
    judged = {t["metric"]: t for t in read_json(out)["thresholds"] if not t.get("default")}
    assert len(judged) == 7
    for metric in ("http_req_duration{request:login}", "http_req_duration{flow:auth}"):
        t = judged[metric]
        assert t["ok"] is False and t["window"] == 2, t
        assert t["observed"] >= 140 and t["firstFailure"] in (1, 2, 3), t    # the spike's windows
        assert t["windows"] >= 3 and "note" not in t, t
    # steady's logins alone were never slow: that filter passes on every window
    steady_login = judged["http_req_duration{scenario:steady,request:login}"]
    assert steady_login["ok"] is True and steady_login["observed"] < 100, steady_login
    home = judged["http_req_duration{team:web,request:home}"]
    assert home["ok"] is True and home["observed"] < 100 and "note" not in home, home
    # the run-wide window (home and home2 outnumber the slow logins) passes
    whole = judged["http_req_duration"]
    assert whole["ok"] is True and whole["observed"] < 100, whole
    failed = judged["http_req_failed{request:login}"]
    assert failed["ok"] is True and failed["observed"] == 0 and "note" not in failed, failed
    # 20 logins a second (40 in the spike's), so at least ~20 in any 2-second window (the
    # worst window of a `>=` threshold is its lowest count)
    count = judged["http_reqs{flow:auth}"]
    assert count["ok"] is True and 10 <= count["observed"] <= 80 and "note" not in count, count


def test_a_filtered_window_with_abort_on_fail_stops_the_run(tmp_path, fresh_target):
    out = tmp_path / "results.json"
    thresholds = """\
          "http_req_duration{request:login}":
            - {threshold: "p(95)<100 over 1s", abortOnFail: true}
          "http_req_duration{request:home}":
            - {threshold: "p(95)<100 over 1s", abortOnFail: true}"""
    config = _config(tmp_path, fresh_target.url, duration=20, spike_at=3, login_thresholds=thresholds)
    proc = cli("run", config, "--out", str(out), "--workers", "2", "--no-history", "-q")
    assert proc.returncode == 99, proc.stderr
    r = read_json(out)
    reason = r["abortReason"] or ""
    assert reason.startswith("threshold http_req_duration{request:login}: 'p(95)<100 over 1s' "
                             "crossed in the window"), reason
    assert r["durationSeconds"] < 12, r["durationSeconds"]      # long before the planned 20 s


def test_bad_filters_on_windows_are_config_errors(tmp_path, fresh_target):
    for metric, expected in (
            ('"http_req_duration{request:logn}"', "did you mean 'login'"),
            ('"http_req_duration{scenario:spike,request:home}"', "no request has every value"),
            ('"http_req_duration{flow:auht}"', "did you mean 'auth'"),
            ('"vus{request:login}"', "windows do not apply to the gauge")):
        expr = '"value<100 over 2s"' if metric.startswith('"vus') else '"p(95)<100 over 2s"'
        config = _config(tmp_path, fresh_target.url, 2, 1, f"          {metric}: [{expr}]")
        proc = cli("run", config, "--no-history", "-q")
        assert proc.returncode == 104, (metric, proc.stdout, proc.stderr)
        assert expected in proc.stderr, (metric, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert fresh_target.stats()["requests"] == 0          # nothing was sent
