"""Remote workers' clocks during the run (protocol/clock.py ClockTracker, coordinator/
clock_watch.py): re-measured on the heartbeats, the minimum round trip of a window, the
applied offset moved smoothly (never a jump, so a worker's arrival instants keep their order),
the history and drift for results.json, a warning when the uncertainty grows past 2 ms."""

from __future__ import annotations

from lunge_mp.coordinator.core import RunCore, RunPhase
from lunge_mp.coordinator.outbox import Send
from lunge_mp.plan import Plan
from lunge_mp.protocol import clock
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State
from tests.core_driver import scenario

S = 1_000_000_000


def _exchange(tracker, now_ns, offset_ns, rtt_ns, hold_ns=400_000_000):
    """One probe on a heartbeat, answered on the worker's next one `hold_ns` later; returns
    when the answer arrived (coordinator clock)."""
    seq = tracker.probe(now_ns)
    assert seq
    t2 = now_ns + rtt_ns // 2 + offset_ns
    t3 = t2 + hold_ns
    t4 = t3 - offset_ns + rtt_ns // 2
    assert tracker.answered(seq, t2, t3, t4)
    return t4


def test_a_drifting_clock_is_followed_and_its_drift_reported():
    start = clock.Estimate(offset_ns=5 * S, rtt_ns=200_000, uncertainty_ns=100_000, samples=8)
    tracker = clock.ClockTracker(start, 0)
    applied = [tracker.applied_ns]
    for second in range(1, 121):           # 100 ppm fast: 0.1 ms more every second
        now = second * S
        tracker.slew(now)
        applied.append(tracker.applied_ns)
        _exchange(tracker, now, 5 * S + 100_000 * second, 200_000)
    truth = 5 * S + 100_000 * 120
    assert abs(tracker.estimate.offset_ns - truth) <= 100_000 * clock.WINDOW     # the window's age at most
    assert abs(tracker.applied_ns - truth) <= 100_000 * (clock.WINDOW + 2)
    steps = [b - a for a, b in zip(applied, applied[1:])]
    assert max(abs(s) for s in steps) <= S * clock.SLEW           # ≤ 0.5 ms per second, never a jump
    assert 95 <= tracker.drift_ppm() <= 105
    assert len(tracker.history) <= clock.HISTORY + 1 and tracker.history[0] == [0, 5 * S, 100_000]


def test_a_wrong_start_is_corrected_slowly_and_arrival_instants_keep_their_order():
    start = clock.Estimate(offset_ns=5_000_000, rtt_ns=200_000, uncertainty_ns=100_000, samples=8)
    tracker = clock.ClockTracker(start, 0)   # the true offset is 0: the handshake was 5 ms off
    worker_instants = []
    for tick in range(1, 400):                # the coordinator's tick every 50 ms
        now = tick * 50_000_000
        if tick % 20 == 0:                    # heartbeats: every second
            tracker.slew(now)
            _exchange(tracker, now, 0, 100_000)
        # the arrivals dealt now (500 ms ahead, 10 ms apart) on the worker's clock
        worker_instants += [now + 500_000_000 + i * 10_000_000 + tracker.applied_ns for i in range(5)]
    assert tracker.applied_ns == 0             # 5 ms at 0.5 ms a second: done within 20 s
    assert all(b > a for a, b in zip(worker_instants, worker_instants[1:]))


def test_the_best_round_trip_of_the_window_wins_and_a_lost_echo_is_given_up():
    start = clock.Estimate(offset_ns=1_000_000, rtt_ns=300_000, uncertainty_ns=150_000, samples=8)
    tracker = clock.ClockTracker(start, 0)
    _exchange(tracker, S, 9_000_000, 40_000_000)       # a congested exchange: ignored for the best
    assert tracker.estimate.offset_ns == 1_000_000
    assert tracker.probe(2 * S) is not None and tracker.probe(3 * S) is None    # in flight
    assert not tracker.answered(99, 1, 2, 3 * S)                                # no such probe
    assert tracker.probe(2 * S + clock.ECHO_TIMEOUT_NS) is not None             # given up: the next
    for second in range(9, 9 + clock.WINDOW):           # the start sample ages out of the window
        _exchange(tracker, second * S, 2_000_000, 500_000)
    assert tracker.estimate.offset_ns == 2_000_000 and tracker.estimate.uncertainty_ns == 250_000


