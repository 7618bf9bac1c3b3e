"""Wire messages between the coordinator (ROUTER) and workers (DEALER).

Every message is a tagged msgspec Struct, msgpack-encoded with one module-level
Encoder/Decoder. The schema only grows: a new field always gets a default.
Times are integer microseconds: `t0_us` is a `time.monotonic()` instant on the worker's own
clock (the coordinator converts it per worker with the offset the handshake measured:
protocol/clock.py), every other instant is an offset from it.
"""

from __future__ import annotations

import msgspec

from lunge_mp.plan import Plan
from lunge_mp.protocol import packed

PROTOCOL_VERSION = 6     # 3: TimeProbe/TimeEcho/Refused, workers joining over tcp; 4: Hold/Release;
                         # 5: SeriesDelta's packed counts; 6: Heartbeat.parked (worker/parking.py)


class Hello(msgspec.Struct, tag=True):
    """worker → coordinator, first message."""
    worker: int
    pid: int
    protocol: int = PROTOCOL_VERSION
    run_id: str = ""
    # a remote worker (lunge-mp worker --connect) says worker=-1 and is given its id in Start
    name: str = ""              # its --id and process number, e.g. "loadgen-2/0"; unique in a run
    host: str = ""              # the machine's host name
    open_rate: float = 0.0      # arrivals/s one worker held on its machine (its `selftest`; 0: unknown)


class Refused(msgspec.Struct, tag=True):
    """coordinator → a worker that may not join (late, duplicate name, other protocol): why."""
    reason: str


class TimeProbe(msgspec.Struct, tag=True):
    """coordinator → joining remote worker: answer at once with TimeEcho (protocol/clock.py)."""
    seq: int


class TimeEcho(msgspec.Struct, tag=True):
    """remote worker → coordinator: when it received TimeProbe `seq` and when it answered,
    on its own monotonic clock (ns)."""
    seq: int
    received_ns: int
    sent_ns: int


class Start(msgspec.Struct, tag=True):
    """coordinator → worker: the plan and this worker's place in the run."""
    run_id: str
    plan: Plan
    worker: int
    workers: int
    # share of each scenario's VUs this worker may hold (open: maxVUs, preAllocatedVUs)
    max_vus: dict[str, int] = {}
    pre_allocated_vus: dict[str, int] = {}
    # guardrails on closed-model requests (schedule/permits.py): this worker's requests/s per
    # closed scenario (maxRate), and whether each request needs a leased permit (maxTotalRequests)
    permit_rates: dict[str, float] = {}
    permit_lease: bool = False
    # a remote worker: the plan's data files (path on the coordinator → contents), as it may
    # not have them (worker/remote.py puts them in a private folder of its own)
    data_files: dict[str, bytes] = {}


class Ready(msgspec.Struct, tag=True):
    """worker → coordinator: VUs preallocated, ready for Go."""
    worker: int


class Go(msgspec.Struct, tag=True):
    """coordinator → worker: the run's zero instant."""
    t0_us: int


class Assign(msgspec.Struct, tag=True):
    """coordinator → worker: arrival instants (µs after t0) for one open-model scenario."""
    scenario: str
    first_index: int            # global index of the first arrival (for {{iteration}})
    offsets_us: list[int]
    stride: int = 1             # global index of arrival i = first_index + i * stride


class Hold(msgspec.Struct, tag=True):
    """coordinator → worker: the run is paused. Start no open-model arrival whose instant is
    at or after `at_us` (µs after t0) until Release; those started before go on. Held
    arrivals are neither due nor dropped (a Stop meanwhile: never due)."""
    at_us: int


class Release(msgspec.Struct, tag=True):
    """coordinator → worker: the pause is over. The held arrivals go at their instants
    plus `shift_us` (the paused time: the coordinator's schedule moved by as much)."""
    shift_us: int


class EndScenario(msgspec.Struct, tag=True):
    """coordinator → worker: the scenario's schedule is over. Start what was already
    assigned and due, nothing more; interrupt iterations still running at `deadline_us`;
    then answer `ScenarioDone`."""
    scenario: str
    deadline_us: int


