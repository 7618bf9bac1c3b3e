"""A remote worker that joins and then goes silent before the start (frozen, cut off, its
connection still open) loses its place after LOST_AFTER_S, through the pure core
(coordinator/core.py with coordinator/admission.py): another worker takes the place, the run
starts with N, and the silent one is refused if it speaks again. No sockets: frames in,
actions out; the loop's clock is passed in."""

from __future__ import annotations

import zmq

from lunge_mp.coordinator.core import RunCore, RunPhase
from lunge_mp.coordinator.health import LOST_AFTER_S
from lunge_mp.coordinator.outbox import Log, Reply, Send
from lunge_mp.plan import Plan
from lunge_mp.protocol import clock
from lunge_mp.protocol import messages as m
from lunge_mp.protocol.session import State
from lunge_mp.remote.keys import fingerprint
from tests.core_driver import scenario
from tests.unit.test_remote_places import NOW, _hello, _join, _texts

KEY = fingerprint(zmq.curve_keypair()[0])


def _core(local=0, remote=2, wait_s=30.0) -> RunCore:
    return RunCore(Plan(name="p", scenarios=(scenario("s"),)), local + remote, run_id="0123456789ab",
                   remote=remote, wait_s=wait_s)


def _beat(core, identity, now, key=None):
    return core.frames([identity, m.encode(m.Heartbeat(worker=-1))], now, key)


def _ready(core, identity, worker, now, key=None):
    return core.frames([identity, m.encode(m.Ready(worker=worker))], now, key)


def _freed(actions):
    return [t for t in _texts(actions) if "left before the start" in t]


def _ticks(core, start, end, step=0.25):
    """The loop's handshake ticks from `start` to `end` (it ticks every few ms; a longer gap
    is the coordinator's own stall): the actions, and the instant each was taken."""
    out, t = [], start
    while t <= end + 1e-9:
        out += [(t, a) for a in core.tick(t)]
        t = round(t + step, 6)
    return out


def _freed_at(ticks):
    """(when, text) of each place freed in `_ticks`' output."""
    return [(t, a.text) for t, a in ticks if isinstance(a, Log) and "left before the start" in a.text]


def test_a_joined_worker_silent_for_the_lost_limit_is_freed_and_another_takes_its_place():
    core = _core(remote=2)
    a, _ = _join(core, b"r-a", "a/0", KEY)
    _ready(core, b"r-a", a, NOW, KEY)
    assert core.sessions[a].state is State.READY
    # up to the limit: still holds its place
    assert _freed(a for _, a in _ticks(core, NOW, NOW + LOST_AFTER_S)) == [] and core.remote.joined() == 1
    actions = core.tick(NOW + LOST_AFTER_S + 0.5)
    assert _freed(actions) == [
        f"worker 0 (a/0 on h, key {KEY}) left before the start: silent for 3.5s (no heartbeat for over "
        f"3s: stopped, frozen or cut off); its place is free for another worker (0 of 2 remote joined)"]
    assert core.phase is RunPhase.HANDSHAKE and core.stop_requested is None
    assert core.worker_of(b"r-a") is None and core.sessions[0].state is State.NEW
    # two others join; the run starts with both, under the freed id and the next
    later = NOW + 4
    b, _ = _join(core, b"r-b", "b/0", now=later)
    c, _ = _join(core, b"r-c", "c/0", now=later)
    assert (b, c) == (0, 1)
    _ready(core, b"r-b", b, later)
    _ready(core, b"r-c", c, later)
    go = [a for a in core.tick(later) if isinstance(a, Send) and isinstance(a.msg, m.Go)]
    assert sorted(a.worker for a in go) == [0, 1] and core.phase is RunPhase.RUNNING
    assert [core.info[w].name for w in (0, 1)] == ["b/0", "c/0"] and not any(i.lost for i in core.info)


def test_a_worker_that_keeps_sending_heartbeats_keeps_its_place_however_long_the_wait():
    core = _core(remote=2)
    a, _ = _join(core, b"r-a", "a/0")
    _ready(core, b"r-a", a, NOW)
    for s in range(1, 20):          # the other place stays empty for 19 s
        _beat(core, b"r-a", NOW + s)
        assert _freed(core.tick(NOW + s + 0.5)) == []
    assert core.remote.joined() == 1 and core.sessions[a].state is State.READY
    # the coordinator goes on telling it that it lives
    beats = [x for x in core.tick(NOW + 21) if isinstance(x, Send) and isinstance(x.msg, m.Heartbeat)]
    assert [x.worker for x in beats] == [a]


def test_the_clock_exchanges_do_not_wait_on_a_silent_worker():
    """Silent after Hello: its probes go unanswered; it is freed at the lost limit, not after
    all of them have timed out."""
    core = _core(remote=1)
    core.frames([b"r-a", _hello("a/0")], NOW)
    assert core.sessions[0].state is State.GREETED
    freed = _freed_at(_ticks(core, NOW, NOW + 10))
    assert [t for t, _ in freed] == [NOW + LOST_AFTER_S + 0.25] and "silent for 3.2s" in freed[0][1]
    assert core.remote.joined() == 0 and core.remote.probes == {}


