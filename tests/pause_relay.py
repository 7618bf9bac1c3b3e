"""A TCP relay a test can cut and restore, in one direction or both, without closing any
connection (a test helper, not product code): what is sent a cut way waits, in the relay and
in the sockets' buffers, and goes on in order when the way is restored, as across a network
partition that TCP rides out. Threads in the test's own process; `close` ends them.

    relay = PauseRelay(("127.0.0.1", coordinator_port))      # connect to relay.port instead
    relay.cut(up=True, down=True) ... relay.restore()

`up` is what the connecting side (the worker) sends, `down` what it receives.
"""

from __future__ import annotations

import select
import socket
import threading

POLL_S = 0.05


class PauseRelay:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = {"up": threading.Event(), "down": threading.Event()}
        for way in self.open.values():
            way.set()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = [self.listener]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def cut(self, up: bool = True, down: bool = True) -> None:
        for name, cut in (("up", up), ("down", down)):
            if cut:
                self.open[name].clear()

    def restore(self) -> None:
        for way in self.open.values():
            way.set()

    def close(self) -> None:
        self._closing.set()
        self.restore()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                ready, _, _ = select.select([self.listener], [], [], POLL_S)
            except (OSError, ValueError):       # closed under it
                return
            if not ready:
                continue
            try:
                down, _ = self.listener.accept()
            except OSError:
                continue
            try:
                up = socket.create_connection(self.upstream, timeout=5)
            except OSError:         # nobody there yet: the connecting side tries again
                down.close()
                continue
            self._sockets += [down, up]
            for source, sink, way in ((down, up, "up"), (up, down, "down")):
                t = threading.Thread(target=self._pump, args=(source, sink, self.open[way]), daemon=True)
                self._threads.append(t)
                t.start()

    def _pump(self, source: socket.socket, sink: socket.socket, way: threading.Event) -> None:
        """One direction: while cut, nothing is read (nor written), so it waits where it is."""
        try:
            while not self._closing.is_set():
                if not way.wait(POLL_S):
                    continue
                ready, _, _ = select.select([source], [], [], POLL_S)
                if not ready:
                    continue
                chunk = source.recv(65536)
                if not chunk:
                    sink.shutdown(socket.SHUT_WR)
                    return
                while not way.wait(POLL_S):      # cut after the read: the chunk waits too
                    if self._closing.is_set():
                        return
                sink.sendall(chunk)
        except (OSError, ValueError):   # closed under it (`close`): ValueError from select on fd -1
            pass
