"""`lunge-mp profile ...` as a user runs it: real processes, a real store, the embedded target."""

from __future__ import annotations

import json
import sqlite3

import pytest

from lunge_mp.store.profile_crypto import ENV_VAR as KEY_ENV
from tests.support import cli, read_json, write_config

SECRET = "cli-secret-Qw93-unique"
TOKEN = "cli-token-Lk41-unique"

CONFIG = """
name: Profiled
settings:
  baseUrl: "${TARGET_URL}"
  headers: {Authorization: "Bearer %(token)s"}
variables:
  api_key: {value: "%(secret)s", secret: true}
scenarios:
  api:
    executor: constant-arrival-rate
    rate: 20
    duration: 1s
    requests:
      - url: /post
        method: POST
        body: '{"key": "{{api_key}}"}'
        assertions:
          - {type: status, condition: eq, value: "200"}
          # the echo holds what was sent: the decrypted secrets reached the wire
          - {type: body, condition: contains, value: "%(secret)s"}
          - {type: body, condition: contains, value: "%(token)s"}
""" % {"secret": SECRET, "token": TOKEN}


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private store, key and audit log for each test."""
    monkeypatch.setenv("LUNGE_MP_STORE", str(tmp_path / "store" / "history.db"))
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv("LUNGE_MP_AUDIT_LOG", raising=False)
    return tmp_path / "store"


def no_secret_in(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text and TOKEN not in text


def test_save_list_show_run_and_the_run_names_its_profile(tmp_path, env, fresh_target):
    config = write_config(tmp_path, CONFIG)
    url = f"TARGET_URL={fresh_target.url}"
    saved = cli("profile", "save", "nightly", str(config), "-e", url, "--description", "every night",
                "--tag", "nightly", "--environment", "local", "--field", "team=web")
    assert saved.returncode == 0, saved.stderr
    assert "saved as v1" in saved.stdout and "made the profile key" in saved.stderr
    again = cli("profile", "save", "nightly", str(config), "-e", url)
    assert "saved as v2" in again.stdout and "made the profile key" not in again.stderr

    listed = cli("profile", "list")
    assert listed.returncode == 0 and "nightly" in listed.stdout and "every night" in listed.stdout
    as_json = json.loads(cli("profile", "list", "--json", "--tag", "nightly").stdout)
    assert [(p["name"], p["version"], p["secrets"]) for p in as_json] == [("nightly", 2, 4)]
    shown = cli("profile", "show", "nightly", "--version", "1")
    assert shown.returncode == 0 and "v1 of 2" in shown.stdout and "team: web" in shown.stdout
    assert "variables.api_key.value (encrypted)" in shown.stdout
    no_secret_in(saved.stdout, saved.stderr, listed.stdout, shown.stdout)

    out = tmp_path / "results.json"
    run = cli("profile", "run", "nightly", "--out", str(out), "-w", "1")
    assert run.returncode == 0, run.stderr
    results = read_json(out)
    assert results["profile"]["name"] == "nightly" and results["profile"]["version"] == 2
    assert results["source"] == "profile nightly v2"
    assert results["metrics"]["checks"]["fails"] == 0 and results["metrics"]["checks"]["passes"] == 60
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"] == 20
    no_secret_in(run.stdout, run.stderr, out.read_text())
    history = json.loads(cli("history", "--json").stdout)
    assert (history[0]["runId"], history[0]["profile"], history[0]["profileVersion"]) == \
        (results["runId"], "nightly", 2)
    audit = [json.loads(line) for line in (env / "audit.log").read_text().splitlines()]
    assert [(a["action"], a.get("version"), a["identity"]) for a in audit] == [
        ("profile.save", 1, "local"), ("profile.save", 2, "local"), ("profile.run", 2, "local")]
    for path in env.iterdir():
        data = path.read_bytes()
        assert SECRET.encode() not in data and TOKEN.encode() not in data, path


def test_invalid_configs_and_names_exit_104_and_store_nothing(tmp_path, env):
    bad = write_config(tmp_path, CONFIG.replace("rate: 20", "rate: 0"), "bad.yaml")
    good = write_config(tmp_path, CONFIG, "good.yaml")
    huge = tmp_path / "huge.yaml"
    huge.write_text(CONFIG + "\n# padding\n" + ("#" * 1023 + "\n") * 10_240)      # 10 MB
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps({"environments": {"dev": {"baseUrl": "http://127.0.0.1:9"}},
                              "requests": {"r": {"url": "/"}}}))
    bomb = tmp_path / "bomb.yaml"          # "billion laughs": 1 KB of YAML, 43 million values
    bomb.write_text("name: bomb\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh")) + "scenarios: {}\n")
    loop = tmp_path / "loop.yaml"
    loop.write_text("name: loop\na: &a [*a]\nscenarios: {}\n")
    cases = [
        (("save", "p", str(bomb)), "more than 50,000 values"),
        (("save", "p", str(loop)), "inside the node &a it repeats"),
        (("import", str(huge)), "over 2 MB"),
        (("save", "p", str(bad), "-e", "TARGET_URL=http://127.0.0.1:9"), "scenarios.api.rate: must be > 0"),
        (("save", "p", str(good)), "TARGET_URL"),                               # unset ${VAR}
        (("save", "p", str(huge), "-e", "TARGET_URL=http://127.0.0.1:9"), "at most 1 MB"),
        (("save", "p", str(v1)), "Lunge v1"),
        (("save", "../p", str(good), "-e", "TARGET_URL=http://127.0.0.1:9"), "may hold only"),
        (("save", "", str(good), "-e", "TARGET_URL=http://127.0.0.1:9"), "needs a name"),
        (("save", "p", str(tmp_path / "missing.yaml")), "no such file"),
        (("show", "nope"), "no profile 'nope'"),
        (("run", "nope"), "no profile 'nope'"),
        (("delete", "nope"), "no profile 'nope'"),
    ]
    for args, expected in cases:
        proc = cli("profile", *args)
        assert proc.returncode == 104, (args, proc.stderr)
        assert expected in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
        no_secret_in(proc.stderr)
    assert json.loads(cli("profile", "list", "--json").stdout) == []


def test_secrets_without_the_key_or_with_another_key(tmp_path, env, fresh_target):
    config = write_config(tmp_path, CONFIG)
    assert cli("profile", "save", "p", str(config), "-e", f"TARGET_URL={fresh_target.url}").returncode == 0
    (env / "profiles.key").rename(tmp_path / "kept.key")
    listed = cli("profile", "list")
    assert listed.returncode == 0 and "p " in listed.stdout                 # listing needs no key
    missing = cli("profile", "run", "p", "-q")
    assert missing.returncode == 104
    assert "variables.api_key.value: no key" in missing.stderr and "nothing was sent" in missing.stderr
    other = cli("profile", "key", "--new")
    wrong = cli("profile", "run", "p", "-q", env={KEY_ENV: other.stdout.strip()})
    assert wrong.returncode == 104 and "the wrong key" in wrong.stderr
    assert fresh_target.stats()["requests"] == 0
    (tmp_path / "kept.key").rename(env / "profiles.key")
    assert "profile key" in cli("profile", "key").stdout


def test_export_import_share_and_delete(tmp_path, env, fresh_target):
    config = write_config(tmp_path, CONFIG)
    assert cli("profile", "save", "p", str(config), "-e", f"TARGET_URL={fresh_target.url}").returncode == 0
    exported = cli("profile", "export", "p")
    assert exported.returncode == 0 and json.loads(exported.stdout)["format"] == "lunge_mp profile"
    bare = cli("profile", "export", "p", "--without-secrets")
    no_secret_in(exported.stdout, bare.stdout)
    (tmp_path / "p.json").write_text(exported.stdout)
    (tmp_path / "bare.json").write_text(bare.stdout)

    duplicate = cli("profile", "import", str(tmp_path / "p.json"))
    assert duplicate.returncode == 104 and "already exists" in duplicate.stderr
    assert cli("profile", "import", str(tmp_path / "p.json"), "--as", "p-copy").returncode == 0
    imported = cli("profile", "import", str(tmp_path / "bare.json"), "--as", "p-bare")
    assert imported.returncode == 0 and "left out" in imported.stderr
    not_json = tmp_path / "x.json"
    not_json.write_text("{nope")
    assert cli("profile", "import", str(not_json)).returncode == 104

    fresh_target.reset()
    ran = cli("profile", "run", "p-copy", "-q", "--no-history", "-w", "1")
    assert ran.returncode == 0, ran.stderr
    bare_run = cli("profile", "run", "p-bare", "-q", "-e", f"api_key={SECRET}")
    assert bare_run.returncode == 104 and "settings.headers.Authorization: left out" in bare_run.stderr
    assert "variables.api_key.value" not in bare_run.stderr                 # given with -e

    gone = cli("profile", "delete", "p")
    assert gone.returncode == 0 and "deleted (1 version)" in gone.stdout
    assert [p["name"] for p in json.loads(cli("profile", "list", "--json").stdout)] == ["p-bare", "p-copy"]


def test_a_damaged_row_is_named_and_the_others_still_run(tmp_path, env, fresh_target):
    config = write_config(tmp_path, CONFIG)
    for name in ("good", "broken"):
        assert cli("profile", "save", name, str(config), "-e", f"TARGET_URL={fresh_target.url}").returncode == 0
    con = sqlite3.connect(env / "history.db")
    con.execute("UPDATE profiles SET metadata = 'garbage' WHERE name = 'broken'")
    con.execute("UPDATE profile_versions SET secrets = 'garbage' WHERE profile_id = "
                "(SELECT id FROM profiles WHERE name = 'broken')")
    con.commit()
    con.close()
    listed = cli("profile", "list")
    assert listed.returncode == 0 and "good" in listed.stdout
    assert "profile 'broken': damaged row" in listed.stderr
    broken = cli("profile", "run", "broken", "-q")
    assert broken.returncode == 104 and "profile 'broken' v1 is damaged" in broken.stderr
    fresh_target.reset()
    assert cli("profile", "run", "good", "-q", "--no-history", "-w", "1").returncode == 0
    assert fresh_target.stats()["requests"] == 20


def test_run_takes_env_file_and_threshold_like_run(tmp_path, env, fresh_target):
    config = write_config(tmp_path, CONFIG)
    assert cli("profile", "save", "p", str(config), "-e", f"TARGET_URL={fresh_target.url}").returncode == 0
    (tmp_path / "vars.env").write_text(f"# the secret from a file\napi_key={SECRET}\n")
    out = tmp_path / "r.json"
    proc = cli("profile", "run", "p", "-q", "-w", "1", "--out", str(out), "--env-file", str(tmp_path / "vars.env"),
               "--threshold", "http_reqs:count>1000")
    assert proc.returncode == 99, proc.stderr                      # 20 requests: the added threshold fails
    assert [(t["metric"], t["ok"]) for t in read_json(out)["thresholds"]] == [
        ("http_reqs", False), ("http_req_failed", True)]                 # and the default one
    typo = cli("profile", "run", "p", "-q", "-e", "api_kye=x")
    assert typo.returncode == 104 and "did you mean api_key?" in typo.stderr
