"""The threshold a run gets when its config sets none on the failure rate: a run where nothing
worked must not pass.

    http_req_failed: rate<0.01      (the default, marked `default` in every report)

It is added when the config has no threshold on `http_req_failed` itself (a threshold on it,
any expression, replaces it; one on a part of it, `http_req_failed{scenario:x}` or
`x_failed`, does not: the rest of the run would go unjudged), and
`options.defaultThresholds: false` turns it off. It judges the target only: the load
generator's own failures (class `generator`) are apart (analysis/generator_errors.py). A run
that made no request at all has no failure rate: the default does not fail it (an explicit
threshold with no data does).

Why 1%: a CI script reads the exit code. k6 exits 0 whatever failed unless the script sets a
threshold, so a run against a target that is down passes; Locust exits 1 on any failure, so one
reset in a million fails a soak test. 1% is the failure rate k6's own documentation uses as
the example threshold; a run above it is not a healthy run, whatever else it measured. A test
that expects failures (a stress test past the breaking point, a chaos test) says so with its
own threshold, or turns the default off.
"""

from __future__ import annotations

import msgspec

from lunge_mp.analysis.thresholds import parse_threshold
from lunge_mp.plan import Threshold

METRIC = "http_req_failed"
EXPRESSION = "rate<0.01"


def with_defaults(thresholds: tuple[Threshold, ...], enabled: bool) -> tuple[Threshold, ...]:
    """`thresholds` and the default ones they leave out (none when `enabled` is False)."""
    if not enabled or any(t.metric.strip() == METRIC for t in thresholds):
        return thresholds
    return thresholds + (msgspec.structs.replace(parse_threshold(METRIC, EXPRESSION), default=True),)
