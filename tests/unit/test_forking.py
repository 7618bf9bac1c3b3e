"""coordinator/forking.py: the Popen-like handle of a forked worker gives the pool what a
spawned worker's Popen does (exit codes, -N for a signal, timeouts), with real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from lunge_mp.coordinator import forking


def _child(then) -> forking.ForkedWorker:
    pid = os.fork()
    if pid == 0:
        try:
            then()
        finally:
            os._exit(70)
    return forking.ForkedWorker(pid, ["child"])


def test_an_exit_code_and_a_signal_read_as_popen_reads_them():
    exited = _child(lambda: os._exit(3))
    assert exited.wait(timeout=10) == 3 and exited.poll() == 3
    sleeper = _child(lambda: time.sleep(30))
    assert sleeper.poll() is None
    sleeper.send_signal(signal.SIGKILL)
    assert sleeper.wait(timeout=10) == -signal.SIGKILL
    sleeper.send_signal(signal.SIGTERM)      # gone and reaped: nothing to signal, no error


def test_a_wait_that_times_out_raises_as_popen_does():
    sleeper = _child(lambda: time.sleep(30))
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(timeout=0.05)
    assert time.monotonic() - started < 5
    sleeper.send_signal(signal.SIGKILL)
    assert sleeper.wait(timeout=10) == -signal.SIGKILL


def test_no_fork_while_another_thread_runs():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not forking.usable()
    finally:
        stop.set()
        thread.join()
