"""What a k6 or Locust user types in their first hour: no flag is dropped silently, smoke
tests and throttled quick runs work, typos get a suggestion, history and baselines refuse to
mislead. Each runs the real CLI; the embedded target counts what it was sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import cli, read_json, write_config


@pytest.mark.parametrize("args, flags", [
    pytest.param(["--rate", "100", "--stages", "1s:10,2s:10"], ["--rate", "--stages"], id="rate+stages"),
    pytest.param(["--rate", "100", "--vus", "5"], ["--vus", "--rate"], id="rate+vus"),
    pytest.param(["--stages", "2s:3", "-d", "6s"], ["-d/--duration", "--stages"], id="stages+duration"),
    pytest.param(["--vus", "3", "--pattern", "sine:baseRate=5"], ["--vus", "--pattern"], id="vus+pattern"),
    pytest.param(["--iterations", "3", "--rate", "10"], ["--rate", "--iterations"], id="iterations+rate"),
    pytest.param(["--rate", "10", "--pacing", "1s"], ["--pacing", "--rate"], id="pacing-open-model"),
    pytest.param(["--executor", "constant-vus", "--max-vus", "5"], ["--max-vus", "--executor"], id="explicit"),
])
def test_conflicting_quick_flags_are_refused_naming_both(fresh_target, args, flags):
    proc = cli("perf", "--url", fresh_target.url + "/", *args, timeout=30)
    assert proc.returncode == 104, proc.stderr
    assert all(flag in proc.stderr for flag in flags), proc.stderr
    assert "Traceback" not in proc.stderr
    assert fresh_target.stats()["requests"] == 0


@pytest.mark.parametrize("args, expected", [
    pytest.param(["-d", "2sec"], "-d/--duration: invalid duration '2sec'", id="duration"),
    pytest.param(["--rate", "5", "--pre-allocated-vus", "20", "--max-vus", "5"],
                 "--max-vus: must be >= --pre-allocated-vus (20); raise --max-vus", id="max-vus-hint"),
    pytest.param(["--iterations", "0"], "--iterations: must be", id="iterations"),
    pytest.param(["--vus", "2", "--pacing", "2s-1s"], "--pacing (max): must be >= min", id="pacing"),
])
def test_quick_mode_errors_name_the_flag_not_the_config_path(fresh_target, args, expected):
    proc = cli("perf", "--url", fresh_target.url + "/", *args, timeout=30)
    assert proc.returncode == 104
    assert expected in proc.stderr and "scenarios.quick" not in proc.stderr, proc.stderr
    assert fresh_target.stats()["requests"] == 0


@pytest.mark.parametrize("args, sent, executor", [
    pytest.param(["--iterations", "1"], 1, "shared-iterations", id="one-iteration"),
    pytest.param(["--vus", "3", "--iterations", "7"], 7, "shared-iterations", id="shared"),
    pytest.param(["--executor", "per-vu-iterations", "--vus", "2", "--iterations", "3"], 6,
                 "per-vu-iterations", id="per-vu"),
    pytest.param(["--executor", "shared-iterations"], 1, "shared-iterations", id="executor-alone"),
])
def test_iteration_smoke_tests_send_exactly_what_was_asked(tmp_path, fresh_target, args, sent, executor):
    out = tmp_path / "r.json"
    proc = cli("perf", "--url", fresh_target.url + "/", *args, "-w", "2", "-q", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    r = read_json(out)
    assert r["scenarios"]["quick"]["executor"] == executor
    assert r["metrics"]["http_reqs"]["count"] == sent == fresh_target.stats()["requests"]


@pytest.mark.parametrize("flag, value", [("--pacing", "500ms"), ("--think-time", "500ms")])
def test_closed_quick_mode_can_be_throttled(tmp_path, fresh_target, flag, value):
    # 2 VUs for 2 s at one request per 0.5 s each: about 8; unthrottled this is thousands
    out = tmp_path / "r.json"
    proc = cli("perf", "--url", fresh_target.url + "/", "--vus", "2", "-d", "2s", flag, value,
               "-w", "1", "-q", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    seen = fresh_target.stats()["requests"]
    assert read_json(out)["metrics"]["http_reqs"]["count"] == seen
    assert 2 <= seen <= 12, seen


def test_quick_runs_are_named_by_their_load_unless_named(tmp_path, fresh_target):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    url = fresh_target.url + "/"
    assert cli("perf", "--url", url, "--iterations", "2", "-q", "-w", "1", "--out", str(a)).returncode == 0
    assert cli("perf", "--url", url, "--iterations", "1", "--name", "smoke", "-q", "-w", "1",
               "--out", str(b)).returncode == 0
    assert read_json(a)["name"] == f"perf GET {url} (1 VU, 2 iterations)"
    assert read_json(b)["name"] == "smoke"


CONFIG = """
name: Login chain
variables:
  token: {value: abc, secret: true}
