"""The delaying relay the network-namespace tests use where the kernel has no netem
(tests/delay_relay.py), on loopback: every byte arrives, in order, each way held at least
DELAY − JITTER; a half-close is passed on; the relay leaves when its stdin closes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.delay_relay import release_at

RELAY = Path(__file__).resolve().parents[1] / "delay_relay.py"


def test_a_chunk_is_released_after_its_delay_but_never_before_the_one_before_it():
    assert release_at(arrived=1.0, previous=0.0, delay=0.02) == pytest.approx(1.02)
    assert release_at(arrived=1.0, previous=1.03, delay=0.015) == 1.03     # order kept


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()      # the client's half-close comes back as our close


def test_the_relay_delays_each_way_keeps_order_and_passes_the_close_on():
    async def scenario() -> None:
        echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
        echo_port = echo.sockets[0].getsockname()[1]
        relay = subprocess.Popen(
            [sys.executable, str(RELAY), "--delay-ms", "20", "--jitter-ms", "5",
             f"0=127.0.0.1:{echo_port}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = await asyncio.wait_for(asyncio.to_thread(relay.stdout.readline), 30)
            assert ready.startswith("ready "), (ready, relay.stderr.read() if relay.poll() is not None else "")
            port = int(ready.split()[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            rtts = []
            for i in range(20):                     # small messages, one at a time: round trips
                sent = time.monotonic()
                writer.write(b"%04d" % i)
                assert await asyncio.wait_for(reader.readexactly(4), 30) == b"%04d" % i
                rtts.append(time.monotonic() - sent)
            assert min(rtts) >= 2 * 0.015 - 0.001, rtts          # 20 ms − 5 ms each way, at least
            bulk = bytes(range(256)) * 4096                         # 1 MiB in many chunks, in order
            writer.write(bulk)
            writer.write_eof()
            back = await asyncio.wait_for(reader.read(-1), 60)      # until the echo's close arrives
            assert back == bulk
            writer.close()
        finally:
            relay.stdin.close()                     # the relay leaves when its stdin closes
            try:
                relay.wait(timeout=30)
            finally:
                if relay.poll() is None:
                    relay.kill()
                    relay.wait(timeout=10)
                err = relay.stderr.read()
                relay.stdout.close()
                relay.stderr.close()
            echo.close()
        assert relay.returncode == 0, err

    asyncio.run(scenario())
