"""Saved profiles on real SQLite files: versions, secrets at rest, keys, concurrency, upgrades, damage."""

from __future__ import annotations

import copy
import json
import sqlite3
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from lunge_mp.store.history import MIGRATIONS, SCHEMA_VERSION, key_figures, pack
from lunge_mp.store.profile_crypto import ENV_VAR, KeyRing, new_key_text
from lunge_mp.store.profiles import (ProfileDamaged, ProfileExists, ProfileInvalid, ProfileNotFound,
                                     ProfileStore, SecretUnreadable, read_export)

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "Zq8-unique-secret-value-31337"
TOKEN = "tok-8f3a9c-unique"
PASSWORD = "pa55-unique-word"


def config(rate: int = 10, secret: str = SECRET) -> dict:
    """Seed 004's test profile: a burst pattern, with a secret of each kind."""
    return {
        "name": "burst test",
        "settings": {"baseUrl": f"http://bench:{PASSWORD}@127.0.0.1:9/",
                     "headers": {"Authorization": f"Bearer {TOKEN}"}},
        "variables": {"api_key": {"value": secret, "secret": True}, "region": "eu"},
        "scenarios": {"burst": {
            "executor": "pattern", "preAllocatedVUs": 5, "maxVUs": 10,
            "pattern": {"type": "burst", "duration": "1m", "baseRate": rate, "burstRate": 50,
                        "burstDuration": "5s", "burstInterval": "20s"},
            "requests": [{"url": "/json", "headers": {"X-Api-Key": "{{api_key}}"}}]}},
    }


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "store" / "history.db"


def keys(db: Path, key: str | None = None) -> KeyRing:
    return KeyRing(db, environ={ENV_VAR: key} if key else {})


def test_profile_persistence_as_seed_004_tests_it(db):
    with ProfileStore(db) as store:
        saved = store.save("test-profile", config(), by="alice", keys=keys(db),
                           description="Test profile for integration testing")
        assert saved.id.startswith("prf_") and saved.version == 1
        loaded = store.get(saved.id)
        assert loaded.name == "test-profile" and loaded.created_by == "alice"
        assert loaded.config["scenarios"]["burst"]["pattern"]["type"] == "burst"
        assert store.get("test-profile").id == saved.id                  # by name too
        assert [p["name"] for p in store.profiles()] == ["test-profile"]
        assert store.delete(saved.id) == ("test-profile", 1)
        with pytest.raises(ProfileNotFound, match="no profile"):
            store.get(saved.id)


def test_each_save_is_a_new_version_and_old_versions_stay_readable(db):
    with ProfileStore(db) as store:
        store.save("nightly", config(rate=10), by="a", keys=keys(db), description="first",
                   tags=["nightly", "api"], metadata={"environment": "staging", "expectedLoad": "50/s",
                                                      "customFields": {"team": "web"}})
        store.save("nightly", config(rate=20), by="b", keys=keys(db))        # fields carried over
        third = store.save("nightly", config(rate=30), by="c", keys=keys(db), tags=["weekly"])
        assert third.version == 3 and third.description == "first" and third.tags == ["weekly"]
        assert third.metadata["expected_load"] == "50/s" and third.metadata["custom_fields"] == {"team": "web"}
        assert [v["version"] for v in store.versions("nightly")] == [3, 2, 1]
        first = store.get("nightly", 1)
        assert first.config["scenarios"]["burst"]["pattern"]["baseRate"] == 10 and first.saved_by == "a"
        assert first.latest == 3 and first.created_by == "a"
        assert store.get("nightly").config["scenarios"]["burst"]["pattern"]["baseRate"] == 30
        assert [p["name"] for p in store.profiles(tag="weekly")] == ["nightly"]
        assert store.profiles(tag="api") == []                            # tags of the latest version
        with pytest.raises(ProfileNotFound, match="no version 4"):
            store.get("nightly", 4)


def test_secrets_are_encrypted_at_rest_and_come_back_with_the_key(db):
    with ProfileStore(db) as store:
        saved = store.save("secret", config(), by="a", keys=keys(db))
        assert sorted(s.field for s in saved.secrets) == [
            "settings.baseUrl", "settings.headers.Authorization", "variables.api_key.value"]
        shown = json.dumps(store.get("secret").to_dict())
        assert SECRET not in shown and TOKEN not in shown and PASSWORD not in shown
        assert "http://***@127.0.0.1:9/" in shown and '"region": "eu"' in shown     # the rest is readable
        assert store.get("secret").reveal(keys(db)) == config()
    for path in db.parent.iterdir():                    # the database, its WAL, the key and audit files
        data = path.read_bytes()
        for value in (SECRET, TOKEN, PASSWORD):
            assert value.encode() not in data, (path, value)
            assert zlib.compress(value.encode()) not in data


