"""A pause holds the open-model arrivals already dealt on the workers (coordinator/holding.py),
driven through the coordinator core (tests/core_driver.py): the Hold and Release each worker
is sent, the schedule and the ledger shifted alike, a worker lost or rejoining meanwhile."""

from __future__ import annotations

from lunge_mp.coordinator.arrival_ledger import ArrivalLedger
from lunge_mp.coordinator.control import RunControl
from lunge_mp.coordinator.holding import HOLD_AHEAD_S
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State
from tests.core_driver import Run, scenario


def open_run(workers=2, rate=100, duration=20.0):
    control = RunControl()
    r = Run(scenario("o", executor="constant-arrival-rate", rate=rate, duration=duration,
                     pre_allocated_vus=2, max_vus=4), workers=workers, control=control)
    r.start()
    return r, control


def as_run(r: Run, workers: range, hold_at: int, shift: int) -> list[tuple[int, int]]:
    """(index, instant) of every arrival as the workers run them: from the hold on, shifted."""
    return sorted((i, o + shift if o >= hold_at and sent_before else o)
                  for w in workers for i, o, sent_before in arrivals_with_time(r, w))


def arrivals_with_time(r: Run, worker: int):
    """(index, instant, dealt before the Release) of every arrival sent to `worker`."""
    released = False
    for msg in r.to(worker):
        if isinstance(msg, m.Release):
            released = True
        elif isinstance(msg, m.Assign):
            for k, o in enumerate(msg.offsets_us):
                yield msg.first_index + k * msg.stride, o, not released


def test_a_pause_holds_the_dealt_arrivals_and_a_resume_shifts_them_with_the_schedule():
    r, control = open_run()
    for k in range(10):
        r.tick(k * 0.05)
    paused = control.pause()
    r.tick(0.5)
    at = int((0.5 + HOLD_AHEAD_S) * 1e6)
    assert paused.result(0) == "ok"
    assert r.to(0, m.Hold) == r.to(1, m.Hold) == [m.Hold(at_us=at)]
    dealt = len(r.arrivals(0, "o") + r.arrivals(1, "o"))
    held = [o for w in (0, 1) for _, o in r.arrivals(w, "o") if o >= at]
    assert held, "arrivals were dealt ahead of the pause"
    for k in range(40):                                # 2 s paused: nothing more dealt
        r.tick(0.55 + k * 0.05)
    assert len(r.arrivals(0, "o") + r.arrivals(1, "o")) == dealt and not r.to(0, m.Release)
    control.resume()
    r.tick(3.0)
    assert r.to(0, m.Release) == r.to(1, m.Release) == [m.Release(shift_us=2_500_000)]
    for k in range(1, 20):
        r.tick(3.0 + k * 0.05)
    # as run: every index once, 10 ms apart, the held ones and those dealt later alike
    got = as_run(r, range(2), at, 2_500_000)
    assert [i for i, _ in got] == list(range(len(got))) and len(got) > 150
    gaps = {round((b - a) / 1000) for (_, a), (_, b) in zip(got, got[1:])}
    assert gaps == {10, 2510}          # the schedule goes on where it stopped: one gap, the pause
    assert r.core.outcome.arrivals_sent == {"o": len(got)}


def test_a_stop_while_paused_sends_no_release_and_deals_nothing_more():
    r, control = open_run()
    for k in range(6):
        r.tick(k * 0.05)
    control.pause()
    r.tick(0.3)
    dealt = len(r.arrivals(0, "o"))
    control.stop("enough")
    r.tick(1.0)
    r.tick(1.05)
    assert r.to(0, m.Stop) and not r.to(0, m.Release) and len(r.arrivals(0, "o")) == dealt


def test_a_worker_lost_while_paused_has_its_held_arrivals_dealt_again_shifted():
    r, control = open_run(workers=3)
    for k in range(8):
        r.tick(k * 0.05)
    control.pause()
    r.tick(0.4)
    at = int((0.4 + HOLD_AHEAD_S) * 1e6)
    held_by_2 = {i for i, o in r.arrivals(2, "o") if o >= at}
    assert held_by_2
    r.tick(1.0)
    r.exits(2)                                         # gone for good at 1.0 s, while paused
    control.resume()
    r.tick(2.0)                                        # paused 1.6 s
    redealt = {i: o for w in (0, 1) for i, o in r.arrivals(w, "o") if i in held_by_2}
    assert set(redealt) == held_by_2                   # from the hold on, not from its loss on
    assert min(redealt.values()) >= at + 1_600_000     # shifted as the schedule: none late
    # unknown (no report of it in this test): only what was due before the pause
    assert r.core.dealer.settled_ledger().unaccounted(2) == len([o for _, o in r.arrivals(2, "o") if o < at])


def test_a_worker_lost_by_silence_is_sent_the_holds_and_releases_it_missed_in_order():
    r, control = open_run(duration=30.0)
    r.tick(0.0)
    r.quiet.add(1)
    r.tick(3.2)
    assert r.core.info[1].lost and r.core.sessions[1].state is State.LOST
    control.pause()
    r.tick(3.5)
    control.resume()
    r.tick(4.0)                                        # a whole pause while it was lost
    control.pause()
    r.tick(4.5)                                        # and another one it is lost in
    assert r.to(0, m.Hold) == [m.Hold(at_us=3_505_000), m.Hold(at_us=4_505_000)] and not r.to(1, m.Hold)
    r.clear()
    r.quiet.discard(1)
    r.say(1, m.Heartbeat(worker=1))                    # rejoins
    assert [msg for msg in r.to(1) if isinstance(msg, (m.Hold, m.Release))] == [
        m.Hold(at_us=3_505_000), m.Release(shift_us=500_000), m.Hold(at_us=4_505_000)]
    r.clear()
    control.resume()
    r.tick(5.0)
    assert r.to(0, m.Release) == r.to(1, m.Release) == [m.Release(shift_us=500_000)]


def test_the_ledger_shifts_the_instants_from_the_hold_on():
    ledger = ArrivalLedger(["o"])
    ledger.assigned(0, "o", 0, [100, 200, 300, 400], 2)
    ledger.assigned(0, "o", 8, [500, 600], 2)
    ledger.shift(250, 1000)
    parts = ledger.take_back(0, 350)
    assert [(p.first_index, p.offsets) for p in parts] == [(4, [1300, 1400]), (8, [1500, 1600])]


def test_a_run_without_open_scenarios_sends_no_hold():
    control = RunControl()
    r = Run(scenario("c", vus=2, duration=10.0), control=control)
    r.start()
    r.tick(0.0)
    control.pause()
    r.tick(0.5)
    control.resume()
    r.tick(1.0)
    assert not [msg for w in (0, 1) for msg in r.to(w) if isinstance(msg, (m.Hold, m.Release))]
