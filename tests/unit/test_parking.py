"""A worker that hears nothing from its coordinator for LOST_AFTER_S parks its closed-model VUs
(worker/parking.py, the decisions; worker/closed_model.py, VUs that start no new iteration),
and how the coordinator answers a parked worker in both orders: it took it for lost and
re-split its VUs (then rejoin, re-split), or it never did (then its share, again)."""

from __future__ import annotations

import asyncio

import pytest

from lunge_mp.coordinator import health
from lunge_mp.coordinator.dealing import BATCH_S, LOOKAHEAD_S
from lunge_mp.executors import ConstantVUs, PerVUIterations
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.plan import Plan, RequestSpec
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.liveness import LOST_AFTER_S
from lunge_mp.protocol.session import State
from lunge_mp.worker.closed_model import ClosedScenario
from lunge_mp.worker.iteration import ScenarioRunner
from lunge_mp.worker.parking import Parking
from lunge_mp.worker.transport import Outcome
from tests.core_driver import Run, scenario
from tests.support import until


# --- the decisions -----------------------------------------------------------------------
def test_the_worker_parks_at_the_coordinators_own_lost_limit():
    assert Parking().limit_s == LOST_AFTER_S == health.LOST_AFTER_S
    p = Parking()
    closed = {"steady": True, "fixed": False}      # name → time-based
    assert p.silence(LOST_AFTER_S - 0.1, closed) == [] and not p.cut_off
    assert p.silence(LOST_AFTER_S, closed) == []   # over the limit, as the coordinator judges
    assert p.silence(LOST_AFTER_S + 0.05, closed) == ["steady", "fixed"] and p.cut_off
    assert p.silence(LOST_AFTER_S + 2, closed) == []              # parked once
    assert not p.asking                                           # nobody hears it meanwhile


def test_heard_again_iteration_based_runs_at_once_time_based_waits_to_be_told():
    p = Parking()
    p.silence(4.0, {"steady": True, "fixed": False})
    assert p.heard() == ["fixed"]           # its share was not moved by a loss by silence
    assert not p.cut_off and p.parked == {"steady": True}
    assert p.asking                         # heartbeats ask for the share of `steady`
    assert p.heard() == []                  # nothing new: it was not cut off
    assert p.told("other") is False
    assert p.told("steady") is True and not p.asking and p.parked == {}
    assert p.told("steady") is False


def test_cut_off_again_before_its_share_came_and_a_stop_releases_everything():
    p = Parking()
    p.silence(3.5, {"steady": True})
    p.heard()
    assert p.silence(3.5, {"steady": True, "late": True}) == ["late"]     # steady is parked still
    assert not p.asking                     # cut off: no heartbeat gets through anyway
    assert sorted(p.release_all()) == ["late", "steady"] and not p.cut_off and not p.asking


def test_nothing_to_park_still_counts_as_cut_off_for_the_next_word():
    p = Parking()
    assert p.silence(9.0, {}) == [] and p.cut_off
    assert p.heard() == [] and not p.cut_off


