"""Seed 004's `job_config` (JobConfiguration) → a `redis:` request of a v2 config. Pure.

`POST /api/v1/load-test/patterns/start` carries
`{"job_config": {"queue": "test-queue", "payload": {"test": true}, "priority": 1}}`; the control
plane calls `job_request(body["job_config"])` and puts the result in the scenario's
`requests:` (settings.redis says where the queue lives). The mapping:

    queue      → redis.key (required)
    delay      → a delayed job: ZADD key, score = unix ms at enqueue + delay ("30s", or seconds);
                 without a delay (or 0): LPUSH key
    payload, priority, retry, timeout
               → the job pushed is one JSON document (the envelope queue libraries use):
                 {"id": "{{uuid}}", "iteration": "{{iteration}}", "enqueuedAt": "{{timestamp}}",
                  "payload": <payload>, "priority": 1, "retry": {...}, "timeout": "30s"}
                 (priority, retry and timeout only when given: they are the consumer's business)

Seed 004's guardrail `max_total_jobs` is `guardrails.maxTotalRequests` (config/guardrails.py
accepts both). Errors are ConfigError lines with `job_config.<field>` paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lunge_mp.units import parse_duration
from lunge_mp.config.errors import ConfigError, Errors, describe
from lunge_mp.config.fields import Fields

KEYS = ("queue", "payload", "priority", "delay", "retry", "timeout")


def job_request(job_config: object, path: str = "job_config") -> dict[str, Any]:
    """The request document (`{name, redis: {...}}`) for a seed-004 job_config; ConfigError
    names every wrong field."""
    errs = Errors()
    if not isinstance(job_config, Mapping):
        raise ConfigError([f"{path}: must be an object like {{\"queue\": \"jobs\", \"payload\": {{...}}}}, "
                           f"got {describe(job_config)}"])
    f = Fields(errs, job_config, path)
    f.check_keys(KEYS)
    queue = f.str("queue", required="required: the queue's Redis key, e.g. \"queue\": \"jobs\"",
                  nonempty=True)
    delay = f.duration("delay", 0.0)
    priority = f.number("priority")
    timeout = f.raw("timeout")
    if timeout is not None:
        try:
            parse_duration(timeout)
        except ValueError as e:
            f.error("timeout", str(e))
    retry = f.raw("retry")
    if retry is not None and not isinstance(retry, (Mapping, int)):
        f.error("retry", f"must be an object (e.g. {{\"max_attempts\": 3}}) or a number, got {describe(retry)}")
    errs.raise_if_any()
    job: dict[str, Any] = {"id": "{{uuid}}", "iteration": "{{iteration}}", "enqueuedAt": "{{timestamp}}",
                           "payload": f.raw("payload", {})}
    if priority is not None:
        job["priority"] = int(priority) if float(priority).is_integer() else priority
    if retry is not None:
        job["retry"] = retry
    if timeout is not None:
        job["timeout"] = timeout
    if delay and delay > 0:
        redis = {"command": "ZADD", "key": queue, "delay": delay, "payload": job}
    else:
        redis = {"command": "LPUSH", "key": queue, "payload": job}
    return {"name": f"enqueue {queue}", "redis": redis}
