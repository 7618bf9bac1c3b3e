"""The validated, normalised run plan: what the config means, with every unit resolved.

A Plan is produced once by `lunge_mp.config.load_plan` (which validates and collects
every error with its field path) and is then immutable. It is a msgspec Struct so the
coordinator can ship it to workers unchanged in the `Start` message.

Units: every duration is float seconds, every rate is iterations per second.
Each scenario is one variant of the tagged union `ScenarioPlan`, one Struct per executor
(lunge_mp/executors/); the parts every scenario shares are in lunge_mp/plan_parts.py.
"""

from __future__ import annotations

import msgspec

from lunge_mp import __version__
from lunge_mp.executors import (  # noqa: F401  (re-exported: the plan's names, in one place)
    CLOSED_EXECUTORS, EXECUTORS, OPEN_EXECUTORS, ScenarioPlan)
from lunge_mp.plan_parts import (  # noqa: F401  (re-exported)
    Assertion, DataSource, Extract, Pacing, RedisCommand, RequestSpec, Stage)


class RedisSettings(msgspec.Struct, frozen=True):
    """`settings.redis`: where `redis:` requests go (the password is a secret everywhere)."""
    url: str = "redis://127.0.0.1:6379/0"   # normalised: no password in it
    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    username: str = ""
    password: str = ""
    tls: bool = False
    insecure_skip_verify: bool = False
    pool_size: int = 100        # connections for the whole run (each worker: its share), like maxConnectionsPerHost


class Settings(msgspec.Struct, frozen=True):
    base_url: str = ""
    timeout: float = 30.0
    max_connections_per_host: int = 0   # 0: no cap, connections follow the load (VUs)
    max_idle_conns_per_host: int = 100
    keepalive: bool = True
    insecure_skip_verify: bool = False
    user_agent: str = f"lunge_mp/{__version__}"
    headers: dict[str, str] = {}
    transport: str = "auto"     # auto | fast | aiohttp (see lunge_mp/worker/transports.py)
    connections: str = "shared"  # shared | perVU (fast transport only; see worker/fast_transport.py)
    expected_statuses: tuple[tuple[int, int], ...] = ((200, 399),)   # config/statuses.py
    timings: str = "summary"    # summary | detailed: + tls/sending/waiting/receiving (aiohttp: all but tls)
    checks_fail_requests: bool = False   # true: a failed check also fails its request (class check)
    redis: RedisSettings | None = None  # where `redis:` requests go
    http_debug: str = ""        # "" | headers | full: set by --http-debug (worker/http_debug.py)


class Threshold(msgspec.Struct, frozen=True):
    metric: str                 # e.g. http_req_duration, browse_duration, http_req_duration{request:Create}
    expression: str             # as written by the user
    aggregation: str            # avg min med max pN count rate
    percentile: float = 0.0     # for pN
    op: str = "<"               # < <= > >= == !=
    value: float = 0.0          # milliseconds for time metrics, plain number otherwise
    abort_on_fail: bool = False
    delay_abort_eval: float = 0.0
    window: float = 0.0         # seconds: "... over 30s" holds on every sliding window (0 = whole run)
    default: bool = False       # added by lunge_mp, not the config (config/default_thresholds.py)


class Warmup(msgspec.Struct, frozen=True):
    """Runs before the measured test; its metrics are kept apart. Exactly one of rate/vus."""
    duration: float
    rate: float = 0.0           # iterations/s, spread over the scenarios (open model)
    vus: int = 0                # looping VUs, spread over the scenarios (closed model)


class Options(msgspec.Struct, frozen=True):
    sequential: bool = False
    iterations_timeout: float = 60.0
    warmup: Warmup | None = None
    min_efficiency: float = 0.95    # below this the run is invalid (exit 113)
    default_thresholds: bool = True  # http_req_failed rate<0.01 unless set (config/default_thresholds.py)


class WarnThresholds(msgspec.Struct, frozen=True):
    """Fractions of a guardrail's limit at which a warning is given (once per guardrail)."""
    rate: float = 0.8
    memory: float = 0.8
    cpu: float = 0.7


class Guardrails(msgspec.Struct, frozen=True):
    """Limits the run may never exceed (CONFIG.md, Guardrails). 0 means "no limit" where noted.

    Semantics are in lunge_mp/analysis/guardrails.py; the coordinator enforces them.
    """
    max_rate: float = 100_000.0         # requests/s; open-model targets above it are capped (0 = none)
    max_total_requests: int = 0         # 0 = no limit
    max_duration: float = 86_400.0      # seconds from t0 (0 = no limit)
    max_memory_mb: float = 0.0          # load generator RSS; 0 = 80% of the box's memory
    max_cpu_percent: float = 0.0        # load generator CPU averaged over the box; 0 = no limit
    emergency_stop: bool = True         # a breach stops the run (exit 111); false: warn only
    warn_thresholds: WarnThresholds = WarnThresholds()
    allowed_hosts: tuple[str, ...] = () # empty = any host; "*.example.com", "10.0.0.0/8", "host:port"
    max_queue_depth: int = 0            # a monitored Redis queue's backlog above it: stop (0 = none)


class ProfileRef(msgspec.Struct, frozen=True):
    """The saved profile a plan was made from (`lunge-mp profile run`, the profiles API)."""
    name: str
    version: int
    id: str = ""


class Plan(msgspec.Struct, frozen=True):
    name: str
    scenarios: tuple[ScenarioPlan, ...]
    description: str = ""
    settings: Settings = Settings()
    variables: dict[str, str] = {}
    secrets: tuple[str, ...] = ()      # names of variables marked secret: true
    thresholds: tuple[Threshold, ...] = ()
    options: Options = Options()
    source: str = ""                   # the config file the plan came from
    output: dict[str, str] = {}        # report format (json html csv junit) → path
    guardrails: Guardrails = Guardrails()
    data: tuple[DataSource, ...] = ()  # data files every scenario may use (one cursor per worker)
    profile: ProfileRef | None = None  # the saved profile this run comes from, if any
