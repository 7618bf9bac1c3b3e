"""The process exit codes of every command, in one place (k6's where they exist; DESIGN.md).

The first abort reason of a run decides its code; a later one never overwrites it.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1            # an internal or environment error (with a message, no traceback)
    FAILED = 99             # thresholds failed; for `test`, a test failed; for `compare`, a regression
    INVALID_INPUT = 104     # invalid config or arguments: nothing was sent
    STOPPED = 105           # stopped by a signal or on request (graceful stop, reports written)
    GUARDRAIL = 111         # stopped by a guardrail
    LOST_WORKERS = 112      # lost all workers
    INVALID_RUN = 113       # the generator could not deliver the asked load (efficiency below the floor)
