"""Who may join a run with --listen (coordinator/remote_pool.py), the handshake's clock step
(coordinator/admission.py) and its place in the protocol state (protocol/session.py)."""

from __future__ import annotations

import asyncio

import pytest

from lunge_mp.coordinator.admission import Admission
from lunge_mp.coordinator.remote_pool import RemoteWorkers
from lunge_mp.outcome import WorkerInfo
from lunge_mp.protocol import clock
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import ProtocolError, State, WorkerSession


def _hello(name="a/0", protocol=m.PROTOCOL_VERSION):
    return m.Hello(worker=-1, pid=7, protocol=protocol, name=name, host="h")


def test_remote_workers_take_ids_after_the_local_ones_in_join_order():
    pool = RemoteWorkers("tcp://127.0.0.1:1", remote=2, local=0)
    assert pool.count == 2 and pool.worker_of(b"w0") is None      # no local workers: w0 is nobody
    assert pool.refusal(_hello(), started=False) is None
    assert pool.admit(b"r-1", "a/0") == 0 and pool.admit(b"r-2", "b/0") == 1
    assert pool.worker_of(b"r-2") == 1 and pool.identity(1) == b"r-2" and pool.is_remote(0)
    assert pool.exited(0) is None and pool.pid(0) == 0


def test_with_local_workers_the_remote_ones_come_after():
    pool = RemoteWorkers("tcp://127.0.0.1:1", remote=1, local=2)
    try:
        assert pool.count == 3 and pool.worker_of(b"w1") == 1 and pool.identity(1) == b"w1"
        assert not pool.is_remote(1) and pool.worker_of(b"w2") is None    # id 2 is the remote place
        assert pool.admit(b"r-x", "a/0") == 2 and pool.identity(2) == b"r-x" and pool.is_remote(2)
    finally:
        pool.stop(grace_s=0)


@pytest.mark.parametrize("hello, started, why", [
    pytest.param(_hello(protocol=99), False, "protocol 99, this coordinator", id="other-version"),
    pytest.param(_hello(), True, "already started", id="late"),
    pytest.param(_hello(name="taken/0"), False, "another worker named 'taken/0'", id="duplicate"),
    pytest.param(_hello(name=""), False, "no name", id="unnamed"),
    pytest.param(_hello(name="a\x1b[2J/0"), False, "not 1-100 letters", id="control-characters"),
    pytest.param(m.Hello(worker=-1, pid=1, name="a/0", host="x" * 101), False, "not 1-100", id="long-host"),
])
def test_refusals(hello, started, why):
    pool = RemoteWorkers("tcp://127.0.0.1:1", remote=3)
    pool.admit(b"r-0", "taken/0")
    assert why in pool.refusal(hello, started=started)


def test_no_place_left():
    pool = RemoteWorkers("tcp://127.0.0.1:1", remote=1)
    pool.admit(b"r-0", "a/0")
    assert "all 1 remote worker places are taken" in pool.refusal(_hello("b/0"), started=False)


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


class _Stub(Admission):
    """What Admission uses of a Coordinator."""

    def __init__(self, uncertainty_ns: int) -> None:
        self.pool = RemoteWorkers("tcp://127.0.0.1:1", remote=1)
        self.info = [WorkerInfo(0)]
        self.clock_offsets: dict = {}
        self._clock_probes = {0: clock.ClockProbe(exchanges=2)}
        self.sent: list = []
        self.warnings: list[str] = []
        self.t0_ns = 0
        self.rtt = 2 * uncertainty_ns

    async def send(self, worker, msg):
        self.sent.append(msg)

    def warn(self, text):
        self.warnings.append(text)

    log = warn


@pytest.mark.parametrize("uncertainty_ns, warned", [(100_000, False), (3_000_000, True)])
def test_clock_step_measures_then_converts_t0_and_warns_beyond_2ms(uncertainty_ns, warned):
    stub = _Stub(uncertainty_ns)
    probe = stub._clock_probes[0]
    offset = 5_000_000_000          # the worker's clock is 5 s ahead

    async def handshake() -> bool:
        for _ in range(10):
            if await stub._clock_ready(0):
                return True
            seq = stub.sent[-1].seq
            t1 = probe._sent[seq]       # answer as if the legs took rtt/2 each
            probe.answered(seq, t1 + stub.rtt // 2 + offset, t1 + stub.rtt // 2 + offset, t1 + stub.rtt)
        return False

    assert asyncio.run(handshake())
    assert [type(x).__name__ for x in stub.sent] == ["TimeProbe", "TimeProbe"]
    assert stub.info[0].clock_offset_ms == 5000.0
    assert stub.info[0].clock_uncertainty_ms == round(uncertainty_ns / 1e6, 3)
    stub.t0_ns = 10_000_000_000
    assert stub._t0_us_for(0) == 15_000_000          # t0 on the worker's own clock
    assert bool(stub.warnings) is warned
    if warned:
        assert "± 3.0 ms" in stub.warnings[0]
