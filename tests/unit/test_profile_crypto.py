"""The profile key (environment or a 0600 key file) and AES-GCM with it."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from lunge_mp.store.profile_crypto import (ENV_VAR, KEY_FILE, DecryptError, KeyRing, ProfileKey,
                                           ProfileKeyError, key_id, new_key_text)


def _key(text: str | None = None) -> ProfileKey:
    return ProfileKey(base64.urlsafe_b64decode(text or new_key_text()), "test")


def test_round_trip_and_every_ciphertext_differs():
    key = _key()
    a = key.encrypt(b'"s3cret"', "variables.k.value")
    b = key.encrypt(b'"s3cret"', "variables.k.value")
    assert a != b and a.startswith("v1:") and "s3cret" not in a
    assert key.decrypt(a, "variables.k.value") == b'"s3cret"'


def test_a_wrong_key_is_detected_not_decrypted_to_garbage():
    token = _key().encrypt(b"data", "f")
    with pytest.raises(DecryptError, match="does not open it"):
        _key().decrypt(token, "f")


def test_a_ciphertext_moved_to_another_field_does_not_open():
    key = _key()
    with pytest.raises(DecryptError, match="does not open it"):
        key.decrypt(key.encrypt(b"data", "settings.headers.Cookie"), "variables.k.value")


@pytest.mark.parametrize("token", ["v1:", "v1:!!!", "v2:abcd", 42, "v1:" + "A" * 8])
def test_damaged_ciphertexts_are_errors(token):
    with pytest.raises(DecryptError):
        _key().decrypt(token, "f")


def test_key_from_the_environment_wins_and_a_malformed_one_is_refused(tmp_path):
    text = new_key_text()
    ring = KeyRing(tmp_path / "h.db", environ={ENV_VAR: text})
    assert ring.get(create=True).id == key_id(base64.urlsafe_b64decode(text))
    assert not (tmp_path / KEY_FILE).exists()                  # nothing written when the env has it
    with pytest.raises(ProfileKeyError, match="not a profile key"):
        KeyRing(tmp_path / "h.db", environ={ENV_VAR: "too-short"}).get()


def test_key_file_is_made_on_first_use_with_mode_0600_and_then_reused(tmp_path):
    ring = KeyRing(tmp_path / "store" / "h.db", environ={})
    assert ring.get() is None                                   # reading never makes one
    with pytest.raises(ProfileKeyError, match="no profile key"):
        ring.require()
    made = ring.get(create=True)
    path = tmp_path / "store" / KEY_FILE
    assert ring.created and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = KeyRing(tmp_path / "store" / "h.db", environ={})
    assert again.get(create=True).id == made.id and not again.created
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]     # no temporary left behind


def test_an_existing_file_is_never_replaced_and_a_link_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / KEY_FILE).symlink_to(victim)
    with pytest.raises(ProfileKeyError, match="symbolic link"):
        KeyRing(tmp_path / "h.db", environ={}).get(create=True)
    assert victim.read_text() == "precious\n"
    (tmp_path / KEY_FILE).unlink()
    (tmp_path / KEY_FILE).symlink_to(tmp_path / "dangling")
    with pytest.raises(ProfileKeyError, match="symbolic link"):
        KeyRing(tmp_path / "h.db", environ={}).get(create=True)
    assert not (tmp_path / "dangling").exists()


def test_a_key_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / KEY_FILE
    path.write_text(new_key_text())
    path.chmod(0o644)
    with pytest.raises(ProfileKeyError, match="chmod 600"):
        KeyRing(tmp_path / "h.db", environ={}).get()
    path.chmod(0o600)
    assert KeyRing(tmp_path / "h.db", environ={}).get() is not None
