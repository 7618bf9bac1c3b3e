"""The workers of a run with `--listen tcp://ADDR:PORT`: N remote ones that join over tcp
(CurveZMQ), beside M local ones spawned as usual (a WorkerPool on ipc://).

It stands where a WorkerPool stands in the run loop (coordinator/run.py; same methods): it
binds the socket (ipc:// for the local workers, then tcp:// with Curve and the ZAP handler:
remote/security.py), tells the core how many workers join remotely and how long to wait for
them (`core_options`; who may join is the core's decision: admission.py), and shows the
person watching who joined (`note`). Remote workers are not our child processes: one that is
gone is noticed by its connection (a send to it fails) or its silence, never by an exit code.
"""

from __future__ import annotations

from lunge_mp.coordinator.pool import WorkerPool
from lunge_mp.limits import DATA_FILE_BYTES
from lunge_mp.remote import security

HANDSHAKE_S = 10     # a peer that connects and never completes the ZMTP/Curve handshake is dropped


class RemoteWorkers:
    def __init__(self, listen: str, remote: int, local: int = 0, wait_s: float = 60.0,
                 keys: security.ServerKeys | None = None) -> None:
        self.listen = listen
        self.remote = remote
        self.local = WorkerPool(local) if local else None
        self.count = local + remote
        self.wait_s = wait_s
        self.keys = keys
        self.announce = None             # callback(text): joins and clocks, for the person watching
        self._gate: security.KeyGate | None = None

    @property
    def endpoint(self) -> str:
        return self.listen

    def core_options(self, plan) -> dict:
        """RunCore's: the last `remote` workers join over tcp within `wait_s`; the plan's data
        files go to them in Start (they may not have them)."""
        return {"remote": self.remote, "wait_s": self.wait_s, "data_files": data_files(plan),
                "local_ids": self.local.identities() if self.local is not None else []}

    # --- the socket ------------------------------------------------------------------------
    def bind(self, ctx, sock, on_refusal) -> None:
        """ipc:// for the local workers (no Curve: same machine), then tcp:// with Curve."""
        import zmq

        if self.local is not None:
            sock.bind(self.local.endpoint)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)   # a worker whose tcp connection was re-made keeps its id
        sock.setsockopt(zmq.HANDSHAKE_IVL, HANDSHAKE_S * 1000)
        self._gate = security.secure_server(ctx, sock, self.keys, on_refusal)
        security.allow_ipv6(sock, self.listen)
        sock.bind(self.listen)
        how = "CurveZMQ" if self.keys is not None else "plaintext (--insecure, loopback only)"
        self.note(f"listening on {self.listen} ({how}): waiting up to {self.wait_s:g}s "
                  f"for {self.remote} remote worker process(es)")

    def unbind(self) -> None:
        """Before the context ends: the ZAP handler's socket is closed."""
        if self._gate is not None:
            self._gate.stop()
            self._gate = None

    def note(self, text: str) -> None:
        if self.announce is not None:
            self.announce(text)

    # --- processes (only the local ones are ours) ------------------------------------------
    def _local(self, worker: int) -> bool:
        return self.local is not None and worker < self.local.count

    def spawn(self) -> None:
        if self.local is not None:
            self.local.spawn()

    def pid(self, worker: int) -> int:
        return self.local.pid(worker) if self._local(worker) else 0

    def exited(self, worker: int) -> int | None:
        return self.local.exited(worker) if self._local(worker) else None

    def exit_code_soon(self, worker: int, wait_s: float = 0.1) -> int | None:
        return self.local.exit_code_soon(worker, wait_s) if self._local(worker) else None

    def stop(self, grace_s: float = 3.0) -> None:
        self.unbind()
        if self.local is not None:
            self.local.stop(grace_s)


def data_files(plan) -> dict[str, bytes]:
    """The plan's data files (path → contents), read once for every remote worker's Start."""
    out: dict[str, bytes] = {}
    for source in list(plan.data) + [d for s in plan.scenarios for d in s.data]:
        path = source.path or source.file
        if path not in out:
            with open(path, "rb") as f:
                out[path] = f.read(DATA_FILE_BYTES + 1)
    return out