def test_without_the_key_listing_works_and_running_names_each_secret(db):
    with ProfileStore(db) as store:
        store.save("secret", config(), by="a", keys=keys(db))
    (db.parent / "profiles.key").rename(db.parent / "elsewhere.key")
    with ProfileStore(db) as store:
        assert [p["secrets"] for p in store.profiles()] == [3]
        found = store.get("secret")
        with pytest.raises(SecretUnreadable) as err:
            found.reveal(keys(db))
    assert sorted(err.value.fields) == ["settings.baseUrl: no key", "settings.headers.Authorization: no key",
                                        "variables.api_key.value: no key"]
    assert "LUNGE_MP_PROFILE_KEY" in err.value.hint and str(db.parent / "profiles.key") in err.value.hint
    # a variable given at run time needs no key (the others still do)
    with pytest.raises(SecretUnreadable) as err:
        found.reveal(keys(db), provided={("variables", "api_key", "value")})
    assert len(err.value.fields) == 2


def test_a_wrong_key_is_detected(db):
    key_a, key_b = new_key_text(), new_key_text()
    with ProfileStore(db) as store:
        store.save("secret", config(), by="a", keys=keys(db, key_a))
        found = store.get("secret")
    with pytest.raises(SecretUnreadable, match="the key here is"):
        found.reveal(keys(db, key_b))
    # even a key that claims the right id cannot open the data: the GCM tag says no
    forged = copy.deepcopy(found)
    for s in forged.secrets:
        s.key_id = keys(db, key_b).get().id
    with pytest.raises(SecretUnreadable, match="does not open it"):
        forged.reveal(keys(db, key_b))
    assert found.reveal(keys(db, key_a)) == config()


def test_a_secret_sent_back_as_its_mask_keeps_its_value(db):
    with ProfileStore(db) as store:
        store.save("p", config(), by="a", keys=keys(db))
        edited = copy.deepcopy(store.get("p").config)             # as `show` / GET give it
        edited["scenarios"]["burst"]["pattern"]["baseRate"] = 99
        second = store.save("p", edited, by="a", keys=keys(db))
        clear = second.reveal(keys(db))
        assert clear["variables"]["api_key"]["value"] == SECRET
        assert clear["settings"]["baseUrl"] == f"http://bench:{PASSWORD}@127.0.0.1:9/"
        assert clear["scenarios"]["burst"]["pattern"]["baseRate"] == 99
        changed = store.save("p", config(secret="a-new-secret-value"), by="a", keys=keys(db))
        assert changed.reveal(keys(db))["variables"]["api_key"]["value"] == "a-new-secret-value"


@pytest.mark.parametrize("name, expected", [
    pytest.param("", "needs a name", id="empty"),
    pytest.param("   ", "needs a name", id="blank"),
    pytest.param("a/b", "may hold only", id="slash"),
    pytest.param("../etc", "may hold only", id="dot-dot"),
    pytest.param("a\\b", "may hold only", id="backslash"),
    pytest.param("with space", "may hold only", id="space"),
    pytest.param("x\x00y", "may hold only", id="nul"),
    pytest.param("n" * 101, "keep it to 100", id="too-long"),
    pytest.param("prf_0123456789abcdef", "looks like a profile id", id="id-like"),
])
def test_bad_names_are_refused_and_nothing_is_stored(db, name, expected):
    with ProfileStore(db) as store:
        with pytest.raises(ProfileInvalid, match=expected):
            store.save(name, config(), by="a", keys=keys(db))
        assert store.profiles() == []


@pytest.mark.parametrize("field, value, expected", [
    ("tags", ["ok", "not ok"], "tag 'not ok'"),
    ("tags", "nightly", "list of strings"),
    ("metadata", {"owner": "x"}, "metadata.owner: unknown field"),
    ("metadata", {"dependencies": "redis"}, "metadata.dependencies"),
    ("description", "d" * 10_001, "keep it to 10000"),
])
def test_bad_fields_are_refused(db, field, value, expected):
    with ProfileStore(db) as store:
        with pytest.raises(ProfileInvalid, match=expected):
            store.save("p", config(), by="a", keys=keys(db), **{field: value})
        assert store.profiles() == []


