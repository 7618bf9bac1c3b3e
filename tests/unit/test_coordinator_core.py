"""The coordinator core driven directly (tests/core_driver.py): handshake, dealing over the
live workers, loss, iteration moves, rejoin and catch-up, stop and finish, bad peers. No
socket, no processes, no private calls: events in, the actions and the outcome checked."""

from __future__ import annotations

import pytest

from lunge_mp.coordinator.control import RunControl
from lunge_mp.coordinator.core import RunCore, RunPhase
from lunge_mp.coordinator.handshake import HANDSHAKE_TIMEOUT_S, MIN_START_DELAY_S, START_DELAY_S
from lunge_mp.coordinator.lifecycle import Phase
from lunge_mp.coordinator.outbox import Send
from lunge_mp.plan import Guardrails, Plan
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State
from tests.core_driver import RUN_ID, Run, scenario


def open_scenario(name="o", rate=100, **kw):
    return scenario(name, executor="constant-arrival-rate", rate=rate, pre_allocated_vus=2, max_vus=4, **kw)


# --- handshake ---------------------------------------------------------------------------------

def test_the_handshake_sends_start_on_hello_and_go_with_t0_a_moment_ahead_when_all_are_ready():
    r = Run(scenario("a", vus=3), open_scenario("o"), workers=2)
    r.say(0, m.Hello(worker=0, pid=11))
    start = r.to(0, m.Start)[0]
    assert (start.run_id, start.worker, start.workers) == (RUN_ID, 0, 2)
    assert start.pre_allocated_vus == {"o": 1} and start.max_vus == {"o": 2}
    r.now += 0.05
    r.say(0, m.Ready(worker=0))
    r.keep(r.core.tick(r.now))                       # worker 1 has not greeted: no Go yet
    assert r.core.phase is RunPhase.HANDSHAKE and not r.to(0, m.Go)
    r.say(1, m.Hello(worker=1, pid=12))
    r.say(1, m.Ready(worker=1))
    r.keep(r.core.tick(r.now))
    go = r.to(0, m.Go)[0]
    assert r.to(1, m.Go) == [go] and r.core.phase is RunPhase.RUNNING
    delay = go.t0_us / 1e6 - r.now
    assert MIN_START_DELAY_S <= delay <= START_DELAY_S
    assert delay == pytest.approx(min(START_DELAY_S, 2 * 0.05), abs=1e-5)   # twice the slowest round trip
    assert [i.pid for i in r.core.info] == [11, 12]


def test_a_worker_that_exits_during_the_handshake_fails_the_run_with_code_1():
    r = Run(scenario("a"))
    r.say(0, m.Hello(worker=0, pid=11))
    r.exits(1, code=3)
    assert r.core.phase is RunPhase.CLOSED
    assert (r.core.outcome.abort, r.core.outcome.abort_code) == ("worker 1 exited with code 3 before the run started", 1)


def test_workers_not_ready_in_time_fail_the_run_and_a_stop_ends_the_handshake():
    r = Run(scenario("a"))
    r.keep(r.core.tick(r.now))
    r.keep(r.core.tick(r.now + HANDSHAKE_TIMEOUT_S))
    assert r.core.phase is RunPhase.CLOSED and r.core.outcome.abort_code == 1
    assert "did not become ready within 20s" in r.core.outcome.abort
    r = Run(scenario("a"))
    r.say(0, m.Hello(worker=0, pid=11))
    r.core.signal()
    r.keep(r.core.tick(r.now))
    assert r.core.phase is RunPhase.CLOSED and r.core.outcome.abort_code == 105
    r.say(1, m.Hello(worker=1, pid=12))              # greeted after the stop: no Start
    assert not r.to(1, m.Start)


# --- dealing -----------------------------------------------------------------------------------

def test_arrivals_are_dealt_round_robin_over_the_live_workers_each_exactly_once():
    r = Run(open_scenario("o", rate=100, duration=2.0), workers=3)
    r.start()
    for k in range(8):                               # 0.4 s of ticks: arrivals up to 0.65 s handed out
        r.tick(k * 0.05)
    got = {w: r.arrivals(w, "o") for w in range(3)}
    assert [i for i, _ in got[0]][:4] == [0, 3, 6, 9] and [i for i, _ in got[1]][:4] == [1, 4, 7, 10]
    every = sorted(got[0] + got[1] + got[2])
    assert [i for i, _ in every] == list(range(len(every)))
    assert r.core.outcome.arrivals_sent == {"o": len(every)} and len(every) >= 60   # up to 0.35 s + 0.25 s ahead
    # worker 1 dies: from the next tick arrivals go to 0 and 2 alone, its ones not yet due are dealt again
    r.exits(1)
    assert r.core.live_workers() == [0, 2] and r.core.info[1].lost
    r.clear()
    r.tick(0.45)
    redealt = r.arrivals(0, "o") + r.arrivals(2, "o")
    assert any("arrivals not yet due when it was lost were dealt again" in line for line in r.logs)
    assert not r.to(1)
    indexes = [i for i, _ in redealt]
    assert len(indexes) == len(set(indexes))
    assert {i for i, o in got[1] if o > 450_000} <= set(indexes)   # its future arrivals run elsewhere


