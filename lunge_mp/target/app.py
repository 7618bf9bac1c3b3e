"""The embedded target's per-process state: counters, this worker's identity, and its siblings
(a multi-worker target answers `/__stats` and `/__reset` for all of them over unix sockets)."""

from __future__ import annotations

import asyncio
import os
import time
import msgspec

from lunge_mp.target.stats import Stats, merge_snapshots

CONTROL_TIMEOUT = 3.0         # seconds to wait for a sibling worker's answer

_json_encode = msgspec.json.encode
_json_decode = msgspec.json.decode


class App:
    """One target process: its counters, its request ids, and how to reach its siblings."""

    def __init__(self, index: int = 0, nworkers: int = 1, control_dir: str | None = None,
                 since: float | None = None) -> None:
        self.index = index
        self.nworkers = nworkers
        self.control_dir = control_dir
        self.stats = Stats(since)
        self.request_id = 0
        self.connections: set[asyncio.Protocol] = set()    # the open ones (server.HttpProtocol)

    @property
    def multi(self) -> bool:
        return self.nworkers > 1 and self.control_dir is not None

    def next_request_id(self) -> int:
        # Unique across workers: worker i hands out i, i+N, i+2N, ...
        self.request_id += 1
        return self.request_id * self.nworkers + self.index

    def control_path(self, i: int) -> str:
        return os.path.join(self.control_dir, f"w{i}.sock")

    def stats_body(self) -> bytes:
        return _json_encode(merge_snapshots([self.stats.snapshot()]))

    async def _ask(self, i: int, command: bytes) -> bytes | None:
        writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(self.control_path(i)), CONTROL_TIMEOUT)
            writer.write(command + b"\n")
            return await asyncio.wait_for(reader.readline(), CONTROL_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            return None
        finally:
            if writer is not None:
                writer.close()

    async def gather_stats_body(self) -> bytes:
        others = [i for i in range(self.nworkers) if i != self.index]
        answers = await asyncio.gather(*(self._ask(i, b"S") for i in others))
        snaps = [self.stats.snapshot()]
        for a in answers:
            if a:
                snaps.append(_json_decode(a))
        return _json_encode(merge_snapshots(snaps))

    async def broadcast_reset(self) -> None:
        since = time.time()
        self.stats.reset(since)
        others = [i for i in range(self.nworkers) if i != self.index]
        await asyncio.gather(*(self._ask(i, b"R %r" % since) for i in others))

    async def handle_control(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                cmd = line.split()
                if not cmd:
                    continue
                if cmd[0] == b"S":
                    writer.write(_json_encode(self.stats.snapshot()) + b"\n")
                elif cmd[0] == b"R":
                    self.stats.reset(float(cmd[1]) if len(cmd) > 1 else None)
                    writer.write(b"OK\n")
                else:
                    writer.write(b"ERR\n")
                await writer.drain()
        except (OSError, ValueError):
            pass
        finally:
            writer.close()
