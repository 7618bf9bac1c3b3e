"""remote/keys.py and remote/security.py: key files, authorized keys, who may listen in plaintext."""

from __future__ import annotations

import os
import stat

import pytest
import zmq

from lunge_mp.remote import keys, security

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="pyzmq without CurveZMQ (libsodium)")


def test_generate_writes_both_pairs_and_authorized_keys_with_private_secrets(tmp_path):
    written = keys.generate(tmp_path / "k")
    assert sorted(p.name for p in written) == sorted([
        "coordinator.key", "coordinator.key_secret", "worker.key", "worker.key_secret", "authorized_keys"])
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o700
    for p in written:
        mode = stat.S_IMODE(os.stat(p).st_mode)
        assert mode == (0o600 if p.name.endswith("_secret") else 0o644), (p, oct(mode))
    worker_public = keys.load_public(tmp_path / "k" / "worker.key")
    assert keys.read_authorized(tmp_path / "k" / "authorized_keys") == {worker_public}
    public, secret = keys.load_pair(tmp_path / "k" / "coordinator.key_secret")
    assert zmq.curve_public(secret) == public
    assert [p.name for p in (tmp_path / "k").iterdir() if p.name.startswith(".")] == []   # no work folder left


def test_generate_never_replaces_a_file_and_writes_nothing_then(tmp_path):
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "worker.key").write_text("mine")
    with pytest.raises(keys.KeyFileError, match="never replaced"):
        keys.generate(tmp_path / "k")
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["worker.key"]
    assert (tmp_path / "k" / "worker.key").read_text() == "mine"


def test_worker_only(tmp_path):
    written = keys.generate(tmp_path / "w", worker_only=True)
    assert sorted(p.name for p in written) == ["worker.key", "worker.key_secret"]


@pytest.mark.parametrize("line, ok", [
    pytest.param(b"KEY", True, id="bare"),
    pytest.param(b"KEY  laptop worker", True, id="with-comment"),
    pytest.param(b'public-key = "KEY"', True, id="cert-line"),
    pytest.param(b"    public-key = 'KEY'", True, id="indented-cert-line"),
    pytest.param(b"#KEY", None, id="commented-out"),
    pytest.param(b"short", False, id="not-a-key"),
    pytest.param(b'secret-key = "KEY"', False, id="secret-refused"),
])
def test_authorized_key_lines(tmp_path, line, ok):
    public, _ = zmq.curve_keypair()
    other, _ = zmq.curve_keypair()
    path = tmp_path / "authorized_keys"
    path.write_bytes(b"# comment\n\n" + line.replace(b"KEY", public) + b"\n" + other + b"\n")
    if ok is False:
        with pytest.raises(keys.KeyFileError, match="line 3"):
            keys.read_authorized(path)
        return
    expected = {public, other} if ok else {other}
    assert keys.read_authorized(path) == expected


def test_a_key_that_starts_with_hash_is_a_key_not_a_comment(tmp_path):
    key = b"#" + zmq.curve_keypair()[0][1:]     # '#' is a Z85 digit
    path = tmp_path / "authorized_keys"
    path.write_bytes(key + b"\n")
    assert keys.read_authorized(path) == {key}


def test_empty_authorized_keys_and_missing_files_are_clear_errors(tmp_path):
    (tmp_path / "a").write_text("# nobody\n")
    with pytest.raises(keys.KeyFileError, match="lists no public key"):
        keys.read_authorized(tmp_path / "a")
    with pytest.raises(keys.KeyFileError, match="cannot read the key file .*lunge-mp keys generate"):
        keys.load_pair(tmp_path / "missing.key_secret")
    keys.generate(tmp_path / "k")
    with pytest.raises(keys.KeyFileError, match="holds no secret key"):
        keys.load_pair(tmp_path / "k" / "worker.key")


def test_fingerprint_names_a_key_without_showing_it():
    public, _ = zmq.curve_keypair()
    fp = keys.fingerprint(public)
    assert fp.startswith("SHA256:") and len(fp) == 50 and public.decode() not in fp
    assert keys.fingerprint(public) == fp != keys.fingerprint(zmq.curve_keypair()[0])


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.9.8.7", True), ("::1", True), ("localhost", True), ("LOCALHOST.", True),
    ("0.0.0.0", False), ("10.0.0.1", False), ("::", False), ("example.com", False), ("127.0.0.1.nip.io", False),
])
def test_loopback(host, loopback):
    assert security.is_loopback(host) is loopback


@pytest.mark.parametrize("endpoint, parsed", [
    ("tcp://127.0.0.1:5555", ("127.0.0.1", 5555)),
    ("tcp://[::1]:80", ("::1", 80)),
    ("tcp://coordinator.svc:65535", ("coordinator.svc", 65535)),
    ("ipc:///tmp/x", None), ("tcp://host", None), ("tcp://host:0", None), ("tcp://host:70000", None),
    ("tcp://a b:1", None),
])
def test_parse_tcp(endpoint, parsed):
    if parsed is None:
        with pytest.raises(security.SetupError, match="tcp://HOST:PORT"):
            security.parse_tcp(endpoint, "--listen")
    else:
        assert security.parse_tcp(endpoint, "--listen") == parsed


def test_server_and_client_keys(tmp_path):
    keys.generate(tmp_path / "k")
    d = str(tmp_path / "k")
    with pytest.raises(security.SetupError, match="only on a loopback"):
        security.server_keys("tcp://0.0.0.0:1", None, None, insecure=True)
    assert security.server_keys("tcp://127.0.0.1:1", None, None, insecure=True) is None
    with pytest.raises(security.SetupError, match="needs Curve keys"):
        security.server_keys("tcp://0.0.0.0:1", None, None, insecure=False)
    server = security.server_keys("tcp://0.0.0.0:1", d, None, insecure=False)
    client = security.client_keys("tcp://10.0.0.1:1", d, insecure=False)
    assert client.server == server.public and client.public in server.authorized
    with pytest.raises(security.SetupError, match="only to a loopback"):
        security.client_keys("tcp://10.0.0.1:1", None, insecure=True)
    with pytest.raises(security.SetupError, match="cannot read the authorized keys"):
        security.server_keys("tcp://0.0.0.0:1", d, str(tmp_path / "nope"), insecure=False)