def test_a_silent_worker_gets_no_arrivals_until_it_speaks_and_is_lost_after_3s():
    r = Run(open_scenario("o", rate=100, duration=10.0), workers=2)
    r.start()
    r.tick(0.0)
    r.quiet.add(1)
    r.clear()
    r.tick(1.6)                                       # worker 1 silent for 1.6 s: suspect
    assert r.arrivals(0, "o") and not r.arrivals(1, "o") and not r.core.info[1].lost
    r.quiet.discard(1)
    r.clear()
    r.tick(1.7)
    assert r.arrivals(1, "o")
    r.quiet.add(1)
    r.tick(4.8)
    assert r.core.info[1].lost and r.core.sessions[1].state is State.LOST
    assert any("worker 1 (pid 4001) lost at 4.8s: silent for 3.1s" in line for line in r.logs)


def test_closed_model_vus_are_split_over_the_live_workers_and_re_split_on_a_loss():
    r = Run(scenario("c", vus=5, duration=10.0), workers=2)
    r.start()
    r.tick(0.0)
    assert [x.vus for x in r.to(0, m.SetVUs)] == [3] and [x.vus for x in r.to(1, m.SetVUs)] == [2]
    r.tick(0.5)                                       # no change: nothing sent
    assert len(r.to(0, m.SetVUs)) == 1
    r.exits(1)
    r.tick(0.55)
    assert [x.vus for x in r.to(0, m.SetVUs)] == [3, 5]


def test_iteration_shares_are_fixed_at_the_start():
    r = Run(scenario("it", executor="shared-iterations", vus=3, iterations=10, max_duration=30.0), workers=2)
    r.start()
    r.tick(0.0)
    assert r.to(0, m.SetVUs) == [m.SetVUs(scenario="it", vus=2, iterations_total=7)]
    assert r.to(1, m.SetVUs) == [m.SetVUs(scenario="it", vus=1, iterations_total=3)]
    r.tick(0.5)
    assert len(r.to(0, m.SetVUs)) == 1


# --- loss → iteration moves → rejoin → catch-up ----------------------------------------------

def test_loss_moves_iterations_and_a_worker_lost_by_silence_rejoins_and_catches_up():
    r = Run(scenario("it", executor="shared-iterations", vus=3, iterations=90, max_duration=30.0),
            scenario("c", vus=3, duration=30.0), workers=3)
    r.start()
    r.tick(0.0)
    assert [r.to(w, m.SetVUs)[0].iterations_total for w in range(3)] == [30, 30, 30]
    r.report(2, m.ScenarioDelta("it", iterations=10, interrupted=2))
    r.tick(1.0)
    r.exits(2)                                        # gone for good: 18 of its 30 move on
    assert any("its remaining 18 iterations moved to worker 0" in line for line in r.logs)
    r.tick(1.05)
    assert r.to(0, m.AddIterations) == [m.AddIterations(scenario="it", iterations=18)]
    # worker 0's done is stale until it covers the added iterations
    r.say(0, m.ScenarioDone(worker=0, scenario="it", added=0))
    assert 0 not in r.core.lifecycle.state("it").done_workers
    r.say(0, m.ScenarioDone(worker=0, scenario="it", added=18))
    assert 0 in r.core.lifecycle.state("it").done_workers
    # worker 1 goes silent: lost, keeps its share (it may come back)
    r.quiet.add(1)
    r.tick(4.2)
    assert r.core.info[1].lost and not r.to(0, m.AddIterations)[1:]
    r.tick(4.25)                                      # its closed VUs move to worker 0
    assert r.to(0, m.SetVUs)[-1].scenario == "c" and r.to(0, m.SetVUs)[-1].vus == 3
    r.clear()
    r.quiet.discard(1)
    r.say(1, m.Heartbeat(worker=1))                   # it speaks again: rejoined
    assert not r.core.info[1].lost and r.core.info[1].rejoined_at == pytest.approx(4.25)
    assert r.core.info[1].lost_at == pytest.approx(4.2)
    assert any("worker 1 was lost at 4.2s (silent) and rejoined at 4.2s" in line for line in r.logs)
    r.tick(4.3)                                       # closed VUs re-split over 0 and 1
    assert r.to(1, m.SetVUs)[-1].vus == 1 and r.to(0, m.SetVUs)[-1].vus == 2
    r.say(1, m.ScenarioDone(worker=1, scenario="it"))
    assert r.core.lifecycle.state("it").phase is Phase.ENDED


