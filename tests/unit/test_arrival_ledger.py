"""The coordinator's arrival ledger (issue 12): every arrival handed out ends in a report or is
stated unaccounted; a lost worker's arrivals not yet due are taken back and dealt again, each
exactly once, with their own instants and global indexes. Pure, no sockets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lunge_mp.coordinator.arrival_ledger import ArrivalLedger, Held, redeal
from lunge_mp.protocol.messages import ScenarioDelta
from lunge_mp.schedule.split import split_round_robin


def _pairs(h: Held) -> set[tuple[int, int]]:
    return {(off, h.first_index + i * h.stride) for i, off in enumerate(h.offsets)}


def _deal(ledger: ArrivalLedger, offsets: list[int], first: int, workers: int) -> list[Held]:
    parts, _ = split_round_robin(offsets, workers, 0)
    out = []
    for w, part in enumerate(parts):
        if part:
            ledger.assigned(w, "s", first + w, part, workers)
            out.append(Held("s", first + w, part, workers))
    return out


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 400), workers=st.integers(2, 5), lost=st.integers(0, 4),
       now=st.integers(-10, 1_100), live=st.integers(1, 4))
def test_taken_back_arrivals_are_dealt_again_exactly_once(n, workers, lost, now, live):
    lost %= workers
    ledger = ArrivalLedger({"s"})
    offsets = sorted({i * 997 % 1_000 + i * 1_000 // n for i in range(n)})
    held = _deal(ledger, offsets, 0, workers)
    mine = [h for h in held if h.first_index == lost]
    before = ledger.assigned_to(lost)
    parts = ledger.take_back(lost, now)
    taken = set().union(*(_pairs(p) for p in parts)) if parts else set()
    # exactly the lost worker's arrivals after `now`, with their instants and indexes
    assert taken == {(off, idx) for h in mine for off, idx in _pairs(h) if off > now}
    assert ledger.assigned_to(lost) == before - len(taken) and ledger.taken_from(lost) == len(taken)
    dealt = set()
    for part in parts:
        pieces = redeal(part, live)
        assert sum(len(p.offsets) for _, p in pieces) == len(part.offsets)
        for pos, piece in pieces:
            assert 0 <= pos < live and piece.offsets == sorted(piece.offsets)
            assert not dealt & _pairs(piece)
            dealt |= _pairs(piece)
    assert dealt == taken


def test_the_identity_holds_with_in_flight_and_unreported_arrivals():
    ledger = ArrivalLedger({"s"})
    ledger.assigned(1, "s", 1, [0, 100, 200, 300, 400, 500, 600, 700], 2)
    ledger.assigned(0, "s", 0, [0, 100, 200, 300, 400, 500, 600, 700], 2)
    # worker 1 reported 4 due: 2 completed, 1 dropped, 1 still running; then it died at 450
    ledger.reported(1, [ScenarioDelta("s", iterations=2, dropped={"behind": 1}, scheduled=4)])
    ledger.reported(1, [ScenarioDelta("closed", iterations=99)])    # closed scenarios: not arrivals
    parts = ledger.take_back(1, 450)
    assert [p.offsets for p in parts] == [[500, 600, 700]] and parts[0].first_index == 1 + 5 * 2
    assert ledger.unaccounted(1) == 2            # in flight at 300, and the one due at 400
    assert ledger.started_unknown(1) == 1
    for pos, piece in redeal(parts[0], 1):
        ledger.assigned(0, "s", piece.first_index, piece.offsets, piece.stride)
    ledger.reported(0, [ScenarioDelta("s", iterations=10, interrupted=1, scheduled=11)])
    assert ledger.unaccounted(0) == 0
    ended = 2 + 1 + 10 + 1
    assert ended + ledger.unaccounted(1) == 16   # every arrival handed out, exactly


def test_restored_parts_count_as_the_lost_workers_again():
    ledger = ArrivalLedger({"s"})
    ledger.assigned(0, "s", 0, [10, 20, 30], 1)
    parts = ledger.take_back(0, 15)
    assert ledger.unaccounted(0) == 1
    ledger.restore(0, parts)
    assert ledger.unaccounted(0) == 3 and ledger.taken_from(0) == 0


def test_assigns_all_due_are_forgotten():
    ledger = ArrivalLedger({"s"})
    ledger.assigned(0, "s", 0, [10, 20], 1)
    ledger.assigned(0, "s", 2, [30, 40], 1)
    ledger.forget_due(25)
    assert [p.offsets for p in ledger.take_back(0, 25)] == [[30, 40]]
