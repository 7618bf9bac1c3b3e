"""protocol/clock.py: offset and round trip from timestamped exchanges, without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from lunge_mp.protocol.clock import ClockProbe, Sample, estimate

MS = 1_000_000


def _exchange(t1: int, offset: int, there: int, turn: int, back: int) -> Sample:
    """A probe sent at t1 (coordinator clock) to a worker whose clock is `offset` ahead,
    `there` ns on the way, `turn` ns at the worker, `back` ns on the way back."""
    t2 = t1 + there + offset
    t3 = t2 + turn
    t4 = t3 - offset + back
    return Sample(t1, t2, t3, t4)


@pytest.mark.parametrize("offset, there, back, turn", [
    pytest.param(0, MS, MS, 0, id="same-clock-symmetric"),
    pytest.param(5 * MS, MS, MS, 50_000, id="ahead-symmetric"),
    pytest.param(-7_000 * MS, 3 * MS, 3 * MS, 10_000, id="far-behind"),
    pytest.param(2 * MS, 10 * MS, 0, 0, id="all-delay-one-way"),
])
def test_one_exchange(offset, there, back, turn):
    s = _exchange(1_000 * MS, offset, there, turn, back)
    assert s.rtt_ns == there + back
    assert s.offset_ns == offset + (there - back) // 2
    e = estimate([s])
    assert abs(e.offset_ns - offset) <= e.uncertainty_ns


def test_the_minimum_round_trip_sample_wins():
    samples = [_exchange(0, 4 * MS, 9 * MS, 0, 1 * MS),      # slow, lopsided: offset off by 4 ms
               _exchange(20 * MS, 4 * MS, 200_000, 0, 200_000),   # fast and even
               _exchange(40 * MS, 4 * MS, 5 * MS, 0, 5 * MS)]
    e = estimate(samples)
    assert (e.offset_ns, e.rtt_ns, e.uncertainty_ns, e.samples) == (4 * MS, 400_000, 200_000, 3)
    assert e.to_worker(1_000) == 1_000 + 4 * MS


def test_a_negative_round_trip_is_ignored_and_none_valid_is_an_error():
    liar = Sample(t1=100, t2=0, t3=10_000, t4=200)     # answered for longer than the exchange took
    assert liar.rtt_ns < 0
    assert estimate([liar, _exchange(0, 0, MS, 0, MS)]).samples == 1
    with pytest.raises(ValueError):
        estimate([liar])


@given(offset=st.integers(-10**12, 10**12),
       legs=st.lists(st.tuples(st.integers(0, 50 * MS), st.integers(0, MS), st.integers(0, 50 * MS)),
                     min_size=1, max_size=12))
def test_the_true_offset_is_always_within_the_uncertainty(offset, legs):
    samples = [_exchange(i * 100 * MS, offset, there, turn, back) for i, (there, turn, back) in enumerate(legs)]
    e = estimate(samples)
    assert abs(e.offset_ns - offset) <= e.uncertainty_ns
    assert e.rtt_ns == min(s.rtt_ns for s in samples)


def test_probe_one_in_flight_then_done_after_enough_answers():
    p = ClockProbe(exchanges=3)
    now = 0
    for _ in range(3):
        seq = p.next_probe(now)
        assert seq is not None and p.next_probe(now) is None     # waits for the answer
        assert p.answered(seq, now + 5 + 1_000, now + 6 + 1_000, now + 10)
        now += 20
    assert p.done and p.next_probe(now) is None
    result = p.result()
    assert result is not None and result.samples == 3 and result.rtt_ns == 9


def test_probe_gives_up_on_a_lost_answer_and_ignores_it_late():
    p = ClockProbe(exchanges=2, timeout_ns=100, max_probes=3)
    first = p.next_probe(0)
    assert p.next_probe(99) is None
    second = p.next_probe(100)               # the first is given up
    assert second == first + 1
    assert not p.answered(first, 1, 2, 150)  # late: ignored
    assert p.answered(second, 1, 2, 150)
    third = p.next_probe(300)
    assert third is not None and p.next_probe(400) is None
    assert p.next_probe(500) is None and p.done          # max probes used: done with what it has
    assert p.result().samples == 1


def test_probe_with_no_answer_at_all_has_no_result():
    p = ClockProbe(exchanges=2, timeout_ns=10, max_probes=2)
    p.next_probe(0)
    p.next_probe(10)
    assert p.next_probe(20) is None and p.done and p.result() is None
