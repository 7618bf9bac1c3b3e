"""Every upper bound a config is held to, in one place (docs/CONFIG.md, "Limits", lists them).

A number no one meant (`vus: 99999999999999999999`) must be a config error at load, naming the
field and the bound, not an OverflowError or a worker that swells until it is lost. The field
readers (config/fields.py) check each value against the bound its parser names here; any
number read without a named bound still meets `NUMBER` (and every duration `DURATION`).

How the VU bound was chosen: a closed-model VU costs about 8 KB in a worker (measured: one
worker, constant-vus on `/delay/500` of the embedded target, RSS 41 MB at 10 VUs, 56 MB at
2,000, 104 MB at 8,000, each VU with its own connection). 100,000 VUs in one scenario is then
about 0.8 GB spread over the workers (and a file descriptor each), well inside a load box, and
ten times what our single boxes are asked for.

The document limits (size, values after alias expansion, nesting) keep `validate` fast and
small for any input: parsing is linear in them (config/safe_load.py).
"""

from __future__ import annotations

from typing import NamedTuple


class Bound(NamedTuple):
    """An upper bound and what it bounds, for the error message: `at most 100,000 (VUs ...)`."""

    value: float
    what: str

    def problem(self, value: float, unit: str = "") -> str | None:
        """The error for `value` (already a finite number), or None when it is within bounds."""
        if value <= self.value:
            return None
        return f"must be at most {show(self.value)}{unit} ({self.what}); got {show(value)}{unit}"


def show(value: float) -> str:
    """A number for a message: `100,000`, `2.5`, `1e+29`; never fails on a huge int."""
    if isinstance(value, int) and abs(value) < 10**21:
        return f"{value:,}"
    try:
        number = float(value)
    except OverflowError:
        return "a number too large for a float"
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:g}"


DAY = 86_400.0

# -- counts and rates (per scenario) ----------------------------------------------------------
VUS = Bound(100_000, "VUs in one scenario; a VU holds about 8 KB and a connection in a worker")
ITERATIONS = Bound(1_000_000_000, "iterations in one scenario")
RATE = Bound(1_000_000, "iterations per second in one scenario, after timeUnit; ten times what "
                        "one load box sends")
CONNECTIONS = Bound(1_000_000, "connections per host")
SEED = Bound(2**63 - 1, "a 64-bit seed")
PHASE = Bound(1_000_000, "a phase offset")
TOTAL_REQUESTS = Bound(10**12, "requests in one run")
MEMORY_MB = Bound(16 * 1024 * 1024, "16 TB of memory")

# -- durations ------------------------------------------------------------------------------
DURATION = Bound(30 * DAY, "30 days, the longest any duration may be")

#: anything else a config gives as a number (a threshold's delay, a warm-up rate ...)
NUMBER = Bound(10**12, "the largest number a config may hold")

# -- the document itself -----------------------------------------------------------------------
CONFIG_BYTES = 4 * 1024 * 1024      # a config file (YAML or JSON), before and after ${VAR} expansion
NODES = 50_000                      # values (scalars, lists, mappings) after YAML alias expansion
EXPANDED_CHARS = 16 * 1024 * 1024   # characters of all scalars after alias expansion
DEPTH = 64                          # nesting of lists and mappings
ERRORS_SHOWN = 100                  # config errors listed; the rest are counted

# -- data files (CSV: each worker reads the whole file; one field may hold at most 131,072
# characters, Python csv's own limit, so a huge line is refused at its first long field) ---------
DATA_FILE_BYTES = 100 * 1024 * 1024

#: the table docs/CONFIG.md shows, field → bound (tests keep the two in step)
TABLE: dict[str, Bound] = {
    "vus, startVUs, preAllocatedVUs, maxVUs, stages[].target (ramping-vus), options.warmup.vus": VUS,
    "iterations": ITERATIONS,
    "rate ÷ timeUnit, startRate ÷ timeUnit, stages[].target ÷ timeUnit (ramping-arrival-rate), "
    "pattern rates, options.warmup.rate": RATE,
    "settings.maxConnectionsPerHost, settings.maxIdleConnsPerHost": CONNECTIONS,
    "guardrails.maxRate": RATE,
    "guardrails.maxTotalRequests": TOTAL_REQUESTS,
    "guardrails.maxMemoryMB": MEMORY_MB,
    "pattern.seed": SEED,
    "pattern.phase": PHASE,
    "every duration (duration, timeUnit, timeout, thinkTime, maxDuration, startTime, gracefulStop, "
    "stages[].duration, pattern durations, pacing, delayAbortEval, ...)": DURATION,
    "any other number": NUMBER,
}
