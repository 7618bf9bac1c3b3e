"""maxConnectionsPerHost: 0 is no limit, for both transports and through the worker's share."""

from __future__ import annotations

import asyncio

from tests.integration.test_transports import App, get, kind, ok, run, serve, transport  # noqa: F401


def test_zero_connections_per_host_is_no_limit(kind):
    async def main():
        app = App()
        async with serve(app) as base, transport(kind, max_connections_per_host=0) as t:
            outs = await asyncio.gather(*[t.send(get(f"{base}/delay/100")) for _ in range(12)])
            for out in outs:
                ok(out)
            assert app.max_in_flight == 12
            assert app.connections == 12
    run(main())