scenarios:
  s:
    executor: shared-iterations
    vus: 1
    iterations: 1
    requests:
      - name: profile
        url: "%(url)s/json"
        headers: {X-Token: "{{token}}"}
"""


@pytest.mark.parametrize("edit, args, expected", [
    pytest.param(None, ["-e", "tokn=1"], "-e tokn: the config has no ${tokn} and no variable tokn, so the "
                 "value would be ignored; did you mean token?", id="env-typo"),
    pytest.param(('"{{token}}"', '"{{tokn}}"'), [], "unknown template value '{{tokn}}'; did you mean '{{token}}'?",
                 id="template-typo"),
    pytest.param(("        headers:", "        assertions: [{type: status, value: OK}]\n        headers:"), [],
                 "a status is a number from 100 to 599", id="status-value"),
    pytest.param(("scenarios:", 'thresholds: {"http_req_duration{request:profil}": ["p(95)<100"]}\nscenarios:'), [],
                 "unknown request 'profil' in tag filter; did you mean 'profile'?", id="request-filter"),
    pytest.param(("    executor: shared-iterations\n    vus: 1\n    iterations: 1",
                  "    executor: pattern\n    pattern: {type: sine, base: 10, amplitude: 5, period: 1s, duration: 1s}"),
                 [], "did you mean 'baseRate'?", id="pattern-key"),
])
def test_typos_are_caught_at_load_with_a_suggestion(tmp_path, fresh_target, edit, args, expected):
    text = CONFIG % {"url": fresh_target.url}
    if edit:
        text = text.replace(*edit)
    path = write_config(tmp_path, text)
    for command in (["validate", str(path), *args], ["run", str(path), *args, "-q"]):
        proc = cli(*command, timeout=30)
        assert proc.returncode == 104, (command, proc.stdout, proc.stderr)
        assert expected in proc.stderr, proc.stderr
    assert fresh_target.stats()["requests"] == 0


def _results(tmp_path, file: str, **changes) -> str:
    doc = json.loads((Path(__file__).parent.parent / "fixtures" / "compare_baseline.json").read_text())
    doc.update(changes)
    path = tmp_path / f"{file}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_compare_and_baseline_refuse_what_would_mislead_unless_forced(tmp_path):
    env = {"LUNGE_MP_STORE": str(tmp_path / "h.db")}
    good = _results(tmp_path, "good", runId="good-run")
    failed = _results(tmp_path, "failed", runId="failed-run", status="failed", exitCode=99)
    other = _results(tmp_path, "other", runId="other-run", name="Checkout")

    proc = cli("baseline", "set", "api", failed, env=env)
    assert proc.returncode == 104 and "ended failed (exit 99)" in proc.stderr and "--force" in proc.stderr
    assert cli("baseline", "set", "api", failed, "--force", env=env).returncode == 0
    assert cli("baseline", "set", "api", good, env=env).returncode == 0

    proc = cli("compare", other, "--baseline", "api", env=env)
    assert proc.returncode == 104, proc.stdout
    assert "a run of 'Checkout', but baseline 'api' is a run of 'Demo'" in proc.stderr
    assert "REGRESSED" not in proc.stdout
    assert cli("compare", other, "--baseline", "api", "--force", env=env).returncode in (0, 99)


def test_history_matches_names_ignoring_case_and_by_part(tmp_path):
    env = {"LUNGE_MP_STORE": str(tmp_path / "h.db")}
    for name, run in (("Login chain", "r1"), ("Checkout", "r2")):
        assert cli("record", _results(tmp_path, run, runId=run, name=name), env=env).returncode == 0
    proc = cli("history", "--name", "login", env=env)
    assert proc.returncode == 0
    assert "runs of 'Login chain' (names containing 'login', ignoring case)" in proc.stdout
    assert "r1" in proc.stdout and "r2" not in proc.stdout
    assert [r["runId"] for r in json.loads(cli("history", "--name", "LOGIN", "--json", env=env).stdout)] == ["r1"]
    assert "no recorded test has a name containing 'nope'" in cli("history", "--name", "nope", env=env).stdout


# -- conventions: run --threshold, --env-file, the banner, help that explains itself ------------

RUN_CONFIG = """
name: conventions
settings: {baseUrl: "${BASE_URL}"}
variables: {token: abc}
scenarios:
  s:
    executor: shared-iterations
    vus: 2
    iterations: 4
    requests:
      - {name: root, url: /, headers: {X-T: "{{token}}"}}
