"""The load generator's own limits: open files, and how many a run may need.

Every connection is a file descriptor. The soft RLIMIT_NOFILE (often 1024) is raised to the
hard limit in the coordinator (before the workers are spawned, so they inherit it) and again
in each worker. When even that is below what the plan may open, the run warns before it
starts: connections beyond the limit fail with EMFILE, which the transports count as class
"generator" (the load generator's fault, not the target's).
"""

from __future__ import annotations

import math
import resource

from lunge_mp.plan import Plan

NOFILE_CAP = 1 << 20       # Linux's default nr_open: the most a soft limit can be raised to
FD_OVERHEAD = 64           # sockets, pipes, the ipc socket, libraries' own


def raise_nofile() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE → hard where allowed; returns (soft, hard) as they are afterwards."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 0, 0
    want = NOFILE_CAP if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (OSError, ValueError):
            pass
    return soft, hard


def fds_per_worker(plan: Plan, workers: int) -> int:
    """Sockets one worker may hold at once: one per busy VU, at most its share of
    maxConnectionsPerHost per host (0 = unlimited), plus overhead."""
    workers = max(1, workers)
    vus = sum(s.peak_vus for s in plan.scenarios)
    vus_each = math.ceil(vus / workers)
    per_host = plan.settings.max_connections_per_host
    if per_host:
        hosts = len({r.url.split("/", 3)[2] if "://" in r.url else r.url
                     for s in plan.scenarios for r in s.requests}) or 1
        vus_each = min(vus_each, math.ceil(per_host / workers) * hosts)
    return vus_each + FD_OVERHEAD


def nofile_warning(plan: Plan, workers: int, soft: int) -> str | None:
    if soft <= 0 or soft == resource.RLIM_INFINITY:
        return None
    need = fds_per_worker(plan, workers)
    if need <= soft:
        return None
    return (f"the open-file limit is {soft:,} per process, but a worker may need {need:,} sockets "
            f"(maxVUs/VUs and settings.maxConnectionsPerHost over {workers} worker(s)); connections "
            f"beyond the limit fail as load-generator errors (class 'generator'). Raise the hard limit "
            f"(ulimit -Hn, /etc/security/limits.conf) or use more workers")