class ScenarioDone(msgspec.Struct, tag=True):
    """worker → coordinator: nothing of this scenario runs here any more (after
    EndScenario, or when an iteration-based scenario used up its iterations).

    `added`: the iterations `AddIterations` had given it when it said so; a done that does
    not cover every one sent is stale (more are coming) and is ignored."""
    worker: int
    scenario: str
    added: int = 0


class AddIterations(msgspec.Struct, tag=True):
    """coordinator → worker: run `iterations` more of an iteration-based scenario (a lost
    worker's remaining ones). Its VUs pull them once their own are done (shared-iterations:
    added to this worker's share; per-vu-iterations: beyond each VU's N); VUs that had
    finished start again, and a worker that had said ScenarioDone says it again after them."""
    scenario: str
    iterations: int


class SetVUs(msgspec.Struct, tag=True):
    """coordinator → worker: run this many looping VUs of a closed-model scenario now.

    When lowering, VUs beyond `vus` finish their current iteration and stop; those still
    running at `deadline_us` (offset from t0, 0 = none) are interrupted. VUs that stay are
    never affected by the deadline.
    """
    scenario: str
    vus: int
    deadline_us: int = 0
    iterations_per_vu: int = 0  # per-vu-iterations: each VU stops after this many (0 = unbounded)
    iterations_total: int = 0   # shared-iterations: this worker's share, pulled by its VUs


class PermitRequest(msgspec.Struct, tag=True):
    """worker → coordinator: maxTotalRequests permits. The worker has used `used` permits in
    all (one per closed-model request, redirect hops included) and asks for `want` more
    (0: only a report that the last permit of a final grant was used)."""
    worker: int
    used: int
    want: int = 0


class PermitGrant(msgspec.Struct, tag=True):
    """coordinator → worker: `permits` more to use; `final`: the budget is handed out, none
    will come after these."""
    permits: int
    final: bool = False


class Stop(msgspec.Struct, tag=True):
    """coordinator → worker: stop starting iterations; interrupt what runs at deadline_us.

    `hard`: interrupt everything now (second Ctrl-C).
    """
    deadline_us: int
    hard: bool = False
    reason: str = ""


class SeriesDelta(msgspec.Struct, array_like=True, gc=False):   # no cycles: str, bytes, int
    """One histogram's samples of one interval: key (scenario, request, metric) + its sparse
    HDR counts (the worker's `hdr.Tally`), packed (protocol/packed.py). Sparse, not an
    encoded HDR histogram: the coordinator adds a few buckets instead of decoding and adding
    23,552 counters, which is what lets one coordinator merge hundreds of workers
    (benchmarks/merge_bench.py); packed, not a msgpack map, so decoding one costs two bytes
    objects instead of a dict of ints."""
    scenario: str
    request: str                # "" for scenario-level metrics (iteration_duration, schedule_lag)
    metric: str
    index: bytes                # HDR counts-array indexes, u16 little-endian, ascending
    count: bytes                # samples at each (u32/u64 little-endian); b"": one at each
    n: int                      # samples in all
    lo: int                     # smallest and largest sample, µs
    hi: int

    @classmethod
    def of(cls, scenario: str, request: str, metric: str, counts: dict[int, int], n: int, lo: int,
           hi: int) -> "SeriesDelta":
        """Packed from {counts index: samples} (the recorder's `Tally.counts`)."""
        return cls(scenario, request, metric, *packed.pack(counts), n, lo, hi)

    @property
    def counts(self) -> dict[int, int]:
        """{counts index: samples}, unpacked (raises TypeError when the bytes are malformed)."""
        return packed.to_dict(self.index, self.count)


