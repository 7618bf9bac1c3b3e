"""Remote worker places and identities with real processes on 127.0.0.1 (CurveZMQ): a worker
that joins and is gone before the start frees its place for another; a holder of one
authorized key cannot speak for a worker that joined with another key, nor take a local
worker's messages by claiming its routing id; a --listen port that another process holds is a
clear error before anything starts."""

from __future__ import annotations

import shutil
import signal
import time

import pytest
import zmq

from lunge_mp.protocol import messages as m
from lunge_mp.remote import keys as key_files
from tests.integration.test_remote_workers import (
    _children, _config, _coordinator, _free_port, _stop, _wait_for, _worker, keys)
from tests.support import read_json

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="pyzmq without CurveZMQ (libsodium)")
__all__ = ["keys"]      # the fixture


def test_a_remote_worker_gone_before_the_start_frees_its_place_for_another(tmp_path, fresh_target, keys):
    port, out = _free_port(), tmp_path / "results.json"
    coordinator = _coordinator(_config(tmp_path, fresh_target.url), out, port, 2, "--keys", str(keys))
    err = out.with_suffix(".err")
    early = _worker(port, "--keys", str(keys), "--workers", "1", "--id", "early")
    procs = [coordinator, early]
    try:
        _wait_for("the first worker to join", lambda: "1 of 2 remote" in err.read_text())
        _wait_for("its process", lambda: _children(early, 1))[0].send_signal(signal.SIGKILL)
        _wait_for("its place to be freed", lambda: "left before the start" in err.read_text()
                  or coordinator.poll() is not None)
        late = _worker(port, "--keys", str(keys), "--workers", "2", "--id", "late")
        procs.append(late)
        coordinator.communicate(timeout=60)
        late.communicate(timeout=20)
    finally:
        _stop(*procs)
    assert coordinator.returncode == 0, err.read_text()
    assert late.returncode == 0
    results = read_json(out)
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"] == 200
    assert sorted(w["name"] for w in results["workers"]) == ["late/0", "late/1"]
    assert all(w["lostAt"] is None and w["arrivalsAssigned"] == 100 for w in results["workers"])
    left = [w for w in results["warnings"] if "left before the start" in w]
    assert len(left) == 1 and "worker 0 (early/0 on " in left[0] and "its place is free" in left[0], left


def _second_worker_key(keys, tmp_path):
    """Another worker key pair (its own folder, with the coordinator's public key), authorized too."""
    other = tmp_path / "keys-b"
    key_files.generate(other, worker_only=True)
    shutil.copy(keys / "coordinator.key", other / "coordinator.key")
    public = [line for line in (other / "worker.key").read_text().splitlines() if "public-key" in line]
    with open(keys / "authorized_keys", "a") as f:
        f.write("\n".join(public) + "\n")
    return other


def _two_places_and_worker_a(tmp_path, url: str, keys, *extra: str):
    """A coordinator waiting for 2 remote workers (and `extra`), and worker a (key A) joining:
    (port, results path, its stderr file, coordinator, worker a)."""
    port, out = _free_port(), tmp_path / "results.json"
    coordinator = _coordinator(_config(tmp_path, url), out, port, 2, "--keys", str(keys), *extra)
    worker_a = _worker(port, "--keys", str(keys), "--workers", "1", "--id", "a")
    return port, out, out.with_suffix(".err"), coordinator, worker_a


def _dealer(ctx, keys_dir, identity: bytes, port: int) -> zmq.Socket:
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.setsockopt(zmq.IDENTITY, identity)
    sock.setsockopt(zmq.RECONNECT_IVL, -1)        # once handed over, stay gone
    sock.curve_publickey, sock.curve_secretkey = key_files.load_pair(keys_dir / "worker.key_secret")
    sock.curve_serverkey = key_files.load_public(keys_dir / "coordinator.key")
    sock.connect(f"tcp://127.0.0.1:{port}")
    return sock


def _until_started(sock: zmq.Socket) -> None:
    """Answer the coordinator's clock probes (one clock here) until Start comes."""
    while True:
        assert sock.poll(20_000), "no Start for the peer with key B"
        msg = m.decode(sock.recv())
        if isinstance(msg, m.Start):
            return
        if isinstance(msg, m.TimeProbe):
            now = time.monotonic_ns()
            sock.send(m.encode(m.TimeEcho(seq=msg.seq, received_ns=now, sent_ns=now)))


