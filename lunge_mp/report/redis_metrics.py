"""The `redis_*` metrics of results.json: the Redis commands of a run on their own. Pure.

Redis commands are requests of the run: they count in `http_reqs`, `http_req_failed`,
`http_req_duration` and `http_req_response_time` like every request (the engine's request
metrics; so every summary, per-second bucket, chart, windowed threshold and guardrail sees
them), and every block that covers at least one Redis request also gets

    redis_cmds               {count, rate}                      commands sent (and attempted)
    redis_cmd_failed         {count, rate, byClass, firstError} failed ones (class: connect,
                                                                timeout, oom, readonly, wrongtype,
                                                                noauth, reset, template, other)
    redis_cmd_duration       service time summary (ms)          write → reply
    redis_cmd_response_time  response time summary (ms)         from the scheduled instant

over the Redis commands alone (k6's xk6-redis defines no metrics; these follow k6's http_*
pattern, so a mixed HTTP + queue test can hold each to its own threshold). As in
`http_req_failed`, the load generator's own failures (class generator) are left out of
`redis_cmd_failed`. Which requests are Redis ones: `Aggregate.redis_requests`, set by the
coordinator from the plan.
"""

from __future__ import annotations

from lunge_mp.metrics import hdr
from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.names import GENERATOR_FAILURE, HTTP_REQ_DURATION, HTTP_REQ_RESPONSE_TIME

METRICS = ("redis_cmds", "redis_cmd_failed", "redis_cmd_duration", "redis_cmd_response_time")


def redis_request_keys(plan) -> frozenset[tuple[str, str]]:
    """(scenario, request) of every `redis:` request (of a worker plan: warmup copies included)."""
    return frozenset((s.name, r.name) for s in plan.scenarios for r in s.requests if r.redis is not None)


def add_redis_blocks(block: dict, agg: Aggregate, seconds: float, scenario: str | None = None,
                     request: str | None = None) -> None:
    wanted = getattr(agg, "redis_requests", frozenset())
    if not wanted:
        return
    keys = [(s, r) for s, r in agg.request_keys() if (s, r) in wanted
            and (scenario is None or s == scenario) and (request is None or r == request)]
    if not keys:
        return
    requests = failures = 0
    errors: dict[str, int] = {}
    first: dict[str, str] = {}
    duration, response = hdr.new_histogram(), hdr.new_histogram()
    for s, r in keys:
        c = agg.counters(scenario=s, request=r)
        requests += c["requests"]
        failures += c["failures"]
        for cls, n in c["errors"].items():
            errors[cls] = errors.get(cls, 0) + n
        for cls, msg in c["first_error"].items():
            first.setdefault(cls, msg)
        hdr.merge(duration, agg.histogram(HTTP_REQ_DURATION, s, r))
        hdr.merge(response, agg.histogram(HTTP_REQ_RESPONSE_TIME, s, r))
    generator = errors.pop(GENERATOR_FAILURE, 0)
    first.pop(GENERATOR_FAILURE, None)
    failures = max(0, failures - generator)
    block["redis_cmds"] = {"count": requests, "rate": round(requests / seconds, 3) if seconds > 0 else 0.0}
    block["redis_cmd_failed"] = {"count": failures, "rate": round(failures / requests, 6) if requests else 0.0,
                                 "byClass": dict(sorted(errors.items())), "firstError": dict(sorted(first.items()))}
    block["redis_cmd_duration"] = hdr.summarize_ms(duration)
    block["redis_cmd_response_time"] = hdr.summarize_ms(response)
