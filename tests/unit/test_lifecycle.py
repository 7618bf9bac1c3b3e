"""Scenario lifecycle decisions without processes: starts, ends, sequential order, done reports."""

import pytest

from lunge_mp.coordinator.lifecycle import EndScenario, Lifecycle, Phase, StartScenario
from lunge_mp.executors import SharedIterations
from lunge_mp.plan import Options, Plan, RequestSpec
from lunge_mp.schedule.split import iteration_shares
from tests.plans import scenario_of

REQ = (RequestSpec(name="r", method="GET", url="http://127.0.0.1/"),)


def scenario(name, executor="constant-vus", **kw):
    kw.setdefault("duration", 10.0)
    kw.setdefault("graceful_stop", 2.0)
    return scenario_of(executor, name=name, requests=REQ, vus=1, **kw)


def plan(*scenarios, sequential=False):
    return Plan(name="p", scenarios=scenarios, options=Options(sequential=sequential))


def test_parallel_scenarios_start_at_their_start_time_and_end_after_duration():
    lc = Lifecycle(plan(scenario("a"), scenario("b", start_time=5.0)))
    assert lc.due(0.0) == [StartScenario("a", 0.0)]
    assert lc.due(4.9) == []
    assert lc.due(5.0) == [StartScenario("b", 5.0)]
    assert lc.due(10.0) == [EndScenario("a", 10.0, 2.0)]
    lc.worker_done("a", 0, [0], 10.5)
    assert lc.state("a").phase is Phase.ENDED and not lc.all_ended
    assert lc.due(15.0) == [EndScenario("b", 15.0, 2.0)]


def test_sequential_waits_for_the_previous_to_end_including_its_grace():
    lc = Lifecycle(plan(scenario("a"), scenario("b", start_time=1.0), sequential=True))
    assert lc.due(0.0) == [StartScenario("a", 0.0)]
    assert lc.due(10.0) == [EndScenario("a", 10.0, 2.0)]
    assert lc.due(11.0) == []                      # a is still finishing
    lc.worker_done("a", 0, [0, 1], 11.2)
    assert lc.due(11.5) == []                      # worker 1 not done yet
    lc.worker_done("a", 1, [0, 1], 11.5)
    assert lc.due(12.4) == []                      # b's own startTime counts from a's end
    assert lc.due(12.5) == [StartScenario("b", 12.5)]


def test_ending_without_done_reports_gives_up_after_grace_and_slack():
    lc = Lifecycle(plan(scenario("a")))
    lc.due(0.0)
    lc.due(10.0)
    lc.due(13.9)
    assert lc.state("a").phase is Phase.ENDING
    lc.due(14.0)
    assert lc.all_ended


def test_iteration_scenario_ends_early_when_every_worker_is_done():
    s = SharedIterations(name="it", requests=REQ, vus=2, iterations=10,
                     max_duration=60.0)
    lc = Lifecycle(plan(s))
    lc.due(0.0)
    assert lc.worker_done("it", 0, [0, 1], 3.0) == []
    assert lc.worker_done("it", 1, [0, 1], 4.0) == [EndScenario("it", 4.0, 30.0)]
    assert lc.all_ended


def test_a_lost_worker_no_longer_holds_up_the_end():
    lc = Lifecycle(plan(scenario("a")))
    lc.due(0.0)
    lc.due(10.0)
    lc.worker_done("a", 0, [0, 1], 10.1)
    lc.worker_lost([0], 10.2)
    assert lc.all_ended


def test_planned_length():
    assert Lifecycle(plan(scenario("a"), scenario("b", start_time=5.0))).planned_length() == 15.0
    assert Lifecycle(plan(scenario("a"), scenario("b"), sequential=True)).planned_length() == 20.0


@pytest.mark.parametrize("total, vus, expected", [
    pytest.param(23, [2, 2], [12, 11], id="even-vus"),
    pytest.param(10, [3, 0], [10, 0], id="worker-without-vus-gets-nothing"),
    pytest.param(7, [1, 1, 1], [3, 2, 2], id="three-way"),
    pytest.param(0, [1, 1], [0, 0], id="nothing"),
    pytest.param(5, [0, 0], [0, 0], id="no-vus"),
])
def test_iteration_shares_are_exact(total, vus, expected):
    shares = iteration_shares(total, vus)
    assert shares == expected
    assert sum(shares) == (total if sum(vus) else 0)


def test_an_iteration_scenario_ends_when_a_lost_worker_was_the_last_not_done():
    s = SharedIterations(name="it", requests=REQ, vus=2, iterations=10,
                     max_duration=60.0)
    lc = Lifecycle(plan(s))
    lc.due(0.0)
    lc.worker_done("it", 0, [0, 1], 3.0)
    lc.worker_lost([0], 3.2)                    # lost by silence: it may rejoin and finish
    assert lc.state("it").phase is Phase.RUNNING
    lc.worker_lost([0], 3.5, for_good=True)
    assert lc.all_ended and lc.state("it").end_sent_at == 3.5
