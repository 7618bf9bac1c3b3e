"""Which HTTP client a worker uses: `settings.transport: auto | fast | aiohttp`.

`fast` (lunge_mp/worker/fast_transport.py) is a lean HTTP/1.1 keep-alive client on uvloop
with httptools, several times cheaper per request than aiohttp. Both follow redirects
(fast_transport.py's docstring says how; a PUT, PATCH or DELETE redirected by 301/302 becomes
a GET with `fast`, as in k6, and stays itself with aiohttp). `fast` does not decompress
bodies; `aiohttp` does.
Neither keeps cookies (the VU does: scenario/cookies.py) or uses a proxy.
`auto` picks `fast` unless the plan needs something only aiohttp offers; today no config
key asks for such a feature, so `auto` is `fast`. The choice is reported in results.json.
`settings.connections: perVU` (one keep-alive connection per VU and host) is a `fast` feature:
the config refuses it with `transport: aiohttp`, whose one ClientSession is shared by the VUs.
"""

from __future__ import annotations

from lunge_mp.plan import Plan, RedisSettings
from lunge_mp.worker.fast_transport import FastTransport
from lunge_mp.worker.transport import AiohttpTransport, Transport


def chosen(plan: Plan) -> str:
    """The transport name the workers will use for this plan."""
    wanted = plan.settings.transport
    return "fast" if wanted == "auto" else wanted


def described(plan: Plan) -> str:
    """The transports in words, for the start banner: `fast`, `fast + redis`, or `redis`."""
    kinds = {r.redis is not None for s in plan.scenarios for r in s.requests}
    if kinds == {True}:
        return "redis"
    return chosen(plan) + (" + redis" if True in kinds else "")


def make(plan: Plan, max_connections: int) -> Transport:
    s = plan.settings
    if chosen(plan) == "fast":
        return FastTransport(max_connections, s.keepalive, s.insecure_skip_verify,
                             per_vu=s.connections == "perVU", detailed=s.timings == "detailed")
    # the config refuses connections: perVU with transport: aiohttp
    return AiohttpTransport(max_connections, s.keepalive, s.insecure_skip_verify,
                            detailed=s.timings == "detailed")


def make_redis(plan: Plan, workers: int) -> Transport | None:
    """The Redis transport, when the plan has `redis:` requests: each worker holds its share of
    settings.redis.poolSize, ⌈poolSize ÷ workers⌉ connections (loaded only when needed)."""
    if not any(r.redis is not None for s in plan.scenarios for r in s.requests):
        return None
    from lunge_mp.worker.redis_transport import RedisTransport
    settings = plan.settings.redis or RedisSettings()
    return RedisTransport(settings, max(1, -(-settings.pool_size // max(1, workers))))
