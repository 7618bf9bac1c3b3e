"""Process control for the self-benchmark: pinning, CPU accounting, running lunge-mp (and the
peer tools) with a timeout, stopping whole process groups."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from selfbench.configs import GRACE_SIGINT_S, ROOT

def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its live children."""
    total = 0.0
    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except psutil.Error:
        return float("nan")
    for q in procs:
        try:
            t = q.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def busy_cpu() -> tuple[float, float]:
    """System-wide (busy CPU seconds, steal seconds) so far, all cores together."""
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    steal = getattr(t, "steal", 0.0)
    return sum(t) - idle - steal - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0), steal


def busy_box(other_cpu_s: float, wall_s: float) -> bool:
    """True when other work used more than 15% of the box during a run (figures are suspect)."""
    return other_cpu_s > max(1.0, 0.15 * wall_s * (os.cpu_count() or 1))


def pin(pid: int, cpus: set[int] | None) -> None:
    """Pin a process (and its children) to `cpus`; None = every CPU."""
    cpus = cpus if cpus is not None else set(range(os.cpu_count() or 1))
    try:
        procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return
    for p in procs:
        try:
            p.cpu_affinity(sorted(cpus))
        except (psutil.Error, OSError):
            pass


def settle(target, quiet_s: float = 0.3, limit_s: float = 15.0) -> None:
    """Wait until the target has stopped counting requests: an overloaded target still reads
    and counts what the previous run left in its socket buffers after that run has exited,
    and those must not land in the next run's counts."""
    end = time.monotonic() + limit_s
    last = target.stats().get("requests")
    while time.monotonic() < end:
        time.sleep(quiet_s)
        now = target.stats().get("requests")
        if now == last:
            return
        last = now


def _kill_group(proc: subprocess.Popen, graceful_s: float) -> None:
    """Stop a command started in its own session: SIGINT (results still written), then
    SIGKILL to the whole process group and to every descendant found."""
    if proc.poll() is not None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return
    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(graceful_s)
    except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for d in descendants:
        try:
            d.kill()
        except psutil.Error:
            pass
    try:
        proc.wait(5.0)
    except subprocess.TimeoutExpired:
        pass
    psutil.wait_procs(descendants, timeout=5.0)


class CpuSampler(threading.Thread):
    """Samples the CPU seconds of a process tree every second (for tools without their own
    per-second figures): `steady_cores()` is the mean rate between the first and last sample."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.monotonic(), tree_cpu(self.pid)))
            self._halt.wait(1.0)

    def stop(self) -> None:
        self._halt.set()
        self.join(2.0)

    def steady_cores(self) -> float | None:
        s = [x for x in self.samples if x[1] == x[1]]      # drop NaN (process gone)
        if len(s) < 4:
            return None
        (t0, c0), (t1, c1) = s[1], s[-2]                    # skip start-up and the end
        return (c1 - c0) / (t1 - t0) if t1 > t0 else None


def run_command(cmd: list[str], stderr_path: Path, timeout_s: float, cpus: set[int] | None,
                env: dict | None = None, sample: bool = False, stdout_path: Path | None = None
                ) -> tuple[int, float, float, CpuSampler | None]:
    """Run `cmd` in its own session (pinned to `cpus` with taskset when given);
    returns (exit code, wall s, rusage CPU s of the whole tree, sampler)."""
    if cpus is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", ",".join(map(str, sorted(cpus)))] + cmd
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = open(stdout_path, "wb") if stdout_path else None
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out or err, stderr=err, env=env,
                                start_new_session=True, cwd=str(ROOT))
    if out:
        out.close()
    sampler = CpuSampler(proc.pid) if sample else None
    if sampler:
        sampler.start()
    try:
        code = proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc, GRACE_SIGINT_S)
        raise RuntimeError(f"{Path(cmd[0]).name} did not finish within {timeout_s:.0f}s (killed)")
    except BaseException:
        _kill_group(proc, GRACE_SIGINT_S)
        raise
    finally:
        if sampler:
            sampler.stop()
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rusage_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    _kill_group(proc, 0)   # nothing should be left; make sure
    return code, wall, rusage_cpu, sampler


def lunge_cmd(config_path: Path, out_path: Path, base_url: str, workers: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "lunge_mp.cli", "run", str(config_path), "--out", str(out_path),
           "-q", "-e", f"BASE_URL={base_url}"]
    if workers:
        cmd += ["--workers", str(workers)]
    return cmd


def lunge_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env
