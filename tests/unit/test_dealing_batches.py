"""Open-model dealing in batches (coordinator/dealing.py): at a low rate per worker a deal
reaches up to BATCH_S further so each Assign carries ~BATCH_ARRIVALS arrivals; every arrival
is still dealt by the tick at which it is due within LOOKAHEAD_S, round robin, exactly once.
The core driven by hand (tests/core_driver.py); no sockets."""

from __future__ import annotations

import pytest

from lunge_mp.coordinator.control import RunControl
from lunge_mp.coordinator.dealing import BATCH_ARRIVALS, BATCH_S, LOOKAHEAD_S, batch_s
from lunge_mp.coordinator.run import TICK_S
from lunge_mp.protocol import messages as m
from lunge_mp.schedule.rates import Constant
from lunge_mp.worker.main import counters_per_second
from tests.core_driver import Run, scenario


def open_scenario(name="o", rate=100, duration=10.0):
    return scenario(name, executor="constant-arrival-rate", rate=rate, pre_allocated_vus=2, max_vus=4,
                    duration=duration)


def assigns(r: Run) -> list[tuple[int, m.Assign]]:
    return [(w, msg) for w, msg in r.sent if isinstance(msg, m.Assign)]


def test_a_deal_reaches_a_batch_ahead_for_few_arrivals_a_worker_and_nothing_more_until_needed():
    workers, rate = 16, 320                       # 20 arrivals/s a worker
    r = Run(open_scenario(rate=rate, duration=3.0), workers=workers)
    r.start()
    lead_us, dealt, sizes = [], [], []
    for k in range(int(2.0 / TICK_S) + 1):
        t = round(k * TICK_S, 3)
        r.clear()
        r.tick(t)
        for _, a in assigns(r):
            sizes.append(len(a.offsets_us))
            if t > 0:                              # the first deal starts at once
                lead_us.append(a.offsets_us[0] - t * 1e6)
            dealt.append(t)
    # every arrival reaches its worker at least a lookahead less one tick before it is due
    assert min(lead_us) >= (LOOKAHEAD_S - TICK_S) * 1e6 - 1
    deals = sorted(set(dealt))
    assert len(deals) <= 2.0 / BATCH_S + 1 + 1     # ~ every BATCH_S, not every tick
    assert len(deals) * workers == len(dealt)      # each deal: one Assign to every worker
    # past the first deal (its lookahead too), ~BATCH_ARRIVALS an Assign (or BATCH_S's worth)
    later = sizes[workers:]
    assert sum(later) / len(later) == pytest.approx(min(BATCH_ARRIVALS, rate * BATCH_S / workers), abs=2)


def test_every_arrival_goes_once_round_robin_and_the_counts_stay_balanced():
    workers = 16
    r = Run(open_scenario(rate=320, duration=2.0), workers=workers)
    r.start()
    for k in range(int(2.5 / TICK_S)):
        r.tick(k * TICK_S)
    got = {w: r.arrivals(w, "o") for w in range(workers)}
    every = sorted(i for w in got for i, _ in got[w])
    assert every == list(range(640)) and r.core.outcome.arrivals_sent == {"o": 640}
    assert {len(v) for v in got.values()} == {40}
    assert all(i % workers == w for w in got for i, _ in got[w])
    assert [r.core.ledger.assigned_to(w) for w in range(workers)] == [40] * workers


def test_at_a_high_rate_every_tick_deals_as_before():
    r = Run(open_scenario(rate=20_000, duration=2.0), workers=2)
    r.start()
    for k in range(6):
        r.clear()
        r.tick(k * TICK_S)
        offsets = sorted(o for w in range(2) for _, o in r.arrivals(w, "o"))
        assert offsets and offsets[-1] < (k * TICK_S + LOOKAHEAD_S + TICK_S) * 1e6


def test_a_worker_speaking_again_gets_arrivals_on_the_next_tick_not_after_the_batch():
    r = Run(open_scenario(rate=40), workers=2)
    r.start()
    r.tick(0.0)
    r.quiet.add(1)
    r.tick(1.6)                                    # worker 1 suspect: worker 0 alone
    r.quiet.discard(1)
    r.clear()
    r.tick(1.65)                                   # worker 0's batch reaches far, yet 1 is dealt in
    assert r.arrivals(1, "o")


def test_a_scale_applies_after_what_is_already_dealt():
    control = RunControl()
    r = Run(open_scenario(rate=20), workers=2, control=control)
    r.start()
    r.tick(0.0)
    dealt_to = r.core.dealer.dealt_until("o")
    assert dealt_to == pytest.approx(LOOKAHEAD_S + BATCH_S)
    before = {i for w in range(2) for i, _ in r.arrivals(w, "o")}
    faster = control.scale("o", factor=10.0)
    r.tick(0.05)
    assert faster.result(0) == "ok"
    for k in range(2, 30):
        r.tick(k * TICK_S)
    every = sorted(r.arrivals(0, "o") + r.arrivals(1, "o"))
    assert [i for i, _ in every] == list(range(len(every)))   # none twice, none skipped
    assert all(o < dealt_to * 1e6 for i, o in every if i in before)
    window = [o for _, o in every if 1_000_000 <= o < 1_500_000]
    assert len(window) == pytest.approx(100, abs=1)             # 200/s after the dealt horizon


def test_arrivals_taken_back_but_never_dealt_again_are_the_lost_workers_unaccounted():
    r = Run(open_scenario(rate=100), workers=2)
    r.start()
    r.tick(0.0)
    r.at(0.1)
    r.exits(1)                                     # its arrivals after 0.1 s are taken back ...
    r.core.request_stop("enough")                  # ... and the run stops before any tick deals them
    r.tick(0.15)
    r.keep(r.core.close(r.now, {}))
    sent = r.core.outcome.arrivals_sent["o"]
    assert len(r.arrivals(0, "o")) + len(r.arrivals(1, "o")) == sent
    assert r.core.ledger.assigned_to(0) + r.core.ledger.assigned_to(1) == sent   # none lost from the count
    assert r.core.outcome.arrivals_unaccounted["o"] == len(r.arrivals(1, "o"))  # no report of it ended any
    assert r.core.info[1].redealt == 0


def test_batch_length_gives_each_worker_about_batch_arrivals():
    assert batch_s(Constant(2000, 10.0), 0.25, 64) == BATCH_S
    assert batch_s(Constant(50_000, 10.0), 0.25, 2) == pytest.approx(BATCH_ARRIVALS * 2 / 50_000)
    assert batch_s(Constant(0, 10.0), 0.25, 4) == BATCH_S
    assert batch_s(Constant(10_000, 1.0), 1.2, 4) == BATCH_S     # past the end: nothing to give


@pytest.mark.parametrize("workers, per_second", [(1, 10), (8, 10), (9, 5), (16, 5), (17, 2), (40, 2),
                                                 (41, 1), (64, 1), (256, 1)])
def test_workers_send_counters_less_often_past_8_workers(workers, per_second):
    assert counters_per_second(workers) == per_second
    assert 10 % per_second == 0