"""


def test_run_takes_thresholds_and_an_env_file_and_says_what_it_will_run(tmp_path, fresh_target):
    config = write_config(tmp_path, RUN_CONFIG)
    env_file = tmp_path / "staging.env"
    env_file.write_text(f"# staging\nexport BASE_URL='{fresh_target.url}'\ntoken=\"from-file\"\n")
    out = tmp_path / "r.json"
    proc = cli("run", str(config), "--env-file", str(env_file), "--threshold", "http_reqs:count<3",
               "-w", "1", "--out", str(out))
    assert proc.returncode == 99, proc.stderr                     # 4 requests break count<3
    r = read_json(out)
    assert [(t["metric"], t["expression"], t["ok"]) for t in r["thresholds"]] == [
        ("http_reqs", "count<3", False), ("http_req_failed", "rate<0.01", True)]   # and the default one
    assert fresh_target.stats()["requests"] == 4
    banner = proc.stderr.split("\n[", 1)[0]
    assert "conventions: " in banner and "1 worker, transport fast" in banner
    assert "* s: shared-iterations, 2 VUs, 4 iterations" in banner and f"output: {out}" in banner
    # -e wins over the file; an unreadable line is refused before anything is sent
    env_file.write_text("BASE_URL=http://127.0.0.1:9\nnot a pair\n")
    proc = cli("run", str(config), "--env-file", str(env_file), "-q")
    assert proc.returncode == 104 and "line 2: not KEY=VALUE" in proc.stderr
    assert fresh_target.stats()["requests"] == 4


def test_every_command_explains_itself_with_examples_and_whole_descriptions():
    top = cli("--help").stdout
    commands = [line.split()[0] for line in top.split("Commands:", 1)[1].splitlines() if line.strip()]
    assert {"run", "perf", "validate", "report", "target", "compare", "history", "record", "baseline"} <= set(commands)
    assert "..." not in top.split("Commands:", 1)[1], top
    for command in commands:
        text = cli(command, "--help").stdout
        assert "Example" in text, f"`lunge-mp {command} --help` shows no example"


def test_short_flags_have_one_meaning_and_old_spellings_still_work(tmp_path):
    env = {"LUNGE_MP_STORE": str(tmp_path / "h.db")}
    base = _results(tmp_path, "base", runId="b1")
    assert cli("baseline", "set", "api", base, env=env).returncode == 0
    for flag in ("-m", "--max-regression", "-r"):       # -r: the old spelling, kept working
        proc = cli("compare", base, "-b", "api", flag, "p95=5%", env=env)
        assert proc.returncode == 0, (flag, proc.stderr)
    assert "-m, --max-regression" in cli("compare", "--help").stdout
