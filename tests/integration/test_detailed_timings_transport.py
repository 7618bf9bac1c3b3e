"""The fast transport's detailed timings (settings.timings: detailed) against real servers on
127.0.0.1: sending + waiting + receiving make up the service time, waiting is the server's
delay, and over https the TLS handshake is timed apart from the TCP connect."""

from __future__ import annotations

import ssl

from tests.integration.test_transports import (App, get, ok, run, self_signed, serve,  # noqa: F401
                                               transport)

DELAY_MS = 50


def _parts_sum(out) -> int:
    return out.sending_us + out.waiting_us + out.receiving_us


def test_phases_split_the_service_time():
    async def main():
        async with serve(App()) as base, transport("fast", detailed=True) as t:
            for _ in range(3):
                out = ok(await t.send(get(f"{base}/delay/{DELAY_MS}")))
                assert abs(_parts_sum(out) - out.duration_us) <= 3, out    # per-part rounding
                assert (DELAY_MS - 2) * 1000 <= out.waiting_us <= out.duration_us
                assert out.sending_us < 5_000 and out.receiving_us < 5_000, out
                assert out.tls_us == 0                  # plain http
            big = ok(await t.send(get(f"{base}/big", timeout=30)))
            assert abs(_parts_sum(big) - big.duration_us) <= 3, big
            assert big.receiving_us > 0                 # 5 MB arrive in many reads
    run(main())


def test_without_detailed_no_phases_are_measured():
    async def main():
        async with serve(App()) as base, transport("fast") as t:
            out = ok(await t.send(get(f"{base}/delay/1")))
            assert (out.sending_us, out.waiting_us, out.receiving_us, out.tls_us) == (0, 0, 0, 0)
    run(main())


def test_tls_handshake_is_timed_apart_from_connecting(self_signed):  # noqa: F811
    cert, key = self_signed
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def main():
        app = App()
        async with serve(app, ssl_context=server_ctx) as base:
            async with transport("fast", insecure_skip_verify=True, detailed=True) as t:
                first = ok(await t.send(get(f"{base}/")))
                assert first.body == b"ok"
                assert 0 < first.tls_us <= first.connecting_us <= first.blocked_us, first
                again = ok(await t.send(get(f"{base}/")))     # reused: no handshake
                assert again.tls_us == 0 and again.blocked_us == 0
                assert abs(_parts_sum(again) - again.duration_us) <= 3
                assert app.connections == 1
            async with transport("fast", insecure_skip_verify=False, detailed=True) as t:
                out = await t.send(get(f"{base}/"))
                assert out.error_class == "tls", out    # still verified in two steps
    run(main())
