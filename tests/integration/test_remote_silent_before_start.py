"""A remote worker that joins and is then frozen (SIGSTOP: its tcp connection stays open)
before the start loses its place after the lost limit, another worker takes it, and the run
starts and completes without waiting out --wait. Real processes on 127.0.0.1 with CurveZMQ:
the coordinator (`run --listen`), the workers (`lunge-mp worker --connect`), and the embedded
target counting what reached it."""

from __future__ import annotations

import signal
import socket
import time

import psutil
import pytest
import zmq

from lunge_mp.remote import keys as key_files
from tests.integration.test_remote_workers import (
    _children, _config, _coordinator, _free_port, _stop, _wait_for, _worker, keys)
from tests.support import read_json

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="pyzmq without CurveZMQ (libsodium)")
__all__ = ["keys"]      # the fixture

WAIT_S = 60     # --wait: the run must start long before it runs out


def test_a_worker_frozen_before_the_start_loses_its_place_to_another(tmp_path, fresh_target, keys):
    port, out = _free_port(), tmp_path / "results.json"
    started = time.monotonic()
    coordinator = _coordinator(_config(tmp_path, fresh_target.url, seconds=2, rate=100), out, port, 2,
                               "--keys", str(keys), "--wait", f"{WAIT_S}s")
    err = out.with_suffix(".err")
    frozen = _worker(port, "--keys", str(keys), "--workers", "1", "--id", "frozen")
    procs, stopped = [coordinator, frozen], None
    try:
        # joined and holding its Start (its clock was measured first), the other place still empty
        _wait_for("the first worker's clock", lambda: "worker 0 clock: offset" in err.read_text(), timeout=30)
        stopped = _wait_for("its process", lambda: _children(frozen, 1))[0]
        stopped.send_signal(signal.SIGSTOP)
        _wait_for("its place to be freed", lambda: "left before the start" in err.read_text()
                  or coordinator.poll() is not None, timeout=20)
        assert coordinator.poll() is None, err.read_text()
        # back before the start with a place still open: refused all the same, and says why
        stopped.send_signal(signal.SIGCONT)
        _, frozen_err = frozen.communicate(timeout=20)
        spare = _worker(port, "--keys", str(keys), "--workers", "2", "--id", "spare")
        procs.append(spare)
        coordinator.communicate(timeout=WAIT_S - 15)
        _, spare_err = spare.communicate(timeout=20)
    finally:
        if stopped is not None and stopped.is_running():
            stopped.send_signal(signal.SIGCONT)
            stopped.kill()
        _stop(*procs)
    log = err.read_text()
    assert coordinator.returncode == 0, log
    assert time.monotonic() - started < WAIT_S - 10      # it did not wait out --wait
    assert spare.returncode == 0, spare_err
    results = read_json(out)
    # the run was the spare's two processes; every request it reported reached the target
    assert sorted(w["name"] for w in results["workers"]) == ["spare/0", "spare/1"]
    assert all(w["lostAt"] is None and w["arrivalsAssigned"] == 100 for w in results["workers"])
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"] == 200
    # the log names the freed worker: its id, name, host, key and how long it was silent
    fp = key_files.fingerprint(key_files.load_public(keys / "worker.key"))
    freed = [w for w in results["warnings"] if "left before the start" in w]
    assert len(freed) == 1, freed
    assert freed[0].startswith(f"worker 0 (frozen/0 on {socket.gethostname()}, key {fp}) left before the "
                               f"start: silent for "), freed
    assert "its place is free for another worker (0 of 2 remote joined)" in freed[0]
    assert freed[0] in log
    # the frozen worker, resumed, was refused with a clear message and left (exit 1)
    assert frozen.returncode == 1, frozen_err
    assert "refused by the coordinator: worker 0 (frozen/0 on " in frozen_err, frozen_err
    assert "lost its place before the start: silent for" in frozen_err
    assert any("spoke again: told it is not in the run" in w for w in results["warnings"]), results["warnings"]
    assert not psutil.pid_exists(stopped.pid) or stopped.status() == psutil.STATUS_ZOMBIE
