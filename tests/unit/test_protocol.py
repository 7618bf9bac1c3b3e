"""Protocol state without sockets: allowed orders, refusals, sequence gaps; codec round trips."""

import msgspec
import pytest

from lunge_mp.executors import ConstantVUs
from lunge_mp.plan import Plan, RequestSpec
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import ProtocolError, State, WorkerSession

PLAN = Plan(name="t", scenarios=(ConstantVUs(
    name="s", vus=1, duration=1.0,
    requests=(RequestSpec(name="r", method="GET", url="http://127.0.0.1/"),)),))


def running(worker: int = 0) -> WorkerSession:
    s = WorkerSession(worker, "run1")
    s.received(m.Hello(worker=worker, pid=123))
    s.sent(m.Start(run_id="run1", plan=PLAN, worker=worker, workers=1))
    s.received(m.Ready(worker=worker))
    s.sent(m.Go(t0_us=1))
    return s


def report(seq: int, run_id: str = "run1") -> m.Report:
    return m.Report(worker=0, run_id=run_id, seq=seq, bucket=seq)


def test_happy_path_reaches_done():
    s = running()
    assert s.state is State.RUNNING
    s.sent(m.Assign(scenario="s", first_index=0, offsets_us=[1, 2]))
    s.received(report(0))
    s.received(m.Heartbeat(worker=0))
    s.sent(m.Stop(deadline_us=5))
    assert s.state is State.STOPPING
    s.received(report(1))
    s.received(m.Bye(worker=0, reports=2))
    assert s.state is State.DONE and s.missing == []


@pytest.mark.parametrize("steps, error", [
    pytest.param([m.Ready(worker=0)], "Ready not allowed", id="ready-before-hello"),
    pytest.param([m.Hello(worker=0, pid=1, protocol=99)], "protocol 99", id="wrong-version"),
    pytest.param([m.Hello(worker=3, pid=1)], "identity of worker 0", id="wrong-identity"),
    pytest.param([m.Hello(worker=0, pid=1), m.Hello(worker=0, pid=1)], "Hello not allowed", id="double-hello"),
    pytest.param([m.Hello(worker=0, pid=1), report(0)], "Report not allowed", id="report-before-go"),
    pytest.param([m.Go(t0_us=1)], "unexpected Go", id="coordinator-message-from-worker"),
])
def test_refused_orders(steps, error):
    s = WorkerSession(0, "run1")
    with pytest.raises(ProtocolError, match=error):
        for msg in steps:
            s.received(msg)


def test_report_from_another_run_is_refused():
    s = running()
    with pytest.raises(ProtocolError, match="from run 'other'"):
        s.received(report(0, run_id="other"))
    s.received(report(0))   # the session goes on


def test_duplicate_seq_refused_and_gap_recorded():
    s = running()
    s.received(report(0))
    with pytest.raises(ProtocolError, match="duplicate"):
        s.received(report(0))
    s.received(report(3))
    assert s.missing == [(1, 2)]


def test_bye_announcing_more_reports_than_received_records_the_gap():
    s = running()
    s.received(report(0))
    s.received(m.Bye(worker=0, reports=3))
    assert s.missing == [(1, 2)]


def test_lost_session_refuses_heartbeats():
    s = running()
    s.lost()
    assert not s.alive
    with pytest.raises(ProtocolError):
        s.received(m.Heartbeat(worker=0))


def test_a_session_lost_by_silence_rejoins_and_its_seqs_go_on():
    s = running()
    s.received(report(0))
    s.received(report(1))
    s.lost()
    s.rejoined(State.RUNNING)
    assert s.state is State.RUNNING and s.alive
    with pytest.raises(ProtocolError, match="duplicate"):
        s.received(report(1))       # never merged twice
    s.received(report(3))           # a skipped one is a gap, as always
    assert s.missing == [(2, 2)]
    s.sent(m.Assign(scenario="s", first_index=0, offsets_us=[1]))   # it gets work again
    with pytest.raises(ProtocolError):
        s.rejoined(State.RUNNING)   # only a lost session rejoins
    s.lost()
    with pytest.raises(ProtocolError):
        s.rejoined(State.DONE)


def test_coordinator_cannot_send_go_before_ready():
    s = WorkerSession(0, "run1")
    s.received(m.Hello(worker=0, pid=1))
    with pytest.raises(ProtocolError):
        s.sent(m.Go(t0_us=1))


@pytest.mark.parametrize("msg", [
    m.Hello(worker=1, pid=2),
    m.Start(run_id="r", plan=PLAN, worker=0, workers=2, max_vus={"s": 3}),
    m.Assign(scenario="s", first_index=10, offsets_us=list(range(0, 5000, 2)), stride=2),
    m.SetVUs(scenario="s", vus=4, deadline_us=9),
    m.Report(worker=0, run_id="r", seq=1, bucket=1,
             series=[m.SeriesDelta.of("s", "r", "http_req_duration", {1500: 2, 3000: 1}, 3, 1500, 3100)],
             counters=[m.CounterDelta("s", "r", 3, 1, {"http_5xx": 1})],
             scenarios=[m.ScenarioDelta("s", 3, {"no_vu": 1})]),
    m.Bye(worker=0, reports=3),
], ids=lambda msg: type(msg).__name__)
def test_codec_round_trip(msg):
    assert m.decode(m.encode(msg)) == msg


def test_a_counter_delta_from_before_checks_still_decodes():
    """The schema only grows: a Report whose CounterDelta has no checks fields (as an older
    worker sends it) decodes with zero checks."""
    old = {"type": "Report", "worker": 0, "run_id": "r", "seq": 0, "bucket": 0,
           "counters": [["s", "r", 3, 1, {"http_5xx": 1}, 10, 20, {"http_5xx": "boom"}]]}
    msg = m.decode(msgspec.msgpack.encode(old))
    assert msg.counters == [m.CounterDelta("s", "r", 3, 1, {"http_5xx": 1}, 10, 20, {"http_5xx": "boom"})]
    assert (msg.counters[0].checks_passed, msg.counters[0].checks_failed) == (0, 0)


@pytest.mark.parametrize("frame", [b"", b"\x00garbage", m.encode(m.Bye(worker=0, reports=1))[:-1],
                                   msgspec.msgpack.encode({"type": "Nope"})])
def test_garbage_frames_raise_decode_errors(frame):
    with pytest.raises(msgspec.MsgspecError):
        m.decode(frame)
