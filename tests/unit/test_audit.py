"""The audit log: one JSON line per action, appended, readable back, never following a link."""

import json
import os

import pytest

from lunge_mp.store.audit import AuditLog, default_audit_path


def test_record_appends_one_json_line_per_action(tmp_path):
    log = AuditLog(tmp_path / "sub" / "audit.log")
    log.record("start", identity="ci", client="127.0.0.1", test_id="t1", config="x.yaml")
    log.record("stop", identity="ci", client="127.0.0.1", test_id="t1", outcome="refused")
    lines = (tmp_path / "sub" / "audit.log").read_text().splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["start", "stop"]
    first = log.read()[0]
    assert first["identity"] == "ci" and first["test_id"] == "t1" and first["config"] == "x.yaml"
    assert first["outcome"] == "ok" and first["time"].endswith("+00:00")
    assert os.stat(tmp_path / "sub" / "audit.log").st_mode & 0o777 == 0o600


def test_a_torn_line_is_skipped_when_reading(tmp_path):
    path = tmp_path / "audit.log"
    path.write_text('{"action": "start"}\n{"act')
    assert AuditLog(path).read() == [{"action": "start"}]


def test_a_symlink_is_never_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "audit.log").symlink_to(victim)
    with pytest.raises(OSError):
        AuditLog(tmp_path / "audit.log").record("start")
    assert victim.read_text() == "keep"


def test_default_path_sits_beside_the_store_unless_the_env_names_one(tmp_path, monkeypatch):
    monkeypatch.delenv("LUNGE_MP_AUDIT_LOG", raising=False)
    assert default_audit_path(tmp_path / "history.db") == tmp_path / "audit.log"
    monkeypatch.setenv("LUNGE_MP_AUDIT_LOG", str(tmp_path / "a.log"))
    assert default_audit_path() == tmp_path / "a.log"
