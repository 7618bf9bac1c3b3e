"""A private `redis-server` (Debian package redis-server) for the demo, the tests and the bench.

`start_redis()` starts one on 127.0.0.1 on a free port, in a temporary directory, with no
persistence (nothing written but its log), waits until it answers PING, and stops it by its
PID. `cpu` pins it to one core (the benchmark's anchor runs against a pinned server).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from collections.abc import Iterator

MISSING = "redis-server is not installed (Debian: apt-get install redis-server redis-tools)"


def available() -> bool:
    return shutil.which("redis-server") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, port: int, password: str | None, cpu: int | None, workdir: str) -> None:
        self.port = port
        self.password = password
        self.cpu = cpu
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 10.0) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.workdir, "--logfile", os.path.join(self.workdir, "redis.log"),
                "--daemonize", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        if self.cpu is not None and shutil.which("taskset"):
            args = ["taskset", "-c", str(self.cpu)] + args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.workdir}/redis.log")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout:g}s")
            time.sleep(0.02)

    def command(self, *args: str | bytes) -> object:
        """One command over a fresh connection (for tests' checks): the decoded reply."""
        import hiredis
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            reader = hiredis.Reader()
            cmds = ([("AUTH", self.password)] if self.password else []) + [args]
            for cmd in cmds:
                parts = [a if isinstance(a, bytes) else str(a).encode() for a in cmd]
                s.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
                reply = False
                while reply is False:
                    data = s.recv(1 << 20)
                    if not data:
                        raise ConnectionError("redis-server closed the connection")
                    reader.feed(data)
                    reply = reader.gets()
            return reply

    def ping(self) -> bool:
        try:
            return self.command("PING") in (b"PONG", "PONG")
        except (OSError, ConnectionError):
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL (a crash): in-flight commands see their connection drop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@contextmanager
def start_redis(port: int = 0, password: str | None = None, cpu: int | None = None) -> Iterator[RedisServer]:
    if not available():
        raise RuntimeError(MISSING)
    with tempfile.TemporaryDirectory(prefix="lunge-redis-") as workdir:
        server = RedisServer(port or free_port(), password, cpu, workdir)
        server.start()
        try:
            yield server
        finally:
            server.stop()
