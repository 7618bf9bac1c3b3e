"""The workers of a run with `--listen tcp://ADDR:PORT`: N remote ones that join over tcp
(CurveZMQ), beside M local ones spawned as usual (a WorkerPool on ipc://).

It stands where a WorkerPool stands in the Coordinator (same methods), so the run loop does not
care where a worker lives. Worker ids: local 0..M-1 (routing ids b"w0"...), remote M..M+N-1 in
the order they join. A remote worker picks its own random routing id (it keeps it when its tcp
connection is re-made, so a worker cut off for a while can rejoin) and names itself in Hello
(`--id` and its process number); `admit` decides whether it may take a place:

- only before the run starts (a late joiner is refused), only while a remote place is free,
- only under a name no other worker of the run has (a duplicate is refused),
- only with this coordinator's protocol version.

Refusals are said to the worker (a `Refused` message, its process exits with the reason) and
logged. Workers whose key is not authorized never get this far: the ZAP handler refuses them
(remote/security.py). Remote workers are not our child processes: one that is gone is noticed
by its connection (a send to it fails) or its silence (coordinator/health.py), never by an
exit code.
"""

from __future__ import annotations

import re

from lunge_mp.coordinator.pool import WorkerPool
from lunge_mp.protocol import messages as m
from lunge_mp.remote import security


HANDSHAKE_S = 10
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}")   # a worker's name and host: printable, short


class RemoteWorkers:
    def __init__(self, listen: str, remote: int, local: int = 0, wait_s: float = 60.0,
                 keys: security.ServerKeys | None = None) -> None:
        self.listen = listen
        self.remote = remote
        self.local = WorkerPool(local) if local else None
        self.count = local + remote
        self.handshake_timeout_s = wait_s
        self.keys = keys
        self.announce = None             # callback(text): joins and clocks, for the person watching
        self._ids: dict[bytes, int] = {}   # routing id → worker id
        self._routing: dict[int, bytes] = {}
        self.names: dict[int, str] = {}
        self._gate: security.KeyGate | None = None

    @property
    def endpoint(self) -> str:
        return self.listen

    # --- the socket ------------------------------------------------------------------------
    def bind(self, ctx, sock, on_refusal) -> None:
        """ipc:// for the local workers (no Curve: same machine), then tcp:// with Curve."""
        import zmq

        if self.local is not None:
            sock.bind(self.local.endpoint)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)   # a worker whose tcp connection was re-made keeps its id
        sock.setsockopt(zmq.HANDSHAKE_IVL, HANDSHAKE_S * 1000)   # a peer that connects and never
        # completes the ZMTP/Curve handshake (a port scan, garbage) is dropped after this
        self._gate = security.secure_server(ctx, sock, self.keys, on_refusal)
        security.allow_ipv6(sock, self.listen)
        sock.bind(self.listen)
        if self.announce is not None:
            how = "CurveZMQ" if self.keys is not None else "plaintext (--insecure, loopback only)"
            self.announce(f"listening on {self.listen} ({how}): waiting up to {self.handshake_timeout_s:g}s "
                          f"for {self.remote} remote worker process(es)")

    def unbind(self) -> None:
        """Before the context ends: the ZAP handler's socket is closed."""
        if self._gate is not None:
            self._gate.stop()
            self._gate = None

    # --- who is who ------------------------------------------------------------------------
    def identity(self, worker: int) -> bytes:
        if self.local is not None and worker < self.local.count:
            return self.local.identity(worker)
        return self._routing.get(worker, b"")

    def worker_of(self, identity: bytes) -> int | None:
        if identity in self._ids:
            return self._ids[identity]
        if self.local is not None:
            return self.local.worker_of(identity)
        return None

    def is_remote(self, worker: int) -> bool:
        return self.local is None or worker >= self.local.count

    def refusal(self, hello: m.Hello, started: bool) -> str | None:
        """Why this Hello from a new peer may not join, or None."""
        if hello.protocol != m.PROTOCOL_VERSION:
            return (f"it speaks protocol {hello.protocol}, this coordinator {m.PROTOCOL_VERSION}: "
                    f"run the same lunge-mp version on every machine")
        if started:
            return "the run has already started: workers join only before the start"
        if len(self._ids) >= self.remote:
            return f"all {self.remote} remote worker places are taken (--remote-workers {self.remote})"
        if not hello.name:
            return "it gave no name (lunge-mp worker sets one from --id)"
        if not NAME.fullmatch(hello.name) or (hello.host and not NAME.fullmatch(hello.host)):
            return ("its name or host name is not 1-100 letters, digits and . _ - / : @ "
                    "(give it another --id)")
        if hello.name in self.names.values():
            return f"another worker named {hello.name!r} has already joined: give each machine its own --id"
        return None

    def admit(self, identity: bytes, name: str) -> int:
        worker = (self.local.count if self.local is not None else 0) + len(self._ids)
        self._ids[identity] = worker
        self._routing[worker] = identity
        self.names[worker] = name
        return worker

    def joined(self) -> int:
        return len(self._ids)

    # --- processes (only the local ones are ours) ------------------------------------------
    def spawn(self) -> None:
        if self.local is not None:
            self.local.spawn()

    def pid(self, worker: int) -> int:
        return self.local.pid(worker) if not self.is_remote(worker) else 0

    def exited(self, worker: int) -> int | None:
        return self.local.exited(worker) if not self.is_remote(worker) else None

    def exit_code_soon(self, worker: int, wait_s: float = 0.1) -> int | None:
        return self.local.exit_code_soon(worker, wait_s) if not self.is_remote(worker) else None

    def stop(self, grace_s: float = 3.0) -> None:
        self.unbind()
        if self.local is not None:
            self.local.stop(grace_s)
