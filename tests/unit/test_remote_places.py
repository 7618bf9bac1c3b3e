"""Remote worker places and identities, through the pure core (coordinator/core.py with
coordinator/admission.py): a remote worker lost before the start frees its place for the next
one; a worker id is bound to the Curve key it joined with, so another key holder cannot speak
for it. No sockets: frames (and the key the loop read from them) in, actions out."""

from __future__ import annotations

import zmq

from lunge_mp.coordinator.core import RunCore, RunPhase
from lunge_mp.coordinator.outbox import Log, Note, Send
from lunge_mp.plan import Plan
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State
from lunge_mp.remote.keys import fingerprint
from tests.core_driver import scenario

NOW = 1000.0
KEY_A = fingerprint(zmq.curve_keypair()[0])     # as the loop passes them (run.py)
KEY_B = fingerprint(zmq.curve_keypair()[0])


def _core(local=0, remote=2) -> RunCore:
    return RunCore(Plan(name="p", scenarios=(scenario("s"),)), local + remote, run_id="0123456789ab",
                   remote=remote, wait_s=30.0)


def _hello(name):
    return m.encode(m.Hello(worker=-1, pid=7, name=name, host="h"))


def _texts(actions, kind=Log):
    return [a.text for a in actions if isinstance(a, kind)]


def _join(core, identity, name, key=None, now=NOW):
    """Hello, then its clock probes answered (one clock) until Start goes out."""
    actions = core.frames([identity, _hello(name)], now, key)
    worker = core.worker_of(identity)
    seen = list(actions)
    while not any(isinstance(a, Send) and isinstance(a.msg, m.Start) for a in actions):
        probe = [a.msg for a in actions if isinstance(a, Send) and isinstance(a.msg, m.TimeProbe)][0]
        t = int(now * 1e9)
        actions = core.frames([identity, m.encode(m.TimeEcho(seq=probe.seq, received_ns=t, sent_ns=t))], now, key)
        actions += core.tick(now)
        seen += actions
    return worker, seen


def _ready_and_go(core, now):
    actions = []
    for w in range(core.workers):
        actions += core.frames([core.identity(w), m.encode(m.Ready(worker=w))], now, core.remote.keys.get(w))
    return actions + core.tick(now)


def test_a_remote_worker_lost_before_the_start_frees_its_place_for_the_next():
    core = _core(remote=2)
    a, _ = _join(core, b"r-a", "a/0")
    b, _ = _join(core, b"r-b", "b/0")
    assert (a, b) == (0, 1) and core.sessions[0].state is State.STARTED
    actions = core.send_failed(0, "it disconnected", NOW + 1)     # its connection closed
    actions += core.tick(NOW + 1)
    assert core.phase is RunPhase.HANDSHAKE and core.stop_requested is None
    assert _texts(actions) == ["worker 0 (a/0 on h) left before the start: it disconnected; its place is "
                               "free for another worker (1 of 2 remote joined)"]
    assert core.worker_of(b"r-a") is None and core.sessions[0].state is State.NEW and not core.info[0].lost
    # the next worker takes the free place (id 0), under any name, even the one that left
    c, actions = _join(core, b"r-c", "a/0", now=NOW + 2)
    assert c == 0 and core.identity(0) == b"r-c" and core.info[0].name == "a/0"
    assert [type(a.msg) for a in actions if isinstance(a, Send) and a.worker == 0][-1] is m.Start
    assert all(core.deliverable(a) for a in actions if isinstance(a, Send))     # not left unreachable
    go = [a.msg for a in _ready_and_go(core, NOW + 3) if isinstance(a, Send) and isinstance(a.msg, m.Go)]
    assert len(go) == 2 and core.phase is RunPhase.RUNNING
    assert not core.info[0].lost and core.info[0].error == "" and core.outcome.refused == 0


def test_a_lost_place_freed_twice_or_after_the_start_is_no_free_place():
    core = _core(remote=1)
    _join(core, b"r-a", "a/0")
    core.send_failed(0, "it disconnected", NOW)
    core.send_failed(0, "it disconnected", NOW)       # a later send of the same batch: nothing more
    assert core.remote.joined() == 0 and core.phase is RunPhase.HANDSHAKE
    _join(core, b"r-b", "b/0")
    _ready_and_go(core, NOW + 1)
    assert core.phase is RunPhase.RUNNING
    core.send_failed(0, "it disconnected", NOW + 2)   # after the start: lost, as before
    assert core.info[0].lost and core.worker_of(b"r-b") == 0


def test_a_local_worker_lost_before_the_start_still_stops_the_run():
    core = _core(local=1, remote=1)
    core.send_failed(0, "it disconnected", NOW)       # not greeted yet: nothing to lose
    core.frames([b"w0", m.encode(m.Hello(worker=0, pid=9))], NOW)
    core.exited(0, 3, NOW)
    assert core.phase is RunPhase.CLOSED and "worker 0 exited with code 3" in core.outcome.abort


def test_a_worker_id_is_bound_to_the_key_it_joined_with():
    core = _core(local=1, remote=2)
    core.frames([b"w0", m.encode(m.Hello(worker=0, pid=9))], NOW)
    a, joined = _join(core, b"r-a", "a/0", KEY_A)
    b, _ = _join(core, b"r-b", "b/0", KEY_B)
    assert (a, b) == (1, 2) and f"pid 7, key {KEY_A}" in _texts(joined, Note)[0]
    # key A's holder claims worker 2's routing id and says goodbye for it: refused, logged
    actions = core.frames([b"r-b", m.encode(m.Bye(worker=2, reports=0, error="evil"))], NOW, KEY_A)
    actions += core.tick(NOW)
    assert core.sessions[2].state is State.STARTED and core.phase is RunPhase.HANDSHAKE
    assert _texts(actions) == [f"refused: a message on the routing id of worker 2 (b/0, key "
                               f"{KEY_B}) from a connection authenticated with key "
                               f"{KEY_A}: a worker speaks only for itself"]
    # nor for a local worker (ipc://, no key), nor without a key for a remote one
    core.frames([b"w0", m.encode(m.Ready(worker=0))], NOW, KEY_A)
    core.frames([b"r-a", m.encode(m.Ready(worker=1))], NOW, None)
    assert core.outcome.refused == 3 and core.sessions[1].state is State.STARTED
    # each speaks for itself: the run starts, and a report is merged only from its own key
    _ready_and_go(core, NOW + 1)
    assert core.phase is RunPhase.RUNNING
    report = m.Report(worker=2, run_id=core.run_id, seq=0, bucket=0)
    core.frames([b"r-b", m.encode(report)], NOW + 1.5, KEY_A)
    assert core.sessions[2].next_seq == 0 and core.outcome.refused == 4
    core.frames([b"r-b", m.encode(report)], NOW + 1.5, KEY_B)
    assert core.sessions[2].next_seq == 1
