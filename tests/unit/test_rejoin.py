"""A worker lost by silence that rejoins, on the coordinator without processes: what it is
sent on rejoining (ends it missed, iteration-based starts it missed, re-split VU targets) and
that every "is it lost now" check sees it live again while its loss time stays in the results."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from lunge_mp.coordinator.arrival_ledger import ArrivalLedger
from lunge_mp.coordinator.lifecycle import Phase
from lunge_mp.coordinator.resources import ResourceMonitor
from lunge_mp.coordinator.run import Coordinator
from lunge_mp.plan import Options, Plan, RequestSpec, ScenarioPlan
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State

REQ = (RequestSpec(name="r", method="GET", url="http://127.0.0.1/"),)


def scenario(name, executor="constant-vus", **kw):
    kw.setdefault("duration", 3.0)
    kw.setdefault("graceful_stop", 0.5)
    kw.setdefault("vus", 2)
    return ScenarioPlan(name=name, executor=executor, requests=REQ, **kw)


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[tuple[int, m.Message]] = []

    async def send_multipart(self, frames, flags=0) -> None:
        self.sent.append((int(frames[0][1:]), m.decode(frames[1])))

    def to(self, worker: int) -> list[m.Message]:
        return [msg for w, msg in self.sent if w == worker]


@pytest.fixture
def coordinator():
    made = []

    def make(*scenarios, sequential=False, at=0.0):
        c = Coordinator(Plan(name="p", scenarios=scenarios, options=Options(sequential=sequential)), 2)
        made.append(c)
        c.sock = FakeSocket()
        c.t0_ns = time.monotonic_ns() - int(at * 1e9)
        for s in c.sessions:
            s.state = State.RUNNING
            c.info[s.worker].last_heard, c.info[s.worker].pid = time.monotonic(), 1000 + s.worker
        return c
    yield make
    for c in made:
        c.pool.stop(grace_s=0)


def at(c: Coordinator, t: float) -> None:
    """Move the coordinator's clock to `t` seconds after t0."""
    c.t0_ns = time.monotonic_ns() - int(t * 1e9)


async def tick(c: Coordinator) -> None:
    t = c.now()
    for action in c.lifecycle.due(t):
        await c._apply(action)
    await c._schedule_open(t)
    await c._schedule_closed(t)


def test_a_rejoined_worker_gets_the_end_of_a_scenario_that_ended_while_it_was_lost(coordinator):
    async def go():
        c = coordinator(scenario("a"), scenario("b", duration=6.0), sequential=True)
        await tick(c)                                    # a starts: 1 VU each
        assert [x for x in c.sock.to(1) if isinstance(x, m.SetVUs)][-1].vus == 1
        at(c, 1.0)
        c._lose(1, "silent for 3.1s", silent=True)
        assert c.info[1].lost and c.live_workers() == [0]
        at(c, 3.0)
        await tick(c)                                    # a ends: only worker 0 is told
        assert not any(isinstance(x, m.EndScenario) for x in c.sock.to(1))
        c.lifecycle.worker_done("a", 0, c.live_workers(), c.now())
        assert c.lifecycle.state("a").phase is Phase.ENDED
        at(c, 3.1)
        await tick(c)                                    # b starts (sequential) on worker 0 alone
        assert c.vus_sent["b"] == [2, 0]
        at(c, 5.0)
        c.sock.sent.clear()
        assert await c._rejoin(1)
        missed = c.sock.to(1)
        # a's end with the others' deadline (3.5 s: already past, so the worker interrupts at once)
        assert missed == [m.EndScenario(scenario="a", deadline_us=3_500_000)]
        assert c.sessions[1].state is State.RUNNING and c.info[1].rejoined_at == pytest.approx(5.0, abs=0.05)
        await tick(c)                                    # b's VUs are re-split over both
        assert c.vus_sent["b"] == [1, 1]
        assert [x.vus for x in c.sock.to(1) if isinstance(x, m.SetVUs) and x.scenario == "b"] == [1]
        # the end is not sent twice
        c._lose(1, "silent for 3.1s", silent=True)
        c.sock.sent.clear()
        assert await c._rejoin(1)
        assert not any(isinstance(x, m.EndScenario) for x in c.sock.to(1))
    asyncio.run(go())


