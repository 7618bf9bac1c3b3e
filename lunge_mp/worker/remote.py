"""What a remote worker (`lunge-mp worker --connect tcp://...`) does beyond a local one.

- It joins with a random routing id of its own (kept if its tcp connection is re-made) and a
  name (`--id` and its process number); the coordinator gives it its worker id in Start.
- Curve: its key pair and the coordinator's public key (remote/security.py). The socket's
  handshake events say at once when the coordinator refused its key, or could not prove it
  holds the coordinator's key: the process says so and exits instead of waiting.
- Before it says Ready, it checks the plan (`preflight`): every target host it can resolve,
  and none outside guardrails.allowedHosts; otherwise it refuses the plan (Bye with the
  reason) and the coordinator does not start the run.
- The plan's data files come in Start (this machine may not have them): `local_data` writes
  them into a private folder (mode 0700, removed at exit) and points the plan there. Rows
  are then dealt exactly as on the coordinator's machine (`unique`: row i to worker i mod W).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass

import msgspec
import zmq
from zmq.utils.monitor import parse_monitor_message

from lunge_mp.analysis.guardrails import plan_problems, request_hosts
from lunge_mp.plan import Plan
from lunge_mp.remote.security import ClientKeys, allow_ipv6, secure_client

RESOLVE_TIMEOUT_S = 5.0
_NO_PROOF_LIMIT = 3     # handshakes that failed without detail: the coordinator's key is not ours


@dataclass(frozen=True)
class RemoteJoin:
    name: str                       # e.g. "loadgen-2/0"
    keys: ClientKeys | None         # None: --insecure (loopback only)
    wait_s: float = 60.0            # how long to wait for the coordinator's first message


def identity() -> bytes:
    return b"r-" + os.urandom(8).hex().encode()


def host_name() -> str:
    return socket.gethostname()


def open_rate() -> float:
    """What `lunge-mp selftest` measured one worker holding on this machine (0: never run here),
    for the coordinator's capacity check (capacity.py)."""
    from lunge_mp import capacity

    measured = capacity.load()
    return float(measured["openRatePerWorker"]) if measured else 0.0


def prepare(sock: zmq.Socket, join: RemoteJoin, endpoint: str) -> zmq.Socket:
    """Before connect: routing id, Curve, reconnect pacing; returns the handshake monitor."""
    sock.setsockopt(zmq.IDENTITY, identity())
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
    secure_client(sock, join.keys)
    allow_ipv6(sock, endpoint)
    return sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                   | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_SUCCEEDED)


async def watch_handshake(monitor: zmq.Socket, endpoint: str, secure: bool) -> str:
    """Returns why this worker cannot join (after which it should exit); runs until then."""
    no_proof = 0
    while True:
        event = parse_monitor_message(await monitor.recv_multipart())["event"]
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            no_proof = 0
        elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return (f"the coordinator at {endpoint} refused this worker's key: its public key "
                    f"(worker.key) is not in the coordinator's authorized keys")
        elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
            return (f"the handshake with {endpoint} failed: " + (
                "is the coordinator running with --insecure? (this worker uses Curve keys)" if secure else
                "the coordinator requires CurveZMQ keys (--keys DIR), this worker has none (--insecure)"))
        elif event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            no_proof += 1
            if no_proof >= _NO_PROOF_LIMIT:
                return (f"the coordinator at {endpoint} did not prove it holds the secret key of "
                        f"coordinator.key: wrong coordinator, or the wrong coordinator.key here")


async def preflight(plan: Plan) -> str | None:
    """Why this worker cannot run `plan`, or None: a target host it cannot resolve (within
    RESOLVE_TIMEOUT_S), or one guardrails.allowedHosts does not allow."""
    problems = plan_problems(plan)
    if problems:
        return problems[0]
    loop = asyncio.get_running_loop()
    seen: set[tuple[str, int | None]] = set()
    for where, _url, found in request_hosts(plan):
        if found is None or found in seen:
            continue
        seen.add(found)
        host, port = found
        try:
            await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            why = "no answer in time" if isinstance(exc, asyncio.TimeoutError) else (exc.strerror or str(exc))
            return (f"cannot resolve the target host {host!r} ({where}) on {host_name()}: {why}; "
                    f"nothing was sent")
    return None


def local_data(plan: Plan, files: dict[str, bytes]) -> Plan:
    """`plan` with its data sources read from copies of `files` (coordinator path → contents)
    in a private folder of this process."""
    if not files:
        return plan
    folder = tempfile.mkdtemp(prefix="lunge-mp-data-")
    atexit.register(shutil.rmtree, folder, True)
    where: dict[str, str] = {}
    for i, (path, data) in enumerate(sorted(files.items())):
        copy = os.path.join(folder, f"{i}-{os.path.basename(path)}")   # keeps .csv / .json
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as f:
            f.write(data)
        where[path] = copy

    def moved(sources):
        return tuple(msgspec.structs.replace(d, path=where.get(d.path or d.file, d.path)) for d in sources)

    scenarios = tuple(msgspec.structs.replace(s, data=moved(s.data)) for s in plan.scenarios)
    return msgspec.structs.replace(plan, data=moved(plan.data), scenarios=scenarios)
