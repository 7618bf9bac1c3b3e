"""`lunge-mp worker --connect`: K worker processes on this machine that join a coordinator over tcp.

Each is `python -m lunge_mp.worker --connect ENDPOINT --name NAME/k ...`, a remote worker
(worker/remote.py). They run one test and exit; this process waits for all of them, passes
SIGTERM and Ctrl-C on (the coordinator decides how the run stops: a worker whose coordinator
is gone exits by itself), and exits with 0 when every one did, else with the first non-zero
code (1: one was refused or refused the plan, 3: no coordinator answered, or it went silent).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def command(endpoint: str, name: str, keys: str | None, insecure: bool, wait_s: float) -> list[str]:
    cmd = [sys.executable, "-m", "lunge_mp.worker", "--connect", endpoint, "--name", name, "--wait", f"{wait_s:g}"]
    if keys is not None:
        cmd += ["--keys", keys]
    if insecure:
        cmd.append("--insecure")
    return cmd


def run(endpoint: str, count: int, name: str, keys: str | None, insecure: bool, wait_s: float) -> int:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    procs = [subprocess.Popen(command(endpoint, f"{name}/{k}", keys, insecure, wait_s),
                              stdin=subprocess.DEVNULL, env=env) for k in range(count)]

    def pass_on(sig: int, _frame: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass

    previous = {sig: signal.signal(sig, pass_on) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        codes = [proc.wait() for proc in procs]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for proc in procs:           # only if this process itself is being torn down
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    bad = [c for c in codes if c != 0]
    if not bad:
        return 0
    return bad[0] if bad[0] > 0 else 1     # killed by a signal: 1
