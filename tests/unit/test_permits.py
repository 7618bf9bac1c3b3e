"""Guardrail permits, the pure parts: the maxRate token bucket, the worker's lease, the
coordinator's maxTotalRequests ledger, closed scenarios' share of maxRate, and the messages."""

from __future__ import annotations

import heapq
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lunge_mp.analysis.guardrails import Window, closed_rate_shares, rate_caps
from lunge_mp.coordinator.permits import PermitLedger
from lunge_mp.plan import RequestSpec, ScenarioPlan
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import ProtocolError, State, WorkerSession
from lunge_mp.schedule.permits import EARLY_NS, MIN_ASK, Lease, TokenBucket
from tests.plans import scenario_of

MS = 1_000_000
S = 1_000_000_000


# --- TokenBucket -------------------------------------------------------------------------------

def _hand_out(bucket: TokenBucket, asks: list[int]) -> list[int]:
    """Each ask is an instant a VU wants a permit; a refused VU comes back when the bucket says
    (as the worker's timer does, a whole millisecond later or more). The instants handed out."""
    handed = []
    pending = list(asks)
    heapq.heapify(pending)
    while pending:
        now = heapq.heappop(pending)
        if bucket.take(now):
            handed.append(now)
        else:
            wait = bucket.wait_ns(now)
            heapq.heappush(pending, now + max(MS, -(-wait // MS) * MS))
    return handed


def _max_in_window(instants: list[int], window_ns: int) -> int:
    instants = sorted(instants)
    best, lo = 0, 0
    for hi, t in enumerate(instants):
        while instants[lo] <= t - window_ns:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@settings(max_examples=200, deadline=None)
@given(rate=st.floats(min_value=0.5, max_value=200_000),
       asks=st.lists(st.integers(min_value=0, max_value=3 * S), min_size=1, max_size=400),
       window_ms=st.integers(min_value=1, max_value=2000))
def test_no_window_holds_more_than_the_rate_allows(rate, asks, window_ms):
    """Any window of T holds at most ⌈r·(T + 2E)⌉ permits (the module docstring's bound)."""
    handed = _hand_out(TokenBucket(rate), asks)
    assert len(handed) == len(asks)                      # every VU got its permit, in the end
    window = window_ms * MS
    bound = math.ceil((window + 2 * EARLY_NS) / math.ceil(1e9 / rate))
    assert _max_in_window(handed, window) <= bound


@settings(max_examples=100, deadline=None)
@given(workers=st.integers(min_value=1, max_value=8), total=st.sampled_from([10.0, 500.0, 7_000.0]),
       seed_asks=st.lists(st.integers(min_value=0, max_value=2 * S), min_size=1, max_size=150))
def test_the_sum_over_workers_stays_within_the_rate_plus_one_each(workers, total, seed_asks):
    """W buckets at R/W each: any 1 s window of all their permits ≤ R·(1 + 2E) + W."""
    handed = []
    for w in range(workers):
        handed += _hand_out(TokenBucket(total / workers), [a + w * 997 for a in seed_asks])
    assert _max_in_window(handed, S) <= total * (1 + 2 * EARLY_NS / S) + workers


def test_a_busy_bucket_gives_the_rate_and_no_more():
    bucket = TokenBucket(100)
    handed = _hand_out(bucket, [0] * 250)                 # 250 VUs at once: 2.5 s of permits
    assert handed[-1] - handed[0] == pytest.approx(249 * 10 * MS, abs=2 * MS)
    assert _max_in_window(handed, S) <= 101               # ⌈100·(1 s + 2 ms)⌉


def test_an_idle_bucket_saves_nothing_up():
    bucket = TokenBucket(10)                              # one every 100 ms
    assert bucket.take(0)
    assert not bucket.take(50 * MS)
    assert bucket.take(10 * S)                            # idle for 10 s ...
    assert not bucket.take(10 * S + 1)                    # ... and still one at a time
    assert bucket.wait_ns(10 * S + 1) > 90 * MS


def test_a_bucket_needs_a_positive_rate():
    with pytest.raises(ValueError):
        TokenBucket(0)


# --- Lease (the worker's side of maxTotalRequests) ---------------------------------------------

def test_a_lease_asks_first_then_when_half_is_used():
    lease = Lease()
    assert not lease.take()
    assert lease.ask(0) == MIN_ASK
    assert lease.ask(0) is None                           # one question at a time
    lease.granted(100, final=False)
    assert [lease.take() for _ in range(49)] == [True] * 49
    assert lease.ask(S) is None                           # 51 left > 50
    assert lease.take()
    want = lease.ask(S)                                   # 50 left: ask, sized to the pace
    assert want is not None and want >= MIN_ASK
    assert lease.used == 50 and lease.left == 50


def test_a_lease_asks_for_its_pace():
    lease = Lease()
    lease.ask(0)
    lease.granted(10_000, final=False)
    for _ in range(5_001):
        lease.take()                                      # 5,001 in 0.1 s: ~50,000/s
    assert lease.ask(S // 10) == pytest.approx(25_000, rel=0.01)   # half a second's worth


def test_after_a_final_grant_the_last_use_is_reported_once():
    lease = Lease()
    lease.ask(0)
    lease.granted(2, final=True)
    assert lease.take() and lease.ask(1) is None
    assert lease.take() and not lease.take()
    assert lease.ask(2) == 0                              # a report: everything used
    lease.granted(0, final=True)
    assert lease.ask(3) is None


# --- PermitLedger (the coordinator's side) -----------------------------------------------------

OPS = st.lists(st.one_of(
    st.tuples(st.just("grant"), st.integers(0, 5), st.integers(0, 10_000)),
    st.tuples(st.just("open"), st.integers(0, 5_000), st.just(0)),
    st.tuples(st.just("use"), st.integers(0, 5), st.integers(0, 10_000)),
), max_size=200)


@settings(max_examples=300, deadline=None)
@given(cap=st.integers(0, 50_000), ops=OPS, live=st.integers(1, 6))
def test_the_ledger_never_hands_out_more_than_the_cap(cap, ops, live):
    ledger = PermitLedger(cap)
    used = {w: 0 for w in range(6)}
    for op, worker, n in ops:
        if op == "grant":
            given_, final = ledger.grant(worker, used[worker], n, live)
            assert 0 <= given_ <= n
            assert final == (ledger.left == 0)
        elif op == "open":
            fit = ledger.take_open(worker)
            assert 0 <= fit <= worker
        else:   # the worker sends some of what it holds
            used[worker] = min(ledger.granted.get(worker, 0), used[worker] + n)
        assert ledger.open + sum(ledger.granted.values()) <= cap
        assert ledger.left >= 0


def test_grants_shrink_as_the_budget_runs_out():
    ledger = PermitLedger(1_000)
    sizes = []
    while ledger.left:
        given_, _ = ledger.grant(0, 0, 400, live=2)
        sizes.append(given_)
    assert sizes[0] == 250                       # ⌈1000 / (2·2)⌉ < 400 asked
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 1
    assert sum(sizes) == 1_000
    assert ledger.grant(1, 0, 10, live=2) == (0, True)


def test_used_up_needs_every_live_worker_to_have_used_its_lease():
    ledger = PermitLedger(100)
    ledger.grant(0, 0, 50, live=1)               # 50 (fair share of 100 over 1 worker)
    ledger.grant(1, 0, 50, live=1)               # 25
    ledger.grant(1, 0, 50, live=1)               # 13
    ledger.take_open(12)
    assert ledger.left == 0
    assert not ledger.used_up([0, 1])
    ledger.grant(0, 50, 0, live=2)
    assert not ledger.used_up([0, 1])            # worker 1 holds 38 it has not used
    assert ledger.used_up([0])                   # ... unless it was lost: its lease counts as sent
    ledger.grant(1, 38, 0, live=2)
    assert ledger.used_up([0, 1])


# --- maxRate shares: closed scenarios take part in the water-filling ----------------------------

def _scenario(name: str, executor: str, rate: float = 0.0, requests: int = 1) -> ScenarioPlan:
    return scenario_of(executor, name=name, rate=rate, duration=10.0, vus=5, iterations=1,
                        requests=tuple(RequestSpec(name=f"r{i}", method="GET", url="http://h/") for i in range(requests)))


def test_a_closed_scenario_alone_gets_all_of_max_rate():
    w = [Window(_scenario("c", "constant-vus"), 0, 10)]
    assert closed_rate_shares(w, 500) == {"c": 500}
    assert rate_caps(w, 500) == {}


def test_closed_scenarios_share_what_the_open_ones_leave():
    windows = [Window(_scenario("o", "constant-arrival-rate", rate=100), 0, 10),
               Window(_scenario("c1", "constant-vus"), 0, 10),
               Window(_scenario("c2", "per-vu-iterations"), 5, 20),
               Window(_scenario("later", "constant-vus"), 30, 40)]
    assert closed_rate_shares(windows, 1_000) == {"c1": 450, "c2": 450, "later": 1_000}
    assert rate_caps(windows, 1_000) == {}                # 100/s is below its share
    busy = [Window(_scenario("o", "constant-arrival-rate", rate=900, requests=2), 0, 10),
            Window(_scenario("c", "constant-vus"), 0, 10)]
    assert rate_caps(busy, 1_000) == {"o": 250}           # 500 requests/s of 1,800 asked
    assert closed_rate_shares(busy, 1_000) == {"c": 500}


def test_no_max_rate_means_no_shares():
    assert closed_rate_shares([Window(_scenario("c", "constant-vus"), 0, 10)], 0) == {}


# --- the messages ------------------------------------------------------------------------------

def test_permit_messages_round_trip_and_old_peers_get_defaults():
    for msg in (m.PermitRequest(worker=1, used=10, want=64), m.PermitGrant(permits=32, final=True),
                m.PermitGrant(permits=0),
                m.Heartbeat(worker=0, permit_wait_s={"maxRate": 1.5}, permit_waits={"maxRate": 3}),
                m.Bye(worker=0, reports=3, permit_wait_s={"maxTotalRequests": 0.25},
                      permit_waits={"maxTotalRequests": 1})):
        assert m.decode(m.encode(msg)) == msg
    assert m.decode(m.encode(m.Heartbeat(worker=2))).permit_waits == {}


def test_permit_messages_are_allowed_only_while_running_or_stopping():
    session = WorkerSession(0, "run")
    with pytest.raises(ProtocolError):
        session.received(m.PermitRequest(worker=0, used=0, want=16))
    with pytest.raises(ProtocolError):
        session.sent(m.PermitGrant(permits=1))
    session.state = State.RUNNING
    session.received(m.PermitRequest(worker=0, used=0, want=16))
    session.sent(m.PermitGrant(permits=16))
    session.state = State.STOPPING
    session.received(m.PermitRequest(worker=0, used=16, want=0))
    session.sent(m.PermitGrant(permits=0, final=True))
