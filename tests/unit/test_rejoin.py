"""A worker lost by silence that rejoins, on the coordinator core (tests/core_driver.py): what
it is sent on rejoining (ends it missed, iteration-based starts it missed, re-split VU targets),
that every "is it lost now" check sees it live again while its loss time stays in the results,
and what a worker gone for good leaves behind (moved iterations, unaccounted arrivals)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lunge_mp.coordinator.lifecycle import Phase
from lunge_mp.coordinator.resources import ResourceMonitor
from lunge_mp.plan import Plan
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State
from tests.core_driver import Run, scenario


def lose_by_silence(r: Run, worker: int, t: float) -> None:
    """`worker` has been quiet since its last word; at `t` (over 3 s later) it is lost."""
    r.quiet.add(worker)
    r.tick(t)
    assert r.core.info[worker].lost and r.core.sessions[worker].state is State.LOST


def speak(r: Run, worker: int) -> None:
    r.quiet.discard(worker)
    r.say(worker, m.Heartbeat(worker=worker))


def test_a_rejoined_worker_gets_the_end_of_a_scenario_that_ended_while_it_was_lost():
    r = Run(scenario("a", duration=4.0), scenario("b", duration=6.0), sequential=True)
    r.start()
    r.tick(0.0)                                       # a starts: 1 VU each
    assert r.to(1, m.SetVUs)[-1].vus == 1
    lose_by_silence(r, 1, 3.1)
    assert r.core.live_workers() == [0]
    r.tick(4.0)                                       # a ends: only worker 0 is told
    assert not r.to(1, m.EndScenario)
    r.say(0, m.ScenarioDone(worker=0, scenario="a"))
    assert r.core.lifecycle.state("a").phase is Phase.ENDED
    r.tick(4.1)                                       # b starts (sequential) on worker 0 alone
    assert r.to(0, m.SetVUs)[-1] == m.SetVUs(scenario="b", vus=2, deadline_us=34_100_000)
    r.at(5.0)
    r.clear()
    speak(r, 1)
    # a's end with the others' deadline (4.5 s: already past, so the worker interrupts at once)
    assert r.to(1) == [m.EndScenario(scenario="a", deadline_us=4_500_000)]
    assert r.core.sessions[1].state is State.RUNNING and r.core.info[1].rejoined_at == pytest.approx(5.0)
    r.tick(5.05)                                      # b's VUs are re-split over both
    assert [x.vus for x in r.to(1, m.SetVUs) if x.scenario == "b"] == [1]
    assert r.to(0, m.SetVUs)[-1].vus == 1
    lose_by_silence(r, 1, 8.1)                        # lost again and back: the end is not sent twice
    r.clear()
    speak(r, 1)
    assert not r.to(1, m.EndScenario)


def test_an_ending_scenario_waits_for_the_rejoined_worker_which_is_told_to_end_it():
    r = Run(scenario("a", executor="constant-arrival-rate", rate=10, pre_allocated_vus=2, max_vus=2,
                     duration=4.0, graceful_stop=30.0))
    r.start()
    r.tick(0.0)
    lose_by_silence(r, 1, 3.1)
    r.tick(4.0)                                       # a ends while worker 1 is lost
    assert r.core.lifecycle.state("a").phase is Phase.ENDING
    speak(r, 1)
    assert r.to(1)[-1] == m.EndScenario(scenario="a", deadline_us=34_000_000)
    r.say(0, m.ScenarioDone(worker=0, scenario="a"))
    assert r.core.lifecycle.state("a").phase is Phase.ENDING     # worker 1's ScenarioDone to come
    r.say(1, m.ScenarioDone(worker=1, scenario="a"))
    assert r.core.lifecycle.state("a").phase is Phase.ENDED


def test_a_rejoined_worker_gets_a_zero_share_of_an_iteration_scenario_started_while_it_was_lost():
    r = Run(scenario("it", executor="shared-iterations", iterations=10, max_duration=30.0, start_time=3.2))
    r.start()
    r.tick(0.0)
    lose_by_silence(r, 1, 3.1)
    r.tick(3.2)                                       # started on worker 0 alone: all 10 iterations
    assert r.to(0, m.SetVUs)[-1] == m.SetVUs(scenario="it", vus=2, iterations_total=10)
    r.clear()
    speak(r, 1)
    # nothing to run (shares are fixed at the start), so it says done at once
    assert r.to(1) == [m.SetVUs(scenario="it", vus=0)]
    lose_by_silence(r, 1, 6.5)
    r.clear()
    speak(r, 1)
    assert r.to(1) == []


def _open_run() -> Run:
    """An open scenario; at 0.3 s every arrival dealt at t0 is due, worker 1's reports ended 5."""
    r = Run(scenario("a", executor="constant-arrival-rate", rate=100, pre_allocated_vus=2, max_vus=4,
                     duration=10.0))
    r.start()
    r.tick(0.0)
    r.at(0.3)
    r.report(1, m.ScenarioDelta("a", iterations=5, scheduled=5))
    return r


