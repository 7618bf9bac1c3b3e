"""aiohttp's timing breakdown (settings.timings: detailed, worker/aiohttp_timings.py) against
real servers on 127.0.0.1: a server's delay shows up in waiting, a big body in receiving, a
capped pool in blocked (and queued), a new connection in connecting, over https with the TLS
handshake inside connecting; without `detailed` nothing is measured."""

from __future__ import annotations

import asyncio
import ssl

from tests.integration.test_transports import (App, get, ok, run, self_signed, serve,  # noqa: F401
                                               transport)

DELAY_MS = 60


def _parts(out) -> int:
    return out.sending_us + out.waiting_us + out.receiving_us


def test_a_delay_is_waiting_and_the_parts_fit_in_the_duration():
    async def main():
        async with serve(App()) as base, transport("aiohttp", detailed=True) as t:
            first = ok(await t.send(get(f"{base}/delay/{DELAY_MS}")))
            # a new connection: blocked is the connect (no pool wait), connecting inside it
            assert 0 < first.connecting_us <= first.blocked_us < first.duration_us, first
            assert not first.queued
            for _ in range(3):
                out = ok(await t.send(get(f"{base}/delay/{DELAY_MS}")))
                assert out.blocked_us == out.connecting_us == 0      # reused: no wait
                assert (DELAY_MS - 2) * 1000 <= out.waiting_us <= out.duration_us, out
                assert out.sending_us == 0          # no body: nothing after the head is handed over
                assert out.receiving_us < 5_000, out
                # the parts cover the last hop; the duration adds aiohttp's own preparation
                assert _parts(out) <= out.duration_us < _parts(out) + 5_000, out
                assert out.tls_us == 0              # never measured with aiohttp
            big = ok(await t.send(get(f"{base}/big", timeout=30)))
            assert big.receiving_us > 0 and len(big.body) == 5 * 1024 * 1024
            assert _parts(big) <= big.duration_us
    run(main())


def test_a_request_body_is_sending():
    body = b"x" * (4 * 1024 * 1024)

    async def main():
        async with serve(App()) as base, transport("aiohttp", detailed=True) as t:
            out = ok(await t.send(get(f"{base}/echo", method="POST", body=body, timeout=30)))
            assert b'"length": 4194304' in out.body
            assert _parts(out) <= out.duration_us
            assert out.sending_us >= 0 and out.waiting_us > 0
    run(main())


def test_a_capped_pool_shows_as_blocked_and_queued():
    async def main():
        app = App()
        async with serve(app) as base, transport("aiohttp", max_connections_per_host=1,
                                                  detailed=True) as t:
            outs = await asyncio.gather(*[t.send(get(f"{base}/delay/{DELAY_MS}")) for _ in range(3)])
            for out in outs:
                ok(out)
            assert app.connections == 1
            queued = sorted((o for o in outs if o.queued), key=lambda o: o.blocked_us)
            # one request opened the connection; the other two waited for it, in turn
            assert len(queued) == 2, outs
            assert (DELAY_MS - 5) * 1000 <= queued[0].blocked_us, queued
            assert (2 * DELAY_MS - 5) * 1000 <= queued[1].blocked_us, queued
            for o in queued:    # the wait is before the request went out: not in waiting
                assert (DELAY_MS - 2) * 1000 <= o.waiting_us < o.duration_us - o.blocked_us, o
    run(main())


def test_without_detailed_nothing_is_measured():
    async def main():
        async with serve(App()) as base, transport("aiohttp", max_connections_per_host=1) as t:
            outs = await asyncio.gather(*[t.send(get(f"{base}/delay/5")) for _ in range(2)])
            for out in outs:
                ok(out)
                assert (out.blocked_us, out.connecting_us, out.queued, out.sending_us,
                        out.waiting_us, out.receiving_us) == (0, 0, False, 0, 0, 0)
    run(main())


def test_a_failed_connect_still_reports_its_wait():
    async def main():
        async with transport("aiohttp", detailed=True) as t:
            out = await t.send(get("http://127.0.0.1:9/", timeout=5))
            assert out.error_class == "connect", out
            assert (out.sending_us, out.waiting_us, out.receiving_us) == (0, 0, 0)
    run(main())


def test_tls_is_inside_connecting(self_signed):  # noqa: F811
    cert, key = self_signed
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def main():
        app = App()
        async with serve(app, ssl_context=server_ctx) as base:
            async with transport("aiohttp", insecure_skip_verify=True, detailed=True) as t:
                first = ok(await t.send(get(f"{base}/")))
                assert first.body == b"ok"
                assert 0 < first.connecting_us <= first.blocked_us, first
                assert first.tls_us == 0            # not told apart: inside connecting
                again = ok(await t.send(get(f"{base}/")))
                assert again.blocked_us == again.connecting_us == 0
                assert _parts(again) <= again.duration_us
                assert app.connections == 1
    run(main())
