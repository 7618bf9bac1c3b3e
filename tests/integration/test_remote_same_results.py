"""The acceptance line of remote workers: the same config gives the same counts and the same
percentiles (within HDR precision) with 2 local workers and with 2 remote workers (tcp with
CurveZMQ on 127.0.0.1), real processes against the embedded target.

The latencies are made known in advance: each request asks the target's delay route for its
own delay (a unique data row, dealt disjointly either way: row i to worker i mod 2, so one
worker's rows hold 20-69 ms and the other's 70-119 ms, twice each), so the distribution is
fixed by the config, p90 and p99 exist only if the second worker's histograms were merged,
and a measured percentile can only sit a little above the known one: the client's own time
and its event loop's lateness on top of the target's hold.

How much above is scheduling noise, measured in the same run: a worker whose event loop runs
X ms late reads a response up to X ms late, and starts its iterations up to X ms late, which
`schedule_lag` records. So each percentile is checked against [known - 1 ms, known + 3 ms +
the run's largest schedule lag] (1 ms: the target's asyncio timer may fire up to its clock
resolution early; 3 ms: sending and reading a request on loopback on a busy box), HDR's 0.1%
precision on top, and the two runs against each other within the same slack."""

from __future__ import annotations

import pytest
import zmq

from lunge_mp.metrics import hdr
from tests.integration.test_remote_workers import _coordinator, _free_port, _stop, _worker, keys
from tests.support import cli, read_json, write_config

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="pyzmq without CurveZMQ (libsodium)")
__all__ = ["keys"]      # the fixture

DELAYS_MS = [20 + (i // 2) % 50 + 50 * (i % 2) for i in range(200)]   # row i goes to worker i mod 2
EARLY_MS = 1.0      # an asyncio timer runs up to the loop's clock resolution early (the target's hold)
OVERHEAD_MS = 3.0   # send and read one request on loopback, on a busy box


def _known(q: float) -> float:
    """The q-th percentile of DELAYS_MS as HDR reports it (the value at that rank)."""
    h = hdr.new_histogram()
    for ms in DELAYS_MS:
        h.record_value(ms * 1000)
    return h.get_value_at_percentile(q) / 1000


def test_two_local_and_two_remote_workers_give_the_same_counts_and_percentiles(tmp_path, fresh_target, keys):
    (tmp_path / "delays.csv").write_text("ms\n" + "".join(f"{ms}\n" for ms in DELAYS_MS))
    config = write_config(tmp_path, f"""
        name: same
        settings: {{baseUrl: "{fresh_target.url}"}}
        data: [{{name: d, file: delays.csv, mode: unique}}]
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 50
            startTime: 10ms
            duration: 4s
            preAllocatedVUs: 10
            maxVUs: 40
            gracefulStop: 2s
            requests: [{{url: "/delay/{{{{d.ms}}}}"}}]
        """)
    local_out = tmp_path / "local.json"
    done = cli("run", str(config), "--workers", "2", "--out", str(local_out), "-q", "--no-history", timeout=60)
    assert done.returncode == 0, done.stderr
    local_seen = fresh_target.stats()["requests"]
    fresh_target.reset()
    port, remote_out = _free_port(), tmp_path / "remote.json"
    coordinator = _coordinator(config, remote_out, port, 2, "--keys", str(keys), "-q")
    workers = _worker(port, "--keys", str(keys), "--workers", "2", "--id", "box")
    try:
        coordinator.communicate(timeout=60)
        workers.communicate(timeout=20)
    finally:
        _stop(coordinator, workers)
    assert coordinator.returncode == 0 and workers.returncode == 0, remote_out.with_suffix(".err").read_text()
    local, remote = read_json(local_out), read_json(remote_out)
    # counts: exact, equal, and what the server saw
    for results, seen in ((local, local_seen), (remote, fresh_target.stats()["requests"])):
        metrics = results["metrics"]
        assert metrics["http_reqs"]["count"] == metrics["iterations"]["count"] == seen == 200
        assert metrics["http_req_duration"]["count"] == 200 and metrics["http_req_failed"]["count"] == 0
        assert "dropped_iterations" not in metrics or metrics["dropped_iterations"]["count"] == 0
    # arrivals per second line up the same way on the remote workers' own clocks (startTime
    # keeps every arrival 10 ms from a second's edge: which side of the edge an arrival due
    # exactly on it is counted in depends on which of the worker's timers runs first)
    assert [b["scheduled"] for b in remote["buckets"]] == [b["scheduled"] for b in local["buckets"]] \
        == [50, 50, 50, 50] + [0] * (len(local["buckets"]) - 4)
    # percentiles: each run's within its own scheduling noise above the known one, so the two
    # runs' within that of each other
    lag = max(r["metrics"]["schedule_lag"]["max"] for r in (local, remote))
    slack = OVERHEAD_MS + lag
    for q, name in ((50, "p50"), (90, "p90"), (99, "p99")):
        known = _known(q)
        got = (local["metrics"]["http_req_duration"][name], remote["metrics"]["http_req_duration"][name])
        precision = known * 0.001 + 0.001
        assert all(known - EARLY_MS - precision <= v <= known + slack + precision for v in got), \
            (name, known, got, lag)
        assert abs(got[0] - got[1]) <= slack + EARLY_MS + 2 * precision, (name, got, lag)
    assert _known(50) < 70 <= _known(90)       # p90 and p99 are the second worker's