def test_export_and_import_with_and_without_secrets(tmp_path, db):
    key = new_key_text()
    with ProfileStore(db) as store:
        store.save("shared", config(), by="alice", keys=keys(db, key), tags=["t"])
        exported = json.loads(json.dumps(store.get("shared").export_doc()))
        bare = json.loads(json.dumps(store.get("shared").export_doc(with_secrets=False)))
    text = json.dumps(exported)
    assert SECRET not in text and TOKEN not in text and PASSWORD not in text
    other = tmp_path / "other" / "history.db"
    with ProfileStore(other) as store:
        parts = read_export(exported)
        imported = store.save(parts["name"], parts["config"], by="bob", keys=keys(other, key),
                              mode="create", description=parts["description"], tags=parts["tags"],
                              metadata=parts["metadata"], imported=parts["imported"])
        assert imported.version == 1 and imported.created_by == "alice" and imported.saved_by == "bob"
        assert imported.id == exported["profile"]["id"] and imported.tags == ["t"]
        assert store.get("shared").reveal(keys(other, key)) == config()   # same key: secrets intact
        with pytest.raises(ProfileExists, match="already exists"):
            parts = read_export(exported)
            store.save(parts["name"], parts["config"], by="bob", keys=keys(other, key), mode="create",
                       imported=parts["imported"])
        parts = read_export(bare)
        copy_ = store.save("shared-bare", parts["config"], by="bob", keys=keys(other, key),
                           mode="create", imported=parts["imported"])
        assert copy_.id != imported.id                               # an id already taken is not reused
        with pytest.raises(SecretUnreadable, match="left out when the profile was exported"):
            store.get("shared-bare").reveal(keys(other, key))


def test_an_import_holding_a_secret_in_clear_is_still_encrypted(db):
    with ProfileStore(db) as store:
        store.save("p", config(), by="a", keys=keys(db))
        doc = store.get("p").export_doc()
    doc["config"]["settings"]["headers"]["Cookie"] = f"session={SECRET}-cookie"     # edited by hand
    parts = read_export(doc)
    with ProfileStore(db) as store:
        saved = store.save("p2", parts["config"], by="b", keys=keys(db), mode="create",
                           imported=parts["imported"])
        assert "settings.headers.Cookie" in [s.field for s in saved.secrets]
        assert store.get("p2").reveal(keys(db))["settings"]["headers"]["Cookie"] == f"session={SECRET}-cookie"
    for path in db.parent.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("doc, expected", [
    ({"format": "something else"}, "not a lunge_mp profile export"),
    ({"format": "lunge_mp profile", "formatVersion": 9}, "formatVersion 9"),
    ({"format": "lunge_mp profile", "formatVersion": 1, "profile": {}, "config": {},
      "secrets": [{"path": ["nope"], "ciphertext": "v1:x"}]}, "secrets\\[0\\]: nope is not a field"),
])
def test_bad_export_documents(doc, expected):
    with pytest.raises(ProfileInvalid, match=expected):
        read_export(doc)


def test_two_processes_saving_at_once_lose_nothing(db):
    """Both save 15 versions of one shared profile and 15 of their own, making the key at once."""
    script = textwrap.dedent(f"""
        import sys
        from lunge_mp.store.profile_crypto import KeyRing
        from lunge_mp.store.profiles import ProfileStore
        sys.path.insert(0, {str(ROOT)!r})
        from tests.integration.test_profiles_store import config
        who = sys.argv[1]
        with ProfileStore({str(db)!r}) as store:
            for i in range(15):
                store.save("shared", config(rate=i + 1), by=who, keys=KeyRing({str(db)!r}, environ={{}}))
                store.save(f"own-{{who}}", config(rate=i + 1), by=who, keys=KeyRing({str(db)!r}, environ={{}}))
                store.profiles()
        print("ok")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, who], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for who in ("a", "b")]
    outs = [p.communicate(timeout=90) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and out.strip() == "ok", err
    with ProfileStore(db) as store:
        assert [v["version"] for v in store.versions("shared")] == list(range(30, 0, -1))
        assert sorted(v["saved_by"] for v in store.versions("shared")) == ["a"] * 15 + ["b"] * 15
        assert {p["name"]: p["version"] for p in store.profiles()} == {"own-a": 15, "own-b": 15, "shared": 30}
        for version in (1, 17, 30):                    # one key won; every secret opens with it
            assert store.get("shared", version).reveal(keys(db))["variables"]["api_key"]["value"] == SECRET


def _version_1_store(path: Path, runs: list[dict]) -> None:
    """A store as lunge_mp wrote it before profiles: schema version 1's tables, runs recorded
    with the same pack and key figures the history code uses."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('created_at', '2026-11-01T00:00:00+00:00')")
    for statement in MIGRATIONS[1]:
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    for doc in runs:
        f = key_figures(doc)
        con.execute("INSERT INTO runs (run_id, name, started, status, exit_code, duration_s, requests, "
                    "rate, error_rate, p50_ms, p95_ms, p99_ms, efficiency, recorded_at, results) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (doc["runId"], doc["name"], doc["startTime"], f["status"], f["exit_code"],
                     f["duration_s"], f["requests"], f["rate"], f["error_rate"], f["p50_ms"],
                     f["p95_ms"], f["p99_ms"], f["efficiency"], "2026-11-01T00:00:00+00:00", pack(doc)))
    con.close()