def test_a_rejoined_worker_gets_what_it_missed_once():
    r = Run(scenario("a", duration=4.0), scenario("b", duration=8.0),
            scenario("it", executor="per-vu-iterations", vus=2, iterations=5, max_duration=30.0, start_time=4.2))
    r.start()
    r.tick(0.0)
    r.quiet.add(1)
    r.tick(3.1)                                       # worker 1 silent: lost
    assert r.core.info[1].lost
    r.tick(4.5)                                       # a ends and it starts while it is lost
    assert r.to(0, m.EndScenario) and not r.to(1, m.EndScenario)
    assert [x for x in r.to(0, m.SetVUs) if x.scenario == "it"] == [m.SetVUs(scenario="it", vus=2, iterations_per_vu=5)]
    r.clear()
    r.quiet.discard(1)
    r.say(1, m.Heartbeat(worker=1))
    assert r.to(1) == [m.EndScenario(scenario="a", deadline_us=4_500_000),
                       m.SetVUs(scenario="it", vus=0, iterations_per_vu=5)]
    r.quiet.add(1)
    r.tick(7.6)
    assert r.core.info[1].lost
    r.clear()
    r.quiet.discard(1)
    r.say(1, m.Heartbeat(worker=1))                   # lost and back again: nothing twice
    assert r.to(1) == [] and not r.core.info[1].lost


# --- stop and finish ---------------------------------------------------------------------------

def _finish(r: Run) -> None:
    for w in r.core.live_workers() + [s.worker for s in r.core.sessions if s.state is State.STOPPING]:
        r.bye(w)


def test_the_end_of_the_schedule_stops_every_worker_and_closing_summarises():
    r = Run(scenario("a", duration=1.0, graceful_stop=0.2))
    r.start()
    r.tick(0.0)
    r.tick(1.0)                                       # a ends
    for w in range(2):
        r.say(w, m.ScenarioDone(worker=w, scenario="a"))
    assert r.core.lifecycle.all_ended
    r.tick(1.05)                                      # all ended: the final Stop
    stop = r.to(0, m.Stop)[0]
    assert r.core.phase is RunPhase.STOPPING and stop.reason == "end of schedule" and not stop.hard
    assert stop.deadline_us == pytest.approx(2_050_000, abs=10)
    assert not r.core.finished(r.now)
    _finish(r)
    assert r.core.finished(r.now) and r.core.settled()
    r.keep(r.core.close(r.now, {}))
    out = r.core.outcome
    assert r.core.phase is RunPhase.CLOSED and out.abort is None and out.duration_s == pytest.approx(1.05)
    assert out.scenario_windows["a"] == {"start": 0.0, "scheduleEnd": 1.0, "end": 1.0}
    assert "limits" in out.guardrails or out.guardrails


def test_a_stop_gives_the_graceful_stop_and_a_second_signal_a_hard_stop():
    r = Run(scenario("a", duration=10.0, graceful_stop=4.0))
    r.start()
    r.tick(0.0)
    r.core.signal()
    r.tick(0.5)
    stop = r.to(0, m.Stop)[0]
    assert stop.reason == "stopped by a signal" and stop.deadline_us == 4_500_000
    assert r.core.outcome.abort_code == 105
    r.core.signal()
    r.tick(0.6)
    assert r.to(1, m.Stop)[-1] == m.Stop(deadline_us=0, hard=True, reason="second signal")
    assert not r.core.finished(r.now + 1.99) and r.core.finished(r.now + 2.0)   # at most 2 s more
    r.keep(r.core.close(r.now + 2.0, {}))
    assert any("did not finish in time" in w for w in r.core.outcome.warnings)


def test_a_control_stop_and_pause_resume_act_through_the_core():
    control = RunControl()
    r = Run(scenario("c", vus=4, duration=10.0, graceful_ramp_down=1.0), control=control)
    r.start()
    r.tick(0.0)
    paused = control.pause()
    r.tick(1.0)
    assert paused.result(0) == "ok" and [x.vus for x in r.to(0, m.SetVUs)] == [2, 0]
    resumed = control.resume()
    r.tick(3.0)
    assert resumed.result(0) == "ok" and r.core.lifecycle.start_of("c") == pytest.approx(2.0)
    assert [x.vus for x in r.to(0, m.SetVUs)] == [2, 0, 2]
    stopped = control.stop("enough")
    r.tick(3.05)
    assert stopped.result(0) == "ok" and r.core.outcome.abort == "enough"
    r.tick(3.1)
    assert r.to(0, m.Stop)[0].reason == "enough" and r.core.phase is RunPhase.STOPPING