def _running_core():
    core = RunCore(Plan(name="p", scenarios=(scenario("s", duration=60.0),)), 1, run_id="0123456789ab",
                   remote=1, wait_s=30.0)
    now = 1000.0
    actions = core.frames([b"r-a", m.encode(m.Hello(worker=-1, pid=7, name="a/0", host="h"))], now)
    offset = 3 * S
    actions += core.tick(now)
    while core.sessions[0].state is State.GREETED:
        probes = [a.msg for a in actions if isinstance(a, Send) and isinstance(a.msg, m.TimeProbe)]
        actions = []
        for probe in probes:
            t = int(now * 1e9) + offset + 100_000
            now += 0.0002
            actions += core.frames([b"r-a", m.encode(m.TimeEcho(seq=probe.seq, received_ns=t, sent_ns=t))], now)
        actions += core.tick(now)
    core.frames([b"r-a", m.encode(m.Ready(worker=0))], now)
    core.tick(now)
    assert core.phase is RunPhase.RUNNING
    return core, now


def test_the_core_probes_on_heartbeats_moves_t0_smoothly_and_reports_the_history():
    core, now = _running_core()
    t0_sent = core.t0_us + core.remote.estimates[0].offset_ns // 1000
    worker_offset = 3 * S + 2_000_000           # the worker's clock is 2 ms further ahead than measured
    t0s = [t0_sent]
    probes = 0
    for second in range(1, 31):
        now = core.t0 + second
        beats = [a.msg for a in core.tick(now) if isinstance(a, Send) and isinstance(a.msg, m.Heartbeat)]
        assert len(beats) == 1
        if len(t0s) > 1:                     # once moved, every heartbeat says the t0 in force
            assert beats[0].t0_us >= t0s[-1]
        if beats[0].t0_us and beats[0].t0_us != t0s[-1]:
            t0s.append(beats[0].t0_us)
        if beats[0].probe:
            probes += 1
            t2 = int(now * 1e9) + 100_000 + worker_offset
            core.frames([b"r-a", m.encode(m.Heartbeat(worker=0, echo=beats[0].probe, echo_received_ns=t2,
                                                      echo_sent_ns=t2 + 300_000_000))], now + 0.3002)
    assert probes >= 25
    assert all(0 < b - a <= 501 for a, b in zip(t0s, t0s[1:]))      # later, by ≤ 0.5 ms a second
    assert abs(t0s[-1] - (t0_sent + 2000)) <= 2                      # and there by now
    info = core.info[0]
    assert abs(info.clock_applied_ms - 3002.0) <= 0.01
    assert info.clock_history[0][1] == info.clock_offset_ms and abs(info.clock_history[-1][1] - 3002.0) <= 0.01
    assert 0 < info.clock_history[0][0] < info.clock_history[-1][0] <= 30    # seconds after t0
    assert not any("during the run its clock offset" in w for w in core.outcome.warnings)


def test_a_worker_whose_round_trips_grow_is_warned_about_once():
    core, now = _running_core()
    for second in range(1, 3 + 2 * clock.WINDOW):
        now = core.t0 + second
        beats = [a.msg for a in core.tick(now) if isinstance(a, Send) and isinstance(a.msg, m.Heartbeat)]
        if beats and beats[0].probe:
            t2 = int(now * 1e9) + 3_000_000 + 3 * S      # 6 ms round trips from now on
            core.frames([b"r-a", m.encode(m.Heartbeat(worker=0, echo=beats[0].probe, echo_received_ns=t2,
                                                      echo_sent_ns=t2))], now + 0.006)
    warned = [w for w in core.outcome.warnings if "during the run its clock offset is known only to" in w]
    assert len(warned) == 1 and "± 3.0 ms" in warned[0] and "worker 0 (a/0 on h)" in warned[0]