def test_a_rejoined_worker_is_live_everywhere_and_keeps_its_loss_time():
    r = _open_run()
    r.quiet.add(1)
    r.tick(3.4)
    assert r.core.info[1].lost
    lost_at = r.core.info[1].lost_at
    assert lost_at == pytest.approx(3.4)
    assert [w.worker for w in r.core.info if not w.lost] == [0]
    r.at(4.0)
    speak(r, 1)
    info = r.core.info[1]
    assert info.lost_at == lost_at and info.rejoined_at > lost_at and not info.lost
    # its reports will not cover every arrival (none came), but it is not lost: nothing unaccounted
    r.core.request_stop("enough")
    r.tick(4.05)
    r.keep(r.core.close(r.now, {}))
    assert info.unaccounted == 0 and info.assigned == len(r.arrivals(1, "a"))
    assert not any("not accounted for" in w for w in r.core.outcome.warnings)
    # the resource samples include it again
    info.cpu_percent = 12.0
    sample = ResourceMonitor()
    sample.sample(4.0, r.core.info)
    assert set(sample.samples[-1]["workers"]) == {"0", "1"}


def test_a_worker_lost_for_good_is_summarised_and_left_out():
    r = _open_run()
    handed = len(r.arrivals(1, "a"))     # those not due by 0.3 s are taken back, never dealt again (stopping)
    r.exits(1)
    speak(r, 1)                                       # refused: it may not rejoin
    assert r.core.info[1].lost and r.to(1)[-1] == m.Stop(deadline_us=0, hard=True, reason="declared lost")
    r.core.request_stop("enough")
    r.tick(0.35)
    r.keep(r.core.close(r.now, {}))
    assert r.core.info[1].unaccounted == handed - 5
    assert any(f"worker 1 was lost with {handed - 5} of the {handed}" in w for w in r.core.outcome.warnings)
    assert r.core.outcome.arrivals_unaccounted == {"a": handed - 5}
    monitor = ResourceMonitor()
    monitor.sample(0.35, r.core.info)
    assert set(monitor.samples[-1]["workers"]) == {"0"}


def test_the_abort_checker_counts_a_rejoined_worker_as_live():
    from lunge_mp.analysis.thresholds import parse_threshold
    from lunge_mp.runner import _abort_checker

    seen = []
    agg = SimpleNamespace(complete_second=lambda n: seen.append(n), second=None, second_counts=None)
    workers = [SimpleNamespace(lost=False, lost_at=None),
               SimpleNamespace(lost=False, lost_at=1.0, rejoined_at=2.0),   # rejoined
               SimpleNamespace(lost=True, lost_at=1.5)]                     # lost now
    plan = Plan(name="p", scenarios=(scenario("a"),),
                thresholds=(parse_threshold("http_req_failed", "rate<0.1 over 1s", abort_on_fail=True),))
    coord = SimpleNamespace(outcome=SimpleNamespace(workers=workers, measured_from=0.0), aggregate=agg)
    _abort_checker(plan)(coord, 3.0)
    assert seen == [2]


@pytest.mark.parametrize("executor, share", [("shared-iterations", 50), ("per-vu-iterations", 2 * 50)])
def test_a_worker_gone_for_good_has_its_remaining_iterations_moved(executor, share):
    r = Run(scenario("it", executor=executor, vus=4, max_duration=30.0,
                     iterations=100 if executor == "shared-iterations" else 50))
    r.start()
    r.tick(0.0)
    assert [r.to(w, m.SetVUs)[0].iterations_total or 2 * r.to(w, m.SetVUs)[0].iterations_per_vu
            for w in (0, 1)] == [share, share]
    r.report(1, m.ScenarioDelta("it", iterations=20, interrupted=1))
    r.exits(1)
    left = share - 21
    assert any(f"its remaining {left} iterations moved to worker 0" in line for line in r.logs)
    r.clear()
    r.tick(0.05)
    assert r.to(0, m.AddIterations) == [m.AddIterations(scenario="it", iterations=left)]
    assert r.core.lifecycle.state("it").phase is Phase.RUNNING
    r.say(0, m.ScenarioDone(worker=0, scenario="it", added=left - 1))   # stale: more were added
    assert r.core.lifecycle.state("it").phase is Phase.RUNNING
    r.say(0, m.ScenarioDone(worker=0, scenario="it", added=left))
    assert r.core.lifecycle.state("it").phase is Phase.ENDED


def test_a_worker_lost_by_silence_keeps_its_iterations():
    r = Run(scenario("it", executor="shared-iterations", iterations=100, max_duration=30.0))
    r.start()
    r.tick(0.0)
    lose_by_silence(r, 1, 3.1)
    r.tick(3.15)
    assert not r.to(0, m.AddIterations)
    assert not any("moved to worker" in w for w in r.core.outcome.warnings)


def test_a_finished_worker_takes_the_iterations_and_its_done_is_needed_again():
    r = Run(scenario("it", executor="shared-iterations", iterations=100, max_duration=30.0))
    r.start()
    r.tick(0.0)
    r.say(0, m.ScenarioDone(worker=0, scenario="it"))
    r.exits(1)
    st = r.core.lifecycle.state("it")
    assert st.phase is Phase.RUNNING and 0 not in st.done_workers
    r.tick(0.05)
    assert r.to(0, m.AddIterations) == [m.AddIterations(scenario="it", iterations=50)]


def test_nothing_is_moved_from_an_ending_scenario_and_a_warning_says_so():
    r = Run(scenario("it", executor="shared-iterations", iterations=100, max_duration=2.0, graceful_stop=5.0))
    r.start()
    r.tick(0.0)
    r.tick(2.5)                                       # maxDuration over: ending
    r.exits(1)
    r.tick(2.55)
    assert not r.to(0, m.AddIterations)
    assert any("50 of its 50 iterations" in w and "could not be re-run" in w for w in r.core.outcome.warnings)