def test_losing_every_worker_stops_the_run_with_112():
    r = Run(scenario("a", duration=10.0))
    r.start()
    r.tick(0.0)
    r.exits(0)
    r.bye(1, error="boom")
    assert r.core.outcome.abort_code == 112 and r.core.outcome.abort == "lost all workers"
    assert any("worker 1 failed at 0.0s: boom" in line for line in r.logs)
    r.tick(0.05)
    assert r.core.phase is RunPhase.STOPPING and r.core.finished(r.now)


# --- bad peers and failed sends ------------------------------------------------------------------

def test_bad_peers_are_refused_and_counted_never_fatal():
    r = Run(scenario("a"))
    r.start()
    r.keep(r.core.frames([b"w9", m.encode(m.Heartbeat())], r.now))
    r.keep(r.core.frames([b"evil", b"x"], r.now))
    r.keep(r.core.frames([b"w0", b"\xc1garbage"], r.now))
    r.keep(r.core.frames([b"w0"], r.now))
    r.keep(r.core.frames([b"w0", m.encode(m.Ready(worker=0))], r.now))    # not allowed when running
    assert r.core.outcome.refused == 5 and len(r.logs) == 5
    r.keep(r.core.frames([b"w0", m.encode(m.Heartbeat(worker=0, cpu_percent=12.0))], r.now))
    assert r.core.info[0].cpu_percent == 12.0 and r.core.outcome.refused == 5


def test_a_worker_lost_for_good_that_speaks_is_told_to_stop_once_and_not_counted():
    r = Run(scenario("a", duration=10.0))
    r.start()
    r.tick(0.0)
    r.exits(1)
    r.clear()
    r.report(1, m.ScenarioDelta("a", iterations=5))
    r.report(1, m.ScenarioDelta("a", iterations=5))
    assert r.to(1) == [m.Stop(deadline_us=0, hard=True, reason="declared lost")]
    assert r.core.aggregate.counters(scenario="a")["requests"] == 0 and r.core.outcome.refused == 2
    r.keep(r.core.close(r.now, {}))
    assert any("worker 1: 2 message(s) after it was declared lost" in w for w in r.core.outcome.warnings)


def test_a_failed_send_loses_the_worker_and_drops_the_rest_of_its_batch():
    r = Run(open_scenario("o", rate=100, duration=5.0), scenario("c", vus=2, duration=5.0))
    r.start()
    actions = r.core.tick(r.now)
    to_1 = [a for a in actions if isinstance(a, Send) and a.worker == 1]
    assert len(to_1) >= 2
    r.keep(r.core.send_failed(1, "its message queue is full (it stopped reading)", r.now))
    assert not any(r.core.deliverable(a) for a in to_1)
    assert r.core.info[1].error == "its message queue is full (it stopped reading)"
    r.tick(0.05)
    assert r.core.live_workers() == [0] and any("dealt again" in line for line in r.logs)


def test_run_ids_are_random_unless_given():
    plan = Plan(name="p", scenarios=(scenario("a"),))
    assert RunCore(plan, 1).run_id != RunCore(plan, 1).run_id


def test_scaling_through_the_control_re_splits_vus_and_speeds_up_arrivals():
    control = RunControl()
    r = Run(scenario("c", vus=2, duration=10.0), open_scenario("o", rate=100, duration=10.0), control=control)
    r.start()
    r.tick(0.0)
    assert [x.vus for x in r.to(0, m.SetVUs)] == [1]
    scaled = control.scale("c", vus=6)
    faster = control.scale("o", factor=2.0)
    r.tick(1.0)
    assert scaled.result(0) == "ok" and faster.result(0) == "ok"
    assert [x.vus for x in r.to(0, m.SetVUs)] == [1, 3] and [x.vus for x in r.to(1, m.SetVUs)] == [1, 3]
    r.clear()
    r.tick(2.0)                                       # 2.0-2.25 s after the scale: 200 arrivals/s
    every = sorted(r.arrivals(0, "o") + r.arrivals(1, "o"))
    window = [o for _, o in every if 2_000_000 < o <= 2_250_000]
    assert len(window) == pytest.approx(50, abs=1)
    assert [e["event"] for e in control.events] == ["scale", "scale"]


def test_permit_requests_are_answered_from_the_run_budget():
    r = Run(scenario("c", vus=2, duration=10.0), guardrails=Guardrails(max_total_requests=10, emergency_stop=True))
    r.start()
    assert r.to(0, m.Start)[0].permit_lease
    r.say(0, m.PermitRequest(worker=0, used=0, want=100))
    grant = r.to(0, m.PermitGrant)[0]
    assert 0 < grant.permits <= 10 and not grant.final
