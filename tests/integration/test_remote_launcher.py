"""remote/launcher.py: `lunge-mp worker`'s exit code from its processes' (real child processes)."""

from __future__ import annotations

import sys

import pytest

from lunge_mp.remote import launcher


@pytest.mark.parametrize("codes, expected", [
    pytest.param([0, 0], 0, id="all-ran"),
    pytest.param([0, 1], 1, id="one-refused"),
    pytest.param([3, 1], 3, id="first-non-zero"),
    pytest.param([-9, 0], 1, id="killed-by-a-signal"),
])
def test_exit_code(monkeypatch, codes, expected):
    it = iter(codes)

    def command(endpoint, name, keys, insecure, wait_s):
        code = next(it)
        body = f"import os, signal; os.kill(os.getpid(), {-code})" if code < 0 else f"raise SystemExit({code})"
        return [sys.executable, "-c", body]

    monkeypatch.setattr(launcher, "command", command)
    assert launcher.run("tcp://127.0.0.1:1", len(codes), "n", None, True, 1.0) == expected


def test_the_worker_command_line():
    cmd = launcher.command("tcp://h:1", "box/0", "/k", False, 60)
    assert cmd[1:] == ["-m", "lunge_mp.worker", "--connect", "tcp://h:1", "--name", "box/0", "--wait", "60",
                       "--keys", "/k"]
    assert launcher.command("tcp://127.0.0.1:1", "a/1", None, True, 2.5)[-3:] == ["--wait", "2.5", "--insecure"]