def test_a_worker_that_answers_no_clock_probe_is_freed_when_they_have_all_timed_out():
    """It sends heartbeats (so it is not silent), but no answer to a probe: it never gets
    Start, and its place goes to another instead of waiting out --wait."""
    core = _core(remote=1, wait_s=120.0)
    core.frames([b"r-a", _hello("a/0")], NOW)
    t, freed = NOW, []
    while not freed and t < NOW + 60:
        t += 0.5
        _beat(core, b"r-a", t)
        freed = _freed(core.tick(t))
    assert freed == [f"worker 0 (a/0 on h) left before the start: it answered none of its {clock.MAX_PROBES} "
                     f"clock probes; its place is free for another worker (0 of 1 remote joined)"]
    assert core.phase is RunPhase.HANDSHAKE and core.remote.joined() == 0


def test_a_freed_worker_that_speaks_again_is_refused_and_told_why():
    core = _core(remote=1)
    a, _ = _join(core, b"r-a", "a/0", KEY)
    _ticks(core, NOW, NOW + 4)
    b, _ = _join(core, b"r-b", "b/0", now=NOW + 4)
    assert b == a == 0
    # resumed before the start: a place would not matter, it is refused all the same
    actions = _ready(core, b"r-a", 0, NOW + 4.5, KEY)
    refused = [x for x in actions if isinstance(x, Reply)]
    assert len(refused) == 1 and refused[0].identity == b"r-a" and isinstance(refused[0].msg, m.Refused)
    assert refused[0].msg.reason.startswith(f"worker 0 (a/0 on h, key {KEY}) lost its place before the "
                                            f"start: silent for 3.2s")
    assert "run lunge-mp worker again" in refused[0].msg.reason
    assert _texts(actions) == [f"refused: worker 0 (a/0 on h, key {KEY}) lost its place before the start: "
                               f"silent for 3.2s (no heartbeat for over 3s: stopped, frozen or cut off), "
                               f"and spoke again: told it is not in the run"]
    assert core.sessions[0].state is State.STARTED and core.info[0].name == "b/0"   # b's place untouched
    # the run starts with b; a freed worker speaking after the start is refused the same way
    _ready(core, b"r-b", 0, NOW + 4.5)
    _ticks(core, NOW + 4.5, NOW + 5)
    core.tick(NOW + 5)
    assert core.phase is RunPhase.RUNNING
    actions = _beat(core, b"r-a", NOW + 6, KEY)
    assert [type(x.msg) for x in actions if isinstance(x, Reply)] == [m.Refused]
    assert core.outcome.refused == 2 and core.info[0].last_heard == NOW + 4.5


def test_a_local_worker_is_not_freed_by_silence_before_the_start():
    """Local workers are this machine's processes: watched by their exit, as before."""
    core = _core(local=1, remote=1)
    core.frames([b"w0", m.encode(m.Hello(worker=0, pid=9))], NOW)
    assert _freed(a for _, a in _ticks(core, NOW, NOW + 10)) == [] and core.sessions[0].state is State.STARTED
    assert core.phase is RunPhase.HANDSHAKE


def test_wait_still_bounds_the_whole_wait_after_a_place_was_freed():
    core = _core(remote=2, wait_s=10.0)
    core.tick(NOW)                     # the wait starts
    a, _ = _join(core, b"r-a", "a/0", now=NOW + 1)
    _ready(core, b"r-a", a, NOW + 1)
    assert _freed(a for _, a in _ticks(core, NOW + 1, NOW + 5))
    assert core.remote.joined() == 0 and core.phase is RunPhase.HANDSHAKE
    _ticks(core, NOW + 5, NOW + 10)
    assert core.phase is RunPhase.CLOSED and core.outcome.abort_code == 1
    assert "2 of 2 remote worker(s) never joined" in core.outcome.abort


def test_the_coordinators_own_stall_is_no_workers_silence():
    """The coordinator stopped (or its machine paused) for 10 s: the workers' heartbeats wait
    unread meanwhile. Nobody is freed at the first tick after; one still silent for the lost
    limit of the coordinator's own running time is."""
    core = _core(remote=2)
    a, _ = _join(core, b"r-a", "a/0")
    b, _ = _join(core, b"r-b", "b/0")
    _ready(core, b"r-a", a, NOW)
    _ticks(core, NOW, NOW + 1)
    assert _freed(core.tick(NOW + 11)) == []          # resumed: nobody judged on its own stall
    ticks = []
    for s in range(11, 16):                            # a's heartbeats: the one queued, read now, and on
        _beat(core, b"r-a", NOW + s + 0.01)
        ticks += _ticks(core, NOW + s, NOW + s + 0.75)
    freed = _freed_at(ticks)
    assert [t for t, _ in freed] == [NOW + 13.25], freed       # b: 1 s before and 2.25 s after
    # how long the coordinator was listening in vain
    assert "worker 1 (b/0 on h) left before the start: silent for 3.2s" in freed[0][1]
    assert core.remote.joined() == 1 and core.worker_of(b"r-a") == a
