"""Remote workers joining a run, driven through the pure core (coordinator/core.py with
coordinator/admission.py): who is admitted, who is refused and told why, the clock step of
the handshake, and t0 on each worker's own clock. No sockets: frames in, actions out."""

from __future__ import annotations

import pytest

from lunge_mp.coordinator.core import RunCore, RunPhase
from lunge_mp.coordinator.outbox import Log, Note, Reply, Send
from lunge_mp.plan import Plan
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import ProtocolError, State, WorkerSession
from tests.core_driver import scenario

NOW = 1000.0


def _core(local=0, remote=2, wait_s=30.0, data_files=None) -> RunCore:
    return RunCore(Plan(name="p", scenarios=(scenario("s"),)), local + remote, run_id="0123456789ab",
                   remote=remote, wait_s=wait_s, data_files=data_files)


def _hello(name="a/0", protocol=m.PROTOCOL_VERSION, host="h"):
    return m.encode(m.Hello(worker=-1, pid=7, protocol=protocol, name=name, host=host))


def _by_kind(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def test_remote_workers_take_ids_after_the_local_ones_in_join_order():
    core = _core(local=1, remote=2)
    assert core.worker_of(b"w0") == 0 and core.worker_of(b"w1") is None     # id 1 is a remote place
    first = core.frames([b"r-1", _hello("a/0")], NOW)
    second = core.frames([b"r-2", _hello("b/0")], NOW)
    assert core.worker_of(b"r-1") == 1 and core.worker_of(b"r-2") == 2 and core.identity(2) == b"r-2"
    assert core.identity(0) == b"w0"
    assert [a.text for a in _by_kind(first, Note)] == ["worker 1 joined: a/0 on h (pid 7); 1 of 2 remote"]
    assert [type(a.msg) for a in _by_kind(first + second, Send)] == [m.TimeProbe, m.TimeProbe]
    assert core.sessions[1].state is State.GREETED and core.info[1].remote and core.info[1].host == "h"


@pytest.mark.parametrize("hello, started, why", [
    pytest.param(_hello(protocol=99), False, "protocol 99, this coordinator", id="other-version"),
    pytest.param(_hello(), True, "already started", id="late"),
    pytest.param(_hello(name="taken/0"), False, "another worker named 'taken/0'", id="duplicate"),
    pytest.param(_hello(name=""), False, "no name", id="unnamed"),
    pytest.param(_hello(name="a\x1b[2J/0"), False, "not 1-100 letters", id="control-characters"),
    pytest.param(_hello(host="x" * 101), False, "not 1-100", id="long-host"),
])
def test_refused_peers_are_told_why_and_logged(hello, started, why):
    core = _core(remote=3)
    core.frames([b"r-0", _hello("taken/0")], NOW)
    if started:
        core.phase = RunPhase.RUNNING
    actions = core.frames([b"r-x", hello], NOW)
    replies = _by_kind(actions, Reply)
    assert len(replies) == 1 and replies[0].identity == b"r-x" and why in replies[0].msg.reason
    assert any(why in a.text and a.text.startswith("refused: ") for a in _by_kind(actions, Log))
    assert core.worker_of(b"r-x") is None and core.outcome.refused == 1


def test_no_place_left_and_non_hello_frames():
    core = _core(remote=1)
    core.frames([b"r-0", _hello("a/0")], NOW)
    assert "all 1 remote worker places are taken" in _by_kind(core.frames([b"r-1", _hello("b/0")], NOW),
                                                              Reply)[0].msg.reason
    garbage = core.frames([b"r-2", b"\xff\x00garbage"], NOW)
    stray = core.frames([b"r-3", m.encode(m.Heartbeat())], NOW)
    assert not _by_kind(garbage + stray, Reply)          # no answer to what is no Hello
    texts = [a.text for a in _by_kind(garbage + stray, Log)]
    assert any("undecodable frame from an unknown peer" in t for t in texts)
    assert any("a Heartbeat from a peer that never said Hello" in t for t in texts)


@pytest.mark.parametrize("rtt_ns, warned", [(200_000, False), (6_000_000, True)])
def test_clock_step_then_start_then_go_on_the_workers_own_clock(rtt_ns, warned):
    core = _core(remote=1, data_files={"/data/ids.csv": b"n\n1\n"})
    offset_ns = 5_000_000_000                    # the worker's clock is 5 s ahead
    now = NOW
    actions = core.frames([b"r-1", _hello("a/0")], now)
    seen = list(actions)
    for _ in range(30):
        probes = [a.msg for a in _by_kind(actions, Send) if isinstance(a.msg, m.TimeProbe)]
        starts = [a.msg for a in _by_kind(actions, Send) if isinstance(a.msg, m.Start)]
        if starts:
            break
        assert len(probes) == 1
        t1 = int(now * 1e9)
        t2 = t1 + rtt_ns // 2 + offset_ns        # each leg takes half the round trip
        now += rtt_ns / 1e9
        actions = core.frames([b"r-1", m.encode(m.TimeEcho(seq=probes[0].seq, received_ns=t2, sent_ns=t2))], now)
        actions += core.tick(now)
        seen += actions
    assert starts and starts[0].worker == 0 and starts[0].data_files == {"/data/ids.csv": b"n\n1\n"}
    info = core.info[0]
    assert abs(info.clock_offset_ms - 5000.0) <= 0.01 and abs(info.clock_uncertainty_ms - rtt_ns / 2e6) <= 0.01
    assert any(a.text.startswith("worker 0 clock: offset +5000.000 ms") for a in _by_kind(seen, Note))
    assert any("its clock offset is known only to" in w for w in core.outcome.warnings) is warned
    actions = core.frames([b"r-1", m.encode(m.Ready(worker=0))], now) + core.tick(now)
    go = [a.msg for a in _by_kind(actions, Send) if isinstance(a.msg, m.Go)]
    assert len(go) == 1 and core.phase is RunPhase.RUNNING
    assert abs(go[0].t0_us - (core.t0_us + offset_ns // 1000)) <= 1


def test_a_worker_that_refuses_the_plan_stops_the_run_before_the_start_and_others_are_told():
    core = _core(remote=2)
    core.frames([b"r-1", _hello("a/0")], NOW)
    core.remote.probes.clear()                   # clocks known: start at once
    core.frames([b"r-2", _hello("b/0")], NOW)
    core.remote.probes.clear()
    for w in (0, 1):
        core.sessions[w].state = State.STARTED
    core.frames([b"r-1", m.encode(m.Bye(worker=0, reports=0, error="cannot resolve the target host 'x'"))], NOW)
    core.tick(NOW)
    assert core.phase is RunPhase.CLOSED and core.outcome.abort == \
        "worker 0 refused the plan: cannot resolve the target host 'x'"
    assert core.remote.dismiss(core.outcome.abort) == 1
    told = _by_kind(core.take(), Reply)
    assert [(r.identity, r.msg.reason) for r in told] == [
        (b"r-2", "the run did not start: worker 0 refused the plan: cannot resolve the target host 'x'")]


def test_waiting_too_long_says_who_never_joined():
    core = _core(remote=2, wait_s=5.0)
    core.frames([b"r-1", _hello("a/0")], NOW)
    core.tick(NOW)
    core.frames([b"r-1", m.encode(m.Heartbeat(worker=-1))], NOW + 4.0)   # not silent: keeps its place
    core.tick(NOW + 5.0)
    assert core.phase is RunPhase.CLOSED
    assert core.outcome.abort.startswith("workers did not become ready within 5s: 1 of 2 remote worker(s) never joined")


def test_session_clock_exchange_only_between_hello_and_start():
    s = WorkerSession(0, "run")
    with pytest.raises(ProtocolError):
        s.sent(m.TimeProbe(seq=0))          # before Hello
    s.received(m.Hello(worker=0, pid=1))
    s.sent(m.TimeProbe(seq=0))
    s.received(m.TimeEcho(seq=0, received_ns=1, sent_ns=2))
    s.state = State.STARTED     # as after Start (which carries a whole plan)
    with pytest.raises(ProtocolError):
        s.received(m.TimeEcho(seq=1, received_ns=1, sent_ns=2))
    s.received(m.Bye(worker=0, reports=0, error="cannot resolve"))   # a worker refusing the plan
    assert s.state is State.DONE