class CounterDelta(msgspec.Struct, array_like=True):
    """Request counters of one interval for one (scenario, request)."""
    scenario: str
    request: str
    requests: int = 0           # got a response or an error; each request exactly once
    failures: int = 0           # counted in http_req_failed
    errors: dict[str, int] = {} # failure class → count (timeout, connect, http_5xx, ...)
    bytes_in: int = 0
    bytes_out: int = 0
    first_error: dict[str, str] = {}   # failure class → first message seen
    checks_passed: int = 0      # assertions that held (k6 `checks` passes)
    checks_failed: int = 0      # assertions that did not
    check_runs: int = 0         # responses whose checks ran (every check runs on each)
    check_fails: dict[int, int] = {}   # check index (in the request's assertions) → fails
    check_first: dict[int, str] = {}   # check index → its first failure message
    queued: int = 0             # requests that waited for a connection at maxConnectionsPerHost


class ScenarioDelta(msgspec.Struct, array_like=True):
    """Iteration counters of one interval for one scenario, plus VU gauges at its end."""
    scenario: str
    iterations: int = 0         # completed (with or without request failures)
    dropped: dict[str, int] = {}  # cause → count (no_vu, behind)
    interrupted: int = 0
    active_vus: int = 0         # gauge: VUs busy at the end of the interval
    vus: int = 0                # gauge: VUs allocated
    scheduled: int = 0          # open model: arrivals due in this interval


class Report(msgspec.Struct, tag=True):
    """worker → coordinator: one interval's deltas. `seq` counts 0,1,2... per worker (partial
    reports included).

    `bucket` is the whole second since t0 the samples fall in; a worker flushes at each
    second boundary, so buckets from all workers line up.
    """
    worker: int
    run_id: str
    seq: int
    bucket: int
    series: list[SeriesDelta] = []
    counters: list[CounterDelta] = []
    scenarios: list[ScenarioDelta] = []
    final: bool = False
    # counters only, sent every 100 ms between the whole seconds (past 8 workers less often:
    # worker/main.py counters_per_second) (no histograms): second
    # `bucket` is still running, so it does not count as reported for that second
    partial: bool = False


class Heartbeat(msgspec.Struct, tag=True):
    """both ways: liveness. From workers: CPU percent of the last interval, loop lag."""
    worker: int = -1
    cpu_percent: float = 0.0
    loop_lag_ms: float = 0.0
    rss_mb: float = 0.0
    # closed-model VUs waiting for guardrail permits, so far: guardrail → seconds, and → waits
    permit_wait_s: dict[str, float] = {}
    permit_waits: dict[str, int] = {}
    # remote workers' clocks during the run (coordinator/clock_watch.py); 0 = none
    probe: int = 0              # coordinator → worker: answer this probe in your next heartbeat
    t0_us: int = 0              # coordinator → worker: the run's t0 on your clock from now on
    echo: int = 0               # worker → coordinator: the probe answered, when it came and
    echo_received_ns: int = 0   # when this heartbeat left (the worker's monotonic clock)
    echo_sent_ns: int = 0
    # worker → coordinator: its time-based closed-model VUs are parked after a silence and wait
    # for their share (worker/parking.py); the coordinator sends it the split in force
    parked: bool = False


class Bye(msgspec.Struct, tag=True):
    """worker → coordinator: last message after the final Report."""
    worker: int
    reports: int                # how many Reports were sent (seq of the final + 1)
    cpu_user: float = 0.0
    cpu_system: float = 0.0
    error: str = ""
    permit_wait_s: dict[str, float] = {}     # as in Heartbeat, final
    permit_waits: dict[str, int] = {}


Message = (Hello | Start | Ready | Go | Assign | SetVUs | EndScenario | ScenarioDone | Stop | Report
           | Heartbeat | Bye | AddIterations | PermitRequest | PermitGrant | Refused | TimeProbe | TimeEcho
           | Hold | Release)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Message)


def encode(msg: Message) -> bytes:
    return _encoder.encode(msg)


def decode(data: bytes) -> Message:
    """Decode one frame; raises msgspec.DecodeError / ValidationError on garbage."""
    return _decoder.decode(data)
