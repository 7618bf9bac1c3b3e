"""A tiny HTTP/1.1 server on 127.0.0.1 that keeps the raw bytes of every request it receives.

For tests that must see exactly what reached the wire (header injection, body encoding): no
HTTP library parses the request on the way in, so nothing is normalised or refused. Each
request is cut at its blank line and its Content-Length body, stored as (head bytes, body
bytes), and answered `200` with the body `bodies` holds for its path (default `ok`). Runs its
own event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import threading


class RawServer:
    def __init__(self) -> None:
        self.requests: list[tuple[bytes, bytes]] = []
        self.bodies: dict[bytes, bytes] = {}      # request path → response body
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip() or 0)
                body = await reader.readexactly(length) if length else b""
                self.requests.append((head, body))
                path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
                answer = self.bodies.get(path, b"ok")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(answer), answer))
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def start(self) -> RawServer:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop)
        self._server = fut.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