def test_a_store_from_before_profiles_upgrades_in_place_with_its_runs(db):
    doc = json.loads((ROOT / "tests" / "fixtures" / "compare_baseline.json").read_text())
    runs = [dict(doc, runId=f"old-{i}", startTime=f"2026-11-0{i + 1}T03:00:00+00:00") for i in range(3)]
    db.parent.mkdir(parents=True)
    _version_1_store(db, runs)
    with ProfileStore(db) as store:
        assert store.schema_version() == SCHEMA_VERSION == 2
        assert [r["runId"] for r in store.runs()] == ["old-2", "old-1", "old-0"]
        assert store.runs()[0]["profile"] is None
        assert store.get_run("old-1") == {k: v for k, v in runs[1].items() if k != "histograms"}
        store.save("after-upgrade", config(), by="a", keys=keys(db))
        store.record(dict(doc, runId="new", startTime="2026-12-01T03:00:00+00:00",
                          profile={"name": "after-upgrade", "version": 1, "id": "x"}))
        newest = store.runs(limit=1)[0]
        assert (newest["runId"], newest["profile"], newest["profileVersion"]) == ("new", "after-upgrade", 1)
    with ProfileStore(db) as store:                     # opening again migrates nothing
        assert len(store.runs(limit=None)) == 4 and store.get("after-upgrade").version == 1


def test_a_damaged_row_is_named_and_the_others_still_list_and_load(db):
    with ProfileStore(db) as store:
        for name in ("a-good", "b-tags", "c-blob"):
            store.save(name, config(), by="a", keys=keys(db))
    con = sqlite3.connect(db)
    con.execute("UPDATE profiles SET tags = '{not json' WHERE name = 'b-tags'")
    con.execute("UPDATE profile_versions SET config = x'00ff00' WHERE profile_id = "
                "(SELECT id FROM profiles WHERE name = 'c-blob')")
    con.commit()
    con.close()
    with ProfileStore(db) as store:
        listed = {p["name"]: p for p in store.profiles()}
        assert set(listed) == {"a-good", "b-tags", "c-blob"}
        assert "damaged row" in listed["b-tags"]["error"] and "error" not in listed["a-good"]
        with pytest.raises(ProfileDamaged, match="profile 'c-blob' v1 is damaged"):
            store.get("c-blob")
        assert store.get("a-good").reveal(keys(db)) == config()
        assert store.save("c-blob", config(rate=5), by="a", keys=keys(db)).version == 2   # saved again
        assert store.get("c-blob").config["scenarios"]["burst"]["pattern"]["baseRate"] == 5


def test_save_checked_refuses_an_invalid_config_and_audits_a_good_one(tmp_path, db):
    from lunge_mp.config.errors import ConfigError
    from lunge_mp.profile_ops import save_checked
    from lunge_mp.store.audit import AuditLog

    log = AuditLog(tmp_path / "audit.log")
    bad = config()
    bad["scenarios"]["burst"]["pattern"]["type"] = "zigzag"
    with pytest.raises(ConfigError, match="scenarios.burst.pattern"):
        save_checked(db, "from-start", bad, by="ci", audit_log=log)
    saved = save_checked(db, "from-start", config(), by="ci", audit_log=log, client="10.0.0.1")
    assert saved.version == 1 and saved.saved_by == "ci"
    assert [(e["action"], e["identity"], e["client"], e["version"]) for e in log.read()] == [
        ("profile.save", "ci", "10.0.0.1", 1)]