def test_an_ending_scenario_waits_for_the_rejoined_worker_which_is_told_to_end_it(coordinator):
    async def go():
        c = coordinator(scenario("a", executor="constant-arrival-rate", rate=10, pre_allocated_vus=2,
                                 max_vus=2, graceful_stop=30.0))
        await tick(c)
        c._lose(1, "silent for 3.1s", silent=True)
        at(c, 3.0)
        await tick(c)                                    # a ends while worker 1 is lost
        assert c.lifecycle.state("a").phase is Phase.ENDING
        assert await c._rejoin(1)
        assert c.sock.to(1)[-1] == m.EndScenario(scenario="a", deadline_us=33_000_000)
        c.lifecycle.worker_done("a", 0, c.live_workers(), c.now())
        assert c.lifecycle.state("a").phase is Phase.ENDING     # worker 1's ScenarioDone to come
        c.lifecycle.worker_done("a", 1, c.live_workers(), c.now())
        assert c.lifecycle.state("a").phase is Phase.ENDED
    asyncio.run(go())


def test_a_rejoined_worker_gets_a_zero_share_of_an_iteration_scenario_started_while_it_was_lost(coordinator):
    async def go():
        c = coordinator(scenario("it", executor="shared-iterations", iterations=10, max_duration=30.0))
        c._lose(1, "silent for 3.1s", silent=True)
        await tick(c)                                    # started on worker 0 alone: all 10 iterations
        assert c.sock.to(0)[-1] == m.SetVUs(scenario="it", vus=2, iterations_total=10)
        assert await c._rejoin(1)
        # nothing to run (shares are fixed at the start), so it says done at once
        assert c.sock.to(1) == [m.SetVUs(scenario="it", vus=0)]
        c.sock.sent.clear()
        c._lose(1, "silent for 3.1s", silent=True)
        assert await c._rejoin(1)
        assert c.sock.to(1) == []
    asyncio.run(go())


def test_a_rejoined_worker_is_live_everywhere_and_keeps_its_loss_time(coordinator):
    async def go():
        c = coordinator(scenario("a"), at=2.0)
        c.ledger = ArrivalLedger({"a"})      # 100 arrivals, all due by now; its reports ended 60
        c.ledger.assigned(1, "a", 1, list(range(100)), 2)
        c.ledger.reported(1, [m.ScenarioDelta("a", iterations=60, scheduled=60)])
        c._lose(1, "silent for 3.1s", silent=True)
        lost_at = c.info[1].lost_at
        assert lost_at == pytest.approx(2.0, abs=0.05)
        assert [w.worker for w in c.info if not w.lost] == [0]
        at(c, 4.0)
        assert await c._rejoin(1)
        assert c.info[1].lost_at == lost_at and c.info[1].rejoined_at > lost_at and not c.info[1].lost
        # a stopped run: its reports will not cover every arrival, but it is not lost
        c._summarise_lost()
        assert c.info[1].unaccounted == 0
        assert not any("not accounted for" in w for w in c.outcome.warnings)
        # the resource samples include it again
        c.info[1].cpu_percent = 12.0
        sample = ResourceMonitor()
        sample.sample(4.0, c.info)
        assert set(sample.samples[-1]["workers"]) == {"0", "1"}
    asyncio.run(go())


