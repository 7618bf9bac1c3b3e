"""A delaying TCP relay for the network-namespace tests on kernels without netem (a test
helper, not product code): it listens on 127.0.0.1 inside a worker's namespace and forwards
each connection to an address outside, holding every chunk it reads for DELAY ± JITTER ms
(uniform, drawn per chunk) in each direction. A chunk is released no earlier than the one
before it, so each stream keeps its order (netem, delaying packets, may reorder them).

    python tests/delay_relay.py --delay-ms 20 --jitter-ms 5 7000=10.231.0.1:5555 8000=10.231.0.1:8080

prints "ready" and its ports once every one listens, and runs until its stdin closes (so it
never outlives the test that started it) or it is killed. A half-close is passed on after the
chunks before it; a reset or a failed connect on one side aborts the other, as a broken path
would.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys

CHUNK = 65536
QUEUED = 256        # chunks held per direction before the reader waits (flow control)


def release_at(arrived: float, previous: float, delay: float) -> float:
    """When a chunk read at `arrived` goes out: after its own delay, never before the chunk
    before it (released at `previous`), so the stream keeps its order."""
    return max(arrived + delay, previous)


class Relay:
    def __init__(self, delay_s: float, jitter_s: float, rng: random.Random | None = None) -> None:
        self.delay_s, self.jitter_s = delay_s, jitter_s
        self.rng = rng or random.Random()

    def delay(self) -> float:
        return self.rng.uniform(self.delay_s - self.jitter_s, self.delay_s + self.jitter_s)

    async def take(self, reader: asyncio.StreamReader, queue: asyncio.Queue) -> None:
        """Read one direction's chunks and stamp each with its release time; then the EOF."""
        loop = asyncio.get_running_loop()
        previous = 0.0
        while chunk := await reader.read(CHUNK):
            previous = release_at(loop.time(), previous, self.delay())
            await queue.put((previous, chunk))
        await queue.put((release_at(loop.time(), previous, self.delay()), None))

    @staticmethod
    async def release(queue: asyncio.Queue, writer: asyncio.StreamWriter) -> None:
        """Write each chunk at its time, then pass the EOF on (a half-close)."""
        loop = asyncio.get_running_loop()
        while True:
            due, chunk = await queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if chunk is None:
                if writer.can_write_eof() and not writer.is_closing():
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()

    async def serve(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter,
                    upstream: tuple[str, int]) -> None:
        """One connection: both directions until both have ended; an error in either ends
        all four tasks (a reader waiting on a full queue too) and aborts both sockets."""
        try:
            up_r, up_w = await asyncio.open_connection(*upstream)
        except OSError:
            down_w.transport.abort()
            return
        ended = False
        try:
            async with asyncio.TaskGroup() as group:
                for reader, writer in ((down_r, up_w), (up_r, down_w)):
                    queue: asyncio.Queue = asyncio.Queue(QUEUED)
                    group.create_task(self.take(reader, queue))
                    group.create_task(self.release(queue, writer))
            ended = True
        except* OSError:
            pass
        finally:
            for w in (down_w, up_w):
                if ended:
                    w.close()               # still sends what is buffered
                else:
                    w.transport.abort()


def parse_route(text: str) -> tuple[int, tuple[str, int]]:
    """'7000=10.231.0.1:5555' → (7000, ('10.231.0.1', 5555))."""
    port, _, to = text.partition("=")
    host, _, to_port = to.rpartition(":")
    if not (port.isdigit() and host and to_port.isdigit() and int(port) < 65536 and int(to_port) < 65536):
        raise argparse.ArgumentTypeError(f"{text!r}: expected LISTEN_PORT=HOST:PORT")
    return int(port), (host, int(to_port))


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--jitter-ms", type=float, default=5.0)
    parser.add_argument("--listen", default="127.0.0.1", help="the address to listen on")
    parser.add_argument("routes", nargs="+", type=parse_route, metavar="LISTEN_PORT=HOST:PORT")
    args = parser.parse_args(argv)
    relay = Relay(args.delay_ms / 1000, args.jitter_ms / 1000)
    servers = [await asyncio.start_server(lambda r, w, to=to: relay.serve(r, w, to), args.listen, port)
               for port, to in args.routes]
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    print("ready", *ports, flush=True)      # the ports listened on (a route may ask for port 0)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)    # until stdin closes
    for server in servers:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