def test_a_key_holder_cannot_speak_for_a_worker_that_joined_with_another_key(tmp_path, fresh_target, keys):
    """Worker a (key A) and a peer with key B join; the holder of key A takes the B peer's
    routing id (ZeroMQ hands a routing id over to the newest connection) and says goodbye for
    it (the peer has its Start: a Bye from it now would stop the run). Refused and logged with key A's fingerprint; the run is not stopped by it. The peer it
    cut off is gone before the start (its place freed), and worker b (key B) takes it."""
    keys_b = _second_worker_key(keys, tmp_path)
    port, out, err, coordinator, worker_a = _two_places_and_worker_a(tmp_path, fresh_target.url, keys)
    procs = [coordinator, worker_a]
    ctx = zmq.Context()
    try:
        _wait_for("worker a to join", lambda: "1 of 2 remote" in err.read_text())
        victim = _dealer(ctx, keys_b, b"r-victim", port)
        victim.send(m.encode(m.Hello(worker=-1, pid=1, name="victim/0", host="elsewhere")))
        _until_started(victim)       # its clock measured, Start received: a Bye from it now counts
        attacker = _dealer(ctx, keys, b"r-victim", port)
        attacker.send(m.encode(m.Bye(worker=1, reports=0, error="evil: stop the run")))
        _wait_for("the refusal", lambda: "speaks only for itself" in err.read_text() or coordinator.poll() is not None)
        assert coordinator.poll() is None, err.read_text()
        attacker.close()
        victim.close()
        _wait_for("the cut-off peer's place to be freed", lambda: "left before the start" in err.read_text()
                  or coordinator.poll() is not None)
        worker_b = _worker(port, "--keys", str(keys_b), "--workers", "1", "--id", "b")
        procs.append(worker_b)
        coordinator.communicate(timeout=60)
        worker_a.communicate(timeout=20)
        worker_b.communicate(timeout=20)
    finally:
        ctx.destroy(linger=0)
        _stop(*procs)
    assert coordinator.returncode == 0, err.read_text()
    assert worker_a.returncode == worker_b.returncode == 0
    results = read_json(out)
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"] == 200
    assert sorted(w["name"] for w in results["workers"]) == ["a/0", "b/0"]
    fp_a = key_files.fingerprint(key_files.load_public(keys / "worker.key"))
    fp_b = key_files.fingerprint(key_files.load_public(keys_b / "worker.key"))
    refused = [w for w in results["warnings"] if "speaks only for itself" in w]
    assert refused == [f"refused: a message on the routing id of worker 1 (victim/0, key {fp_b}) from a "
                       f"connection authenticated with key {fp_a}: a worker speaks only for itself"], refused
    joined = err.read_text()
    assert f"a/0 on " in joined and f"key {fp_a}" in joined and f"key {fp_b}" in joined


def test_a_key_holder_cannot_take_a_local_workers_messages_by_its_routing_id(tmp_path, fresh_target, keys):
    """One ROUTER serves the local worker (ipc://) and the remote ones (tcp://), and hands a
    routing id to the newest connection that claims it. A peer with an authorized key that
    claims what a local worker's id would be if it were predictable (`w0`, as it once was) gets
    no message, and the local worker runs its share."""
    port, out, err, coordinator, worker_a = _two_places_and_worker_a(tmp_path, fresh_target.url, keys,
                                                                      "--local-workers", "1")
    procs = [coordinator, worker_a]
    ctx = zmq.Context()
    try:
        _wait_for("worker a to join", lambda: "1 of 2 remote" in err.read_text())
        impostor = _dealer(ctx, keys, b"w0", port)
        impostor.send(m.encode(m.Heartbeat(worker=0)))      # so its connection is surely made first
        _wait_for("the impostor's frame to be refused", lambda: "a Heartbeat from a peer that never said Hello"
                  in err.read_text() or "speaks only for itself" in err.read_text())    # (w0 predictable)
        worker_b = _worker(port, "--keys", str(keys), "--workers", "1", "--id", "b")
        procs.append(worker_b)
        coordinator.communicate(timeout=60)
        worker_a.communicate(timeout=20)
        worker_b.communicate(timeout=20)
        stolen = impostor.poll(0)
    finally:
        ctx.destroy(linger=0)
        _stop(*procs)
    assert not stolen, "the impostor received a message meant for the local worker"
    assert coordinator.returncode == 0, err.read_text()
    results = read_json(out)
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"] == 200
    local = [w for w in results["workers"] if w["id"] == 0]
    assert local and local[0]["lostAt"] is None and local[0]["arrivalsAssigned"] > 0, results["workers"]


def test_a_listen_port_held_by_another_process_is_a_clear_error_before_anything_starts(tmp_path, fresh_target):
    import socket
    import time as clock

    from tests.support import cli

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = clock.monotonic()
        done = cli("run", str(_config(tmp_path, fresh_target.url)), "--listen", f"tcp://127.0.0.1:{port}",
                   "--remote-workers", "1", "--insecure", "--no-history", timeout=30)
    assert done.returncode == 104 and "cannot listen there" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and clock.monotonic() - started < 30
    assert fresh_target.stats()["requests"] == 0