def test_a_worker_lost_for_good_is_summarised_and_left_out(coordinator):
    async def go():
        c = coordinator(scenario("a"), at=2.0)
        c.ledger = ArrivalLedger({"a"})      # 100 arrivals, all due by now; its reports ended 60
        c.ledger.assigned(1, "a", 1, list(range(100)), 2)
        c.ledger.reported(1, [m.ScenarioDelta("a", iterations=60, scheduled=60)])
        c._lose(1, "killed by SIGKILL")
        assert not await c._rejoin(1)
        c._summarise_lost()
        assert c.info[1].unaccounted == 40
        assert any("worker 1 was lost with 40 of the 100" in w for w in c.outcome.warnings)
        monitor = ResourceMonitor()
        monitor.sample(2.0, c.info)
        assert set(monitor.samples[-1]["workers"]) == {"0"}
    asyncio.run(go())


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


def _report(c: Coordinator, worker: int, seq: int, name: str, iterations: int, interrupted: int = 0) -> None:
    """What `_receive` does with an accepted Report: the per-worker iteration tally."""
    msg = m.Report(worker=worker, run_id=c.run_id, seq=seq, bucket=seq,
                   scenarios=[m.ScenarioDelta(scenario=name, iterations=iterations, interrupted=interrupted)])
    c.sessions[worker].received(msg)
    key = (name, worker)
    c._iter_counted[key] = c._iter_counted.get(key, 0) + iterations + interrupted


@pytest.mark.parametrize("executor, share", [("shared-iterations", 50), ("per-vu-iterations", 2 * 50)])
def test_a_worker_gone_for_good_has_its_remaining_iterations_moved(coordinator, executor, share):
    async def go():
        c = coordinator(scenario("it", executor=executor, vus=4, iterations=100 if executor == "shared-iterations"
                                 else 50, max_duration=30.0))
        await tick(c)
        assert c._iter_share["it"] == {0: share, 1: share}
        _report(c, 1, 0, "it", 20, interrupted=1)
        c._lose(1, "killed by SIGKILL")
        left = share - 21
        assert c._iter_share["it"] == {0: share + left, 1: 21}
        assert any(f"its remaining {left} iterations moved to worker 0" in w for w in c.outcome.warnings)
        c.sock.sent.clear()
        await c._send_moved_iterations()
        assert c.sock.to(0) == [m.AddIterations(scenario="it", iterations=left)]
        assert c.lifecycle.state("it").phase is Phase.RUNNING
        assert c._added[("it", 0)] == left        # a ScenarioDone of worker 0 must cover these
    asyncio.run(go())


def test_a_worker_lost_by_silence_keeps_its_iterations(coordinator):
    async def go():
        c = coordinator(scenario("it", executor="shared-iterations", iterations=100, max_duration=30.0))
        await tick(c)
        c._lose(1, "silent for 3.1s", silent=True)
        assert c._iter_share["it"] == {0: 50, 1: 50} and c._pending_adds == []
        assert not any("moved to worker" in w for w in c.outcome.warnings)
    asyncio.run(go())


def test_a_finished_worker_takes_the_iterations_and_its_done_is_needed_again(coordinator):
    async def go():
        c = coordinator(scenario("it", executor="shared-iterations", iterations=100, max_duration=30.0))
        await tick(c)
        c.lifecycle.worker_done("it", 0, c.live_workers(), c.now())
        c._lose(1, "killed by SIGKILL")
        st = c.lifecycle.state("it")
        assert st.phase is Phase.RUNNING and 0 not in st.done_workers
        assert c._pending_adds == [(0, "it", 50)]
    asyncio.run(go())


def test_nothing_is_moved_from_an_ending_scenario_and_a_warning_says_so(coordinator):
    async def go():
        c = coordinator(scenario("it", executor="shared-iterations", iterations=100, max_duration=2.0,
                                 graceful_stop=5.0))
        await tick(c)
        at(c, 2.5)
        await tick(c)                               # maxDuration over: ending
        c._lose(1, "killed by SIGKILL")
        assert c._pending_adds == []
        assert any("50 of its 50 iterations" in w and "could not be re-run" in w for w in c.outcome.warnings)
    asyncio.run(go())