# --- the VUs -------------------------------------------------------------------------------
class Slow:
    """A transport that answers after `delay_s`, counting what was sent."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s, self.sent = delay_s, 0

    async def send(self, request) -> Outcome:
        self.sent += 1
        await asyncio.sleep(self.delay_s)
        return Outcome(status=200, duration_us=int(self.delay_s * 1e6))

    async def close(self) -> None:
        pass


def _closed(transport, scenario_plan=None) -> ClosedScenario:
    s = scenario_plan or ConstantVUs(name="s", vus=2, duration=10, requests=(RequestSpec("r", "GET", "http://h/"),))
    runner = ScenarioRunner(Plan(name="p", scenarios=(s,)), s, transport, Recorder(), 1)
    return ClosedScenario(runner, lambda: None)


def _counted(closed: ClosedScenario) -> tuple[int, int]:
    """(iterations, interrupted) recorded since the last call."""
    deltas = [d for d in closed.runner.recorder.drain()[2] if d.scenario == "s"]
    return sum(d.iterations for d in deltas), sum(d.interrupted for d in deltas)


def test_parked_vus_finish_their_iteration_start_none_and_run_again_when_unparked():
    transport = Slow()

    async def main():
        closed = _closed(transport)
        closed.set_vus(2)
        await until(lambda: transport.sent >= 6)
        closed.park()
        await until(lambda: closed.busy == 0)          # those in flight finished ...
        parked_at = transport.sent
        await asyncio.sleep(0.15)                       # ... and none started another
        assert transport.sent == parked_at and len(closed.running) == 2
        assert closed.allocated == 0                    # the `vus` gauge: it runs none
        assert _counted(closed) == (parked_at, 0)       # every request sent was counted, none cut
        closed.unpark()
        await until(lambda: transport.sent >= parked_at + 4)
        closed.set_vus(0)
        await until(lambda: not closed.running)
        assert _counted(closed)[1] == 0

    asyncio.run(main())


def test_parked_vus_told_to_stop_leave_and_new_ones_wait():
    transport = Slow()

    async def main():
        closed = _closed(transport)
        closed.set_vus(3)
        await until(lambda: transport.sent >= 3)
        closed.park()
        await until(lambda: closed.busy == 0)
        closed.set_vus(1)                        # the coordinator re-split meanwhile
        await until(lambda: len(closed.running) == 1)
        sent = transport.sent
        closed.set_vus(2)                        # a new VU starts parked too
        await asyncio.sleep(0.1)
        assert transport.sent == sent and len(closed.running) == 2
        closed.unpark()
        await until(lambda: transport.sent >= sent + 4)
        closed.park()
        closed.end(0.5)                          # an end while parked lets them leave
        await until(lambda: not closed.running)

    asyncio.run(main())


def test_a_parked_per_vu_iterations_vu_runs_exactly_its_own_n():
    transport = Slow(0.005)
    plan = PerVUIterations(name="s", vus=2, iterations=10, max_duration=30,
                           requests=(RequestSpec("r", "GET", "http://h/"),))

    async def main():
        closed = _closed(transport, plan)
        closed.set_vus(2, iterations_per_vu=10)
        await until(lambda: transport.sent >= 4)
        closed.park()
        await asyncio.sleep(0.05)
        closed.unpark()
        await until(lambda: not closed.running)
        assert transport.sent == 20             # parking neither lost nor added an iteration

    asyncio.run(main())


# --- the coordinator's answer -------------------------------------------------------------
def test_never_taken_for_lost_a_parked_worker_is_sent_its_share_again():
    r = Run(scenario("a", duration=30.0, vus=4))
    r.start()
    r.tick(0.0)
    assert [x.vus for x in r.to(1, m.SetVUs)] == [2]
    r.tick(2.0)
    r.clear()
    r.say(1, m.Heartbeat(worker=1, parked=True))    # it heard nothing for 3 s; we heard it
    assert r.core.sessions[1].state is State.RUNNING
    assert r.to(1) == [m.SetVUs(scenario="a", vus=2, deadline_us=int((2.0 + 30.0) * 1e6))]
    assert r.to(0) == []                             # the others keep their share


def test_taken_for_lost_a_parked_worker_rejoins_and_gets_its_share_of_the_new_split():
    r = Run(scenario("a", duration=30.0, vus=4))
    r.start()
    r.tick(0.0)
    r.quiet.add(1)
    r.tick(3.1)                                      # lost ...
    r.tick(3.15)                                     # ... and worker 0 runs all 4 from the next tick
    assert r.core.info[1].lost and r.to(0, m.SetVUs)[-1].vus == 4
    r.clear()
    r.quiet.discard(1)
    r.at(5.0)
    r.say(1, m.Heartbeat(worker=1, parked=True))     # the path heals: it rejoins on this word
    assert r.core.sessions[1].state is State.RUNNING and not r.core.info[1].lost
    r.tick(5.05)                                     # the re-split over both
    assert [x.vus for x in r.to(1, m.SetVUs)] == [2] and r.to(0, m.SetVUs)[-1].vus == 2


def test_a_worker_lost_by_silence_is_told_to_run_no_vus_in_case_it_still_hears():
    """Cut one way (it hears the coordinator, the coordinator not it): it would park only 3 s
    after the coordinator stops speaking to it. So its loss tells it at once: no VUs (raw: it
    is lost), none of an iteration-based scenario (its share stays its own)."""
    r = Run(scenario("a", duration=30.0, vus=4),
            scenario("it", executor="shared-iterations", iterations=10, max_duration=30.0))
    r.start()
    r.tick(0.0)
    r.clear()
    r.quiet.add(1)
    r.tick(3.1)
    assert r.core.info[1].lost
    assert r.to(1, m.SetVUs) == [m.SetVUs(scenario="a", vus=0)]      # no deadline: iterations finish
    assert r.core.sessions[1].state is State.LOST


def test_a_parked_heartbeat_of_a_stopping_worker_asks_nothing():
    r = Run(scenario("a", duration=30.0, vus=4))
    r.start()
    r.tick(0.0)
    r.core.request_stop("test")
    r.tick(1.0)
    r.clear()
    r.say(1, m.Heartbeat(worker=1, parked=True))
    assert r.to(1, m.SetVUs) == []


@pytest.mark.parametrize("executor", ["shared-iterations", "constant-arrival-rate"])
def test_no_share_is_resent_for_scenarios_the_coordinator_does_not_re_split(executor):
    kw = {"iterations": 10, "max_duration": 30.0} if executor == "shared-iterations" else \
        {"rate": 10, "pre_allocated_vus": 2, "max_vus": 2, "duration": 30.0}
    r = Run(scenario("a", executor=executor, **kw))
    r.start()
    r.tick(0.0)
    r.clear()
    r.say(1, m.Heartbeat(worker=1, parked=True))
    assert r.to(1, m.SetVUs) == []


def test_an_open_model_worker_lost_by_silence_holds_no_arrival_dealt_twice():
    """Why open-model arrivals need no park: a worker silent for 1.5 s gets no new arrivals,
    those it holds are not dealt again when it is lost by silence, and by then (3 s) every one
    of them is already due: a cut-off worker running them runs nothing anyone else runs."""
    r = Run(scenario("o", executor="constant-arrival-rate", rate=100, pre_allocated_vus=5, max_vus=5,
                     duration=8.0))
    r.start()
    t = 0.0
    while t < 1.0:
        r.tick(t)
        t = round(t + 0.05, 2)
    heard_last = t
    r.quiet.add(1)
    while not r.core.info[1].lost:
        r.tick(t)
        t = round(t + 0.05, 2)
    lost_at = t - 0.05
    while t < 6.0:
        r.tick(t)
        t = round(t + 0.05, 2)
    mine = r.arrivals(1, "o")
    others = r.arrivals(0, "o")
    assert not {i for i, _ in mine} & {i for i, _ in others}          # none dealt twice
    assert max(at for _, at in mine) / 1e6 < lost_at                   # all due before the loss
    assert max(at for _, at in mine) / 1e6 <= heard_last + health.SUSPECT_AFTER_S + LOOKAHEAD_S + BATCH_S + 0.05
    assert len(mine) + len(others) == len({i for i, _ in mine + others})
