"""What a run produced: plain data for the reports, with no sockets, loops or processes.

The coordinator (coordinator/run.py) fills a RunOutcome as the run goes; report/results.py
turns it into results.json. Keeping it here lets a report be built, and tested, without
importing ZeroMQ, asyncio or psutil.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.plan import Plan


@dataclass
class WorkerInfo:
    worker: int
    pid: int = 0
    cpu_percent: float = 0.0
    loop_lag_ms: float = 0.0
    rss_mb: float = 0.0
    cpu_user: float = 0.0
    cpu_system: float = 0.0
    last_heard: float = 0.0
    lost_at: float | None = None     # seconds after t0 it was (last) lost; kept after a rejoin
    rejoined_at: float | None = None  # seconds after t0: a worker lost by silence spoke again
    lost: bool = False               # lost now (a rejoined worker is not): what every check reads
    rejoin_to: object = None         # lost by silence: the session State it may rejoin to
    error: str = ""
    assigned: int = 0                # open-model arrivals handed to it (at the end; arrival_ledger.py)
    unaccounted: int = 0             # a lost worker's: assigned, not ended in its reports (fate unknown)
    redealt: int = 0                 # a lost worker's arrivals not yet due, dealt again to the others
    host: str = ""                   # its machine (remote workers: from Hello; local: this one's)
    name: str = ""                   # a remote worker's name (--id and process number)
    remote: bool = False             # joined over tcp (lunge-mp worker --connect)
    clock_offset_ms: float = 0.0     # its monotonic clock − the coordinator's (protocol/clock.py)
    clock_uncertainty_ms: float = 0.0  # the true offset is within ± this
    clock_rtt_ms: float = 0.0        # round trip of the exchange the offset came from
    clock_applied_ms: float | None = None   # the offset its t0 carried last, if it moved during the run
    clock_history: list = field(default_factory=list)   # [t, offset ms, ± ms] per change (clock_watch.py)
    clock_drift_ppm: float | None = None    # how fast its offset moved over the run


@dataclass
class RunOutcome:
    """What a run produced, for reports. `abort` is the first reason the run ended early."""
    plan: Plan
    run_id: str
    aggregate: Aggregate
    workers: list[WorkerInfo]
    start_time: float = 0.0          # wall clock, unix seconds
    end_time: float = 0.0
    duration_s: float = 0.0          # from t0 to the last Bye
    planned_s: float = 0.0
    abort: str | None = None
    abort_code: int | None = None
    warnings: list[str] = field(default_factory=list)
    arrivals_sent: dict[str, int] = field(default_factory=dict)
    arrivals_unaccounted: dict[str, int] = field(default_factory=dict)   # lost workers', per scenario
    arrivals_started_unknown: dict[str, int] = field(default_factory=dict)  # ... of which had started
    arrivals_redealt: dict[str, int] = field(default_factory=dict)
    arrival_processes: dict[str, dict] = field(default_factory=dict)  # open scenario → {process, seed}
    scenario_starts: dict[str, float | None] = field(default_factory=dict)  # seconds after t0
    scenario_windows: dict[str, dict] = field(default_factory=dict)
    coordinator_cpu_s: float = 0.0
    warmup: Aggregate | None = None
    resources: list[dict] = field(default_factory=list)
    measured_from: float = 0.0       # seconds after t0 the measured test began (after warmup)
    guardrails: dict = field(default_factory=dict)   # limits, peaks, events, caps (results.json)
    refused: int = 0                 # messages refused from bad peers or lost workers
    queue: dict | None = None        # the Redis queue monitor's summary (coordinator/queue_monitor.py)
