"""`lunge-mp keys generate`: the files, their modes, never replacing one, never printing a secret."""

from __future__ import annotations

import os
import stat

import pytest
import zmq

from lunge_mp.remote import keys
from tests.support import cli

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="pyzmq without CurveZMQ (libsodium)")


def test_keys_generate_then_refuses_to_replace(tmp_path):
    folder = tmp_path / "keys"
    done = cli("keys", "generate", str(folder), timeout=30)
    assert done.returncode == 0, done.stderr
    names = ["coordinator.key", "coordinator.key_secret", "worker.key", "worker.key_secret", "authorized_keys"]
    assert done.stdout.split() == [str(folder / n) for n in names]
    secrets = [keys.load_pair(folder / n)[1].decode() for n in names if n.endswith("_secret")]
    assert not any(s in done.stdout + done.stderr for s in secrets)
    assert all(stat.S_IMODE(os.stat(folder / n).st_mode) == 0o600 for n in names if n.endswith("_secret"))
    before = {n: (folder / n).read_bytes() for n in names}
    again = cli("keys", "generate", str(folder), timeout=30)
    assert again.returncode == 104 and "never replaced" in again.stderr, again.stderr
    assert {n: (folder / n).read_bytes() for n in names} == before
    more = cli("keys", "generate", str(tmp_path / "more"), "--worker-only", timeout=30)
    assert more.returncode == 0 and sorted(p.name for p in (tmp_path / "more").iterdir()) == [
        "worker.key", "worker.key_secret"]
