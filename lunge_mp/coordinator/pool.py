"""Worker processes: spawn them, watch them, and make sure none outlives the run."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time

from lunge_mp.coordinator import forking
from lunge_mp.protocol import routing


_DIR_PREFIX = "lunge-mp-"


def _remove_stale_dirs() -> None:
    """Socket folders left by coordinators that were killed (their pid is gone)."""
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        if not name.startswith(_DIR_PREFIX):
            continue
        pid = name[len(_DIR_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        path = os.path.join(tmp, name)
        try:
            for entry in os.listdir(path):
                os.unlink(os.path.join(path, entry))
            os.rmdir(path)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerPool:
    """N `python -m lunge_mp.worker` processes connected to one ipc:// endpoint."""

    def __init__(self, count: int) -> None:
        self.count = count
        _remove_stale_dirs()
        self._dir = tempfile.mkdtemp(prefix=f"{_DIR_PREFIX}{os.getpid()}-")
        # a name no one else can predict: the workers' routing ids derive from it (protocol/routing.py)
        self.endpoint = f"ipc://{self._dir}/{secrets.token_hex(8)}.sock"
        self.procs: list = []      # subprocess.Popen, or forking.ForkedWorker (the same calls)

    # --- what the run loop asks of any pool (RemoteWorkers has the same: remote_pool.py) ---
    def core_options(self, plan) -> dict:
        """RunCore's options for these workers: their routing ids."""
        return {"local_ids": self.identities()}

    def identities(self) -> list[bytes]:
        return [routing.local_identity(self.endpoint, i) for i in range(self.count)]

    def bind(self, ctx, sock, on_refusal) -> None:
        sock.bind(self.endpoint)

    def unbind(self) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def spawn(self) -> None:
        if self.procs:          # started early (coordinator/prestart.py)
            return
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        for i in range(self.count):
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "lunge_mp.worker", "--connect", self.endpoint,
                 "--parent", str(os.getpid()), "--id", str(i)],
                stdin=subprocess.DEVNULL, env=env,
            ))

    def fork(self, worker_main: forking.WorkerMain) -> None:
        """The workers as forks of this process running `worker_main(endpoint, id, parent)`
        (coordinator/forking.py: prestart only)."""
        self.procs = [forking.fork_worker(self.endpoint, i, worker_main) for i in range(self.count)]

    def pid(self, worker: int) -> int:
        return self.procs[worker].pid

    def exited(self, worker: int) -> int | None:
        """The exit code of a worker that has ended, else None."""
        return self.procs[worker].poll()

    def exit_code_soon(self, worker: int, wait_s: float = 0.1) -> int | None:
        """The exit code of a worker that is ending (e.g. just disconnected), waiting briefly."""
        try:
            return self.procs[worker].wait(timeout=wait_s)
        except (subprocess.TimeoutExpired, IndexError):
            return None

    def stop(self, grace_s: float = 3.0) -> None:
        """Wait up to `grace_s` for workers to leave by themselves, then TERM, then KILL."""
        deadline = time.monotonic() + grace_s
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            alive = [p for p in self.procs if p.poll() is None]
            for proc in alive:
                try:
                    proc.send_signal(sig)
                except ProcessLookupError:
                    pass
            for proc in alive:
                try:
                    proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    pass
        try:
            for name in os.listdir(self._dir):
                os.unlink(os.path.join(self._dir, name))
            os.rmdir(self._dir)
        except OSError:
            pass
