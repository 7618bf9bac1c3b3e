"""A `unique` data file that runs out of rows in an open-model run: the arrivals it cannot
feed are dropped as data_exhausted, which is the data's limit, not the load generator's. The
run stays valid (no exit 113), efficiency is not lowered, and the warning says which file ran
out instead of saying the generator fell behind."""

from __future__ import annotations

from tests.support import run_config


def test_a_unique_data_file_running_out_is_not_the_generator_falling_behind(tmp_path, fresh_target):
    (tmp_path / "users.csv").write_text("email\n" + "".join(f"u{i}@example.org\n" for i in range(6)))
    proc, r = run_config(tmp_path, f"""
        name: few rows
        settings: {{baseUrl: "{fresh_target.url}"}}
        options: {{minEfficiency: 0.95}}
        data: [{{name: users, file: users.csv, mode: unique}}]
        scenarios:
          signup:
            executor: constant-arrival-rate
            rate: 30
            duration: 1s
            requests: [{{name: home, url: "/?user={{{{users.email}}}}"}}]
        """, workers=2)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, (proc.returncode, r["warnings"])
    assert r["status"] == "passed"
    signup = r["scenarios"]["signup"]
    assert signup["iterations"]["count"] == 6
    assert signup["dropped_iterations"] == {"count": 24, "byCause": {"data_exhausted": 24}}
    assert fresh_target.stats()["requests"] == 6
    # the 6 arrivals that had a row all started: nothing was dropped for want of a VU or time
    assert r["efficiency"] == {"overall": 1.0, "byScenario": {"signup": 1.0}}
    assert [w for w in r["warnings"] if "signup" in w] == [
        "scenario signup: 24 iterations dropped because data file users.csv ran out of unique rows "
        "(not counted against efficiency); add rows, shorten the run or lower the rate, or use mode "
        "sequential or random to reuse rows"]
    assert not any("fell behind" in w for w in r["warnings"])
    # per second: the drops are marked as data exhaustion, and no knee is seen
    assert sum(b.get("dataExhausted", 0) for b in r["buckets"]) == 24
    assert sum(b["byScenario"].get("signup", {}).get("dataExhausted", 0) for b in r["buckets"]) == 24
    assert not [a for a in r["anomalies"] if a["kind"] == "knee"]


def test_a_closed_model_scenario_whose_unique_rows_run_out_ends_early_with_a_warning(tmp_path, fresh_target):
    """Each VU that finds the file used up stops looping and counts one data_exhausted drop
    (the iteration it could not start); the results and summary say the scenario ended early."""
    (tmp_path / "users.csv").write_text("email,n\n" + "".join(f"u{i}@example.org,{i}\n" for i in range(6)))
    proc, r = run_config(tmp_path, f"""
        name: few rows closed
        settings: {{baseUrl: "{fresh_target.url}"}}
        data: [{{name: users, file: users.csv, mode: unique}}]
        scenarios:
          browse:
            executor: constant-vus
            vus: 3
            duration: 2s
            requests: [{{name: home, url: "/bytes/{{{{users.n}}}}"}}]
        """, workers=2)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, (proc.returncode, r["warnings"])
    browse = r["scenarios"]["browse"]
    assert browse["iterations"]["count"] == 6 == fresh_target.stats()["requests"]
    assert browse["dropped_iterations"] == {"count": 3, "byCause": {"data_exhausted": 3}}   # one per VU
    assert fresh_target.stats()["byPath"] == {f"/bytes/{i}": 1 for i in range(6)}     # each row once
    warning = ("scenario browse ended early: data file users.csv ran out of unique rows, so 3 VUs stopped "
               "before the scenario's end (each counted as one data_exhausted dropped iteration); add rows, "
               "shorten the run or use fewer VUs or iterations, or use mode sequential or random to reuse rows")
    assert [w for w in r["warnings"] if "browse" in w] == [warning]
    assert "warning: scenario browse ended early: data file users.csv ran out" in proc.stdout
    assert sum(b.get("dataExhausted", 0) for b in r["buckets"]) == 3
    assert r["efficiency"]["overall"] is None


def test_the_warmup_reads_unique_rows_without_using_them_up(tmp_path, fresh_target):
    """The warmup runs the scenario's requests over the file as `sequential`: the measured test
    still gets every row of a unique file exactly once."""
    (tmp_path / "users.csv").write_text("email\n" + "".join(f"u{i}@example.org\n" for i in range(10)))
    proc, r = run_config(tmp_path, f"""
        name: warmup and unique rows
        settings: {{baseUrl: "{fresh_target.url}"}}
        options: {{warmup: {{duration: 1s, rate: 30}}}}
        data: [{{name: users, file: users.csv, mode: unique}}]
        scenarios:
          signup:
            executor: constant-arrival-rate
            rate: 10
            duration: 1s
            requests: [{{name: home, url: "/?user={{{{users.email}}}}"}}]
          profile:
            executor: per-vu-iterations
            vus: 1
            iterations: 1
            data: [{{name: own, file: users.csv, mode: unique}}]
            requests: [{{name: me, url: "/?me={{{{own.email}}}}"}}]
        """, workers=2)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, (proc.returncode, r["warnings"])
    warm = r["warmup"]
    assert warm["iterations"]["count"] >= 20                 # more iterations than the file has rows
    assert warm["dropped_iterations"]["byCause"].get("data_exhausted", 0) == 0
    signup = r["scenarios"]["signup"]
    assert signup["iterations"]["count"] == 10
    assert signup["dropped_iterations"]["count"] == 0
    assert r["scenarios"]["profile"]["iterations"]["count"] == 1
    assert not any("ran out" in w for w in r["warnings"]), r["warnings"]
