"""A fork server for the coordinators of API-started tests (api/child.py).

A test's coordinator runs in a process of its own. Spawned fresh (`python -m
lunge_mp.api.child`), each one is an interpreter plus its imports: ~29 MB private per test,
so 10 tests cost ~300 MB. Instead `serve` spawns one helper, the fork server, which imports
what a coordinator needs (not aiohttp or plotly), calls `gc.freeze()` so that reference
counts and the collector do not write to the imported objects' pages, and then forks one
child per test. The children share those pages copy-on-write. Before the first fork it fills
the allocators' free space among its objects (api/prefork.py), so that a child's new objects
land in fresh pages rather than in copies of its.

The fork server is spawned, not forked from the server: the server has an event loop,
threads and ZeroMQ-free but aiohttp-full memory by the time a test starts, and a fresh
process has none of that (and the same code works under the test suite's own process).

The wire: a Unix SOCK_SEQPACKET socketpair (one message a packet, so file descriptors
travel with the request that names them):
  server → fork server   `fork` with two descriptors (SCM_RIGHTS): the child's stdin (the
                         read end of a pipe) and stdout (the write end of another);
                         `kill PID SIG` (only to a child it has not reaped: no stray pid)
  fork server → server   `ready` once imported; `forked PID` per fork, in order;
                         `exit PID CODE` when it reaps a child (CODE < 0: killed by -CODE)
The server makes the pipes and sends their child ends: it holds its own ends from the
start, so nothing leaks if the fork server dies mid-request, and the fork server only has
to close what it received. The child's contract is the spawned one's (api/child.py): stdin
and stdout pipes to the server, its title `python -m lunge_mp.api.child SERVER_PID`, SIGTERM
and SIGINT its own, end of file on stdin stops the run, its exit status reported.

Dying with the server: the fork server has PR_SET_PDEATHSIG SIGKILL tied to the server
(and leaves at end of file on its socket); each child stops at end of file on stdin, whose
only writer is the server. So when the server dies, the fork server dies, and each child
stops its run as on Ctrl-C and writes its results; its workers watch it as always. A child
is not tied to the fork server: a fork server lost while the server lives (killed, out of
memory) leaves the running tests going (their exit status unknown: 1), and the next test
gets a new fork server.

Elsewhere than Linux, or with LUNGE_MP_FORK_SERVER=0, or when the fork server cannot be
started, each test's coordinator is spawned as before (api/relay.py).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import selectors
import signal
import socket
import sys
import traceback
from typing import NoReturn

START_TIMEOUT_S = 60.0      # the fork server's imports (~0.3 s; more on a busy box)
PACKET = 256


def usable() -> bool:
    """Fork coordinators here: Linux, unless LUNGE_MP_FORK_SERVER=0."""
    return sys.platform == "linux" and os.environ.get("LUNGE_MP_FORK_SERVER", "1") != "0"


# --- the server's side ---------------------------------------------------------------------
class ForkedChild:
    """A forked coordinator: the part of asyncio.subprocess.Process the relay uses."""

    def __init__(self, pid: int, forks: ForkServer) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self._forks = forks
        self._exited = asyncio.Event()

    async def connect(self, stdin_w: int, stdout_r: int, limit: int) -> None:
        loop = asyncio.get_running_loop()
        self.stdout = asyncio.StreamReader(limit=limit)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(self.stdout), open(stdout_r, "rb", 0))
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, open(stdin_w, "wb", 0))
        self.stdin = asyncio.StreamWriter(transport, protocol, None, loop)

    def exited(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
            self._exited.set()

    async def wait(self) -> int:
        await self._exited.wait()
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            self._forks.signal(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The server's handle on its fork server: started once (`start_soon`, else by the first
    `launch`), asked for children, told of their ends; `close` ends it."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task | None = None
        self._reader: asyncio.Task | None = None
        self._forks: collections.deque[asyncio.Future] = collections.deque()
        self._children: dict[int, ForkedChild] = {}

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    def start_soon(self) -> None:
        if usable() and self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._start())

    async def launch(self, limit: int) -> ForkedChild | None:
        """A new child with its pipes connected, or None (not usable, or the fork server failed:
        the caller spawns instead)."""
        self.start_soon()
        if self._starting is None or not await asyncio.shield(self._starting) or self._sock is None:
            return None
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        future = asyncio.get_running_loop().create_future()
        self._forks.append(future)
        try:
            socket.send_fds(self._sock, [b"fork"], [stdin_r, stdout_w])
        except OSError:                # this test spawns; a fork server really gone is seen by
            self._forks.remove(future)  # its reader (end of file), which alone calls _lost()
            future.set_result(None)
        finally:                       # the fork server has its own copies (or none)
            os.close(stdin_r)
            os.close(stdout_w)
        child = await future
        if child is None:
            os.close(stdin_w)
            os.close(stdout_r)
            return None
        await child.connect(stdin_w, stdout_r, limit)
        return child

    def signal(self, pid: int, sig: int) -> None:
        """Through the fork server that forked `pid` (it signals only a child it has not
        reaped); the orphan of a lost one (not its replacement's child) directly."""
        try:
            if pid not in self._children:
                raise LookupError(pid)
            self._sock.send(b"kill %d %d" % (pid, sig))
        except (OSError, AttributeError, LookupError):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)

    async def close(self) -> None:
        """End the fork server (end of file on its socket); a child still running goes on
        until its stdin closes (the server's end). A later `launch` starts a new one."""
        starting, self._starting = self._starting, None
        if starting is not None:
            with contextlib.suppress(Exception):
                await starting
        self._lost()
        if self._proc is not None:
            try:
                await asyncio.wait_for(self._proc.wait(), 10.0)
            except asyncio.TimeoutError:
                self._proc.kill()
                await self._proc.wait()
            self._proc = None

    async def _start(self) -> bool:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "lunge_mp.api.forkserver", str(theirs.fileno()), str(os.getpid()),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, pass_fds=(theirs.fileno(),),
                start_new_session=True)     # Ctrl-C at the server's terminal reaches the server only
        except OSError:
            ours.close()
            return False
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        try:
            hello = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(ours, PACKET), START_TIMEOUT_S)
        except (asyncio.TimeoutError, OSError):
            hello = b""
        if hello != b"ready":
            self._lost()
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            return False
        if self._sock is not ours:      # closed meanwhile
            return False
        self._reader = asyncio.get_running_loop().create_task(self._read(ours))
        return True

    async def _read(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                packet = await loop.sock_recv(sock, PACKET)
            except OSError:
                packet = b""
            if not packet:
                break
            words = packet.split() + [b"", b""]
            try:
                if words[0] == b"forked" and self._forks:
                    child = self._children[int(words[1])] = ForkedChild(int(words[1]), self)
                    _resolve(self._forks.popleft(), child)
                elif words[0] == b"refused" and self._forks:
                    _resolve(self._forks.popleft(), None)
                elif words[0] == b"exit" and int(words[1]) in self._children:
                    self._children.pop(int(words[1])).exited(int(words[2]))
            except ValueError:      # not our fork server's: ignored
                continue
        if self._sock is sock:
            self._lost()

    def _lost(self) -> None:
        """The fork server is gone (or being closed): nothing waits on it for ever."""
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._starting = None        # the next launch starts another
        while self._forks:
            _resolve(self._forks.popleft(), None)
        for child in self._children.values():       # their exit status went with their parent
            asyncio.get_running_loop().create_task(_orphan_gone(child))
        self._children.clear()


def _resolve(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)


async def _orphan_gone(child: ForkedChild) -> None:
    """A child whose fork server died: its exit status is lost; note its end when it is gone
    (code 1: unknown)."""
    import psutil

    while True:
        try:
            if psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        await asyncio.sleep(0.1)
    child.exited(1)


# --- the fork server -----------------------------------------------------------------------
def preload() -> None:
    """What a coordinator imports, once, before any fork (not aiohttp or plotly)."""
    from lunge_mp.coordinator import forking

    forking.preload()
    import hdrh  # noqa: F401  (hdrhistogram)
    import setproctitle  # noqa: F401

    from lunge_mp import exit_codes, plan, redact, runner, suggest  # noqa: F401
    from lunge_mp.analysis import anomalies, compare, generator_errors  # noqa: F401
    from lunge_mp.api import child, feed  # noqa: F401
    from lunge_mp.coordinator import control, run  # noqa: F401
    from lunge_mp.report import check_tree, html, results  # noqa: F401   (every run ends writing them)
    from lunge_mp.scenario import preflight  # noqa: F401                (every run starts checking it)
    from lunge_mp.store import history  # noqa: F401


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not all(a.isdigit() for a in argv):
        return 1
    sock = socket.socket(fileno=int(argv[0]))
    server = int(argv[1])
    from lunge_mp.api.child import die_with_parent

    if not die_with_parent(server, signal.SIGKILL):
        return 1
    preload()
    import gc

    gc.collect()
    from lunge_mp.api import prefork

    ballast = prefork.settle()      # noqa: F841 - kept alive: children's new objects go to fresh pages
    gc.freeze()     # the imported objects stay out of the collector's reach: their pages stay shared
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    children: set[int] = set()
    try:
        sock.send(b"ready")
        while True:
            for key, _ in selector.select():
                if key.fileobj == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    continue
                packet, fds, _, _ = socket.recv_fds(sock, PACKET, 2)
                if not packet:
                    return 0        # the server closed its end, or died
                words = packet.split()
                if words[0] == b"fork" and len(fds) == 2:
                    pid = _fork(fds, (selector, sock, wake_r, wake_w), server)
                    if pid is None:
                        sock.send(b"refused")
                    else:
                        children.add(pid)
                        sock.send(b"forked %d" % pid)
                else:
                    for fd in fds:
                        os.close(fd)
                    if words[0] == b"fork":
                        sock.send(b"refused")
                    elif words[0] == b"kill" and len(words) == 3 and int(words[1]) in children:
                        os.kill(int(words[1]), int(words[2]))
            _reap(children, sock)
    except (BrokenPipeError, ConnectionResetError):
        return 0


def _reap(children: set[int], sock: socket.socket) -> None:
    while children:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if not pid:
            return
        children.discard(pid)
        sock.send(b"exit %d %d" % (pid, os.waitstatus_to_exitcode(status)))


def _fork(fds: list[int], own: tuple, server: int) -> int | None:
    """Fork a child on the pipes `fds`; its pid, or None when the system refuses."""
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):     # else the child would write them again
        stream.flush()
    try:
        pid = os.fork()
    except OSError:
        pid = None
    if pid == 0:
        _child(fds, own, server, parent)
    for fd in fds:
        os.close(fd)
    return pid


def _child(fds: list[int], own: tuple, server: int, parent: int) -> NoReturn:
    """In the child: the fork server's own things closed, the pipes on fd 0 and 1, then
    api/child.py as if spawned; leaves with os._exit (never returns into the fork server)."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        selector, sock, wake_r, wake_w = own
        selector.close()
        sock.close()
        os.close(wake_r)
        os.close(wake_w)
        os.dup2(fds[0], 0)
        os.dup2(fds[1], 1)
        for fd in fds:
            os.close(fd)
        import setproctitle

        from lunge_mp.api import child

        setproctitle.setproctitle(f"{sys.executable} -m lunge_mp.api.child {server}")
        code = child.serve(parent, tie=False)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - never return into the fork server's loop
        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()     # noqa: SLF001 - as a spawned child's interpreter would at exit
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
