"""The fast transport times what happens before a request goes out (issue 12): opening a
connection (connecting_us), waiting for one at maxConnectionsPerHost (queued), both in blocked_us."""

from __future__ import annotations

import asyncio

from tests.integration.test_transports import App, get, ok, run, serve, transport


def test_a_request_that_waits_for_the_only_connection_says_so():
    async def main():
        app = App()
        async with serve(app) as base, transport("fast", max_connections_per_host=1) as t:
            first, second = await asyncio.gather(t.send(get(f"{base}/delay/100")),
                                                 t.send(get(f"{base}/delay/100")))
            ok(first), ok(second)
            assert first.connecting_us > 0 and first.blocked_us >= first.connecting_us
            assert not first.queued
            assert second.queued and second.blocked_us > 60_000   # it waited for the first one
            assert second.connecting_us == 0                       # and reused its connection
            reused = await t.send(get(f"{base}/delay/1"))
            ok(reused)
            assert (reused.blocked_us, reused.connecting_us, reused.queued) == (0, 0, False)
    run(main())


def test_without_a_cap_nobody_queues():
    async def main():
        app = App()
        async with serve(app) as base, transport("fast", max_connections_per_host=0) as t:
            outs = await asyncio.gather(*[t.send(get(f"{base}/delay/50")) for _ in range(8)])
            for out in outs:
                ok(out)
                assert not out.queued and out.connecting_us > 0
    run(main())
