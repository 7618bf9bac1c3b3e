"""Which HTTP client a worker uses: `settings.transport: auto | fast | aiohttp`.

`fast` (lunge_mp/worker/fast_transport.py) is a lean HTTP/1.1 keep-alive client on uvloop
with httptools, several times cheaper per request than aiohttp. It does not follow
redirects or keep cookies, use proxies or decompress bodies. `aiohttp` does all of those.
`auto` picks `fast` unless the plan needs something only aiohttp offers; today no config
key asks for such a feature, so `auto` is `fast`. The choice is reported in results.json.
"""

from __future__ import annotations

from lunge_mp.plan import Plan
from lunge_mp.worker.fast_transport import FastTransport
from lunge_mp.worker.transport import AiohttpTransport, Transport


def chosen(plan: Plan) -> str:
    """The transport name the workers will use for this plan."""
    wanted = plan.settings.transport
    return "fast" if wanted == "auto" else wanted


def make(plan: Plan, max_connections: int) -> Transport:
    s = plan.settings
    cls = FastTransport if chosen(plan) == "fast" else AiohttpTransport
    return cls(max_connections, s.keepalive, s.insecure_skip_verify)
