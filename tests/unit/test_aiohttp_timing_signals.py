"""aiohttp's timing breakdown (worker/aiohttp_timings.py): the signal handlers' sums, the
Outcome fields made of them, and a Recorder without a TLS series for aiohttp."""

from __future__ import annotations

import asyncio
import time

import pytest

from lunge_mp.config import ConfigError, plan_from_dict
from lunge_mp.metrics import hdr
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.worker import aiohttp_timings as at
from lunge_mp.worker.transport import Outcome

MS = 1_000_000


def _signal(handler, ctx) -> None:
    asyncio.run(handler(None, ctx, None))


def test_fill_splits_the_last_hop_and_keeps_the_wait():
    ph = at.Phases()
    ph.blocked_ns, ph.connect_ns, ph.queued = 7 * MS, 2 * MS, True
    ph.t_send, ph.t_sent = 100 * MS, 101 * MS
    out = Outcome(200, 200_000)
    at.fill(out, ph, t_head=150 * MS, t_end=160 * MS)
    assert (out.blocked_us, out.connecting_us, out.queued) == (7000, 2000, True)
    assert (out.sending_us, out.waiting_us, out.receiving_us) == (1000, 49_000, 10_000)
    assert out.tls_us == 0


def test_fill_without_a_wait_or_a_signal_is_safe():
    out = Outcome(200, 1000)
    at.fill(out, at.Phases(), t_head=5 * MS, t_end=6 * MS)     # no headers signal seen
    assert (out.blocked_us, out.sending_us, out.waiting_us, out.receiving_us) == (0, 0, 0, 1000)


def test_handlers_add_queued_and_created_time_and_leave_dns_out_of_connecting():
    ph = at.Phases()
    _signal(at._queued_start, ph)
    _signal(at._queued_end, ph)
    assert ph.queued and ph.blocked_ns > 0 and ph.connect_ns == 0
    started = time.monotonic_ns()
    _signal(at._create_start, ph)
    _signal(at._dns_start, ph)
    ph.t_dns -= 5 * MS                  # a 5 ms lookup
    _signal(at._dns_end, ph)
    ph.t_create -= 8 * MS               # inside an 8 ms connect
    _signal(at._create_end, ph)
    real = time.monotonic_ns() - started    # the signals' own time (long on a busy box)
    assert 3 * MS - real <= ph.connect_ns <= 3 * MS + real, (ph.connect_ns, real)
    assert ph.blocked_ns >= 8 * MS
    _signal(at._headers_sent, ph)
    assert ph.t_send == ph.t_sent > 0
    _signal(at._chunk_sent, ph)
    assert ph.t_sent >= ph.t_send
    _signal(at._headers_sent, None)     # the redirect check alone has no context: ignored


def test_a_recorder_for_aiohttp_has_no_tls_series():
    rec = Recorder(breakdown=True, detailed=True)
    rec.tls = False
    rec.blocked("s", "r", 7000, 6000, True, 0)
    rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
    rec.phases("s", "r", 0, 900, 90)
    rec.request_done("s", "r", 1000, None, False, None, None, 1, 1)
    rec.phases("s", "r", 0, 950, 40)
    series, counters, _ = rec.drain()
    hists = {d.metric: hdr.Tally.from_wire(d.counts, d.n, d.lo, d.hi).histogram() for d in series}
    assert "http_req_tls_handshaking" not in hists
    assert hists["http_req_waiting"].total_count == 2
    assert hists["http_req_blocked"].total_count == 2          # the other one a zero
    assert counters[0].queued == 1


@pytest.mark.parametrize("settings, metric, message", [
    ({}, "http_req_waiting", "http_req_waiting is measured only with settings.timings: detailed"),
    ({"transport": "aiohttp"}, "http_req_blocked{request:r}",
     "http_req_blocked is measured with transport: aiohttp only with settings.timings: detailed"),
    ({"transport": "aiohttp", "timings": "detailed"}, "http_req_tls_handshaking",
     "http_req_tls_handshaking is not measured with transport: aiohttp"),
])
def test_a_threshold_on_an_unmeasured_timing_is_a_config_error(settings, metric, message):
    doc = {"name": "t", "settings": settings, "thresholds": {metric: ["p95 < 100"]},
           "scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 1,
                               "requests": [{"name": "r", "url": "http://127.0.0.1:1/"}]}}}
    with pytest.raises(ConfigError, match=message):
        plan_from_dict(doc)
    doc["settings"] = {**settings, "timings": "detailed", "transport": "fast"}
    assert plan_from_dict(doc).thresholds        # measured there: accepted
