"""Linux network namespaces as separate hosts for remote-worker tests and benchmarks: N
namespaces on a bridge, this namespace at SUBNET.1, host i at SUBNET.(10+i), optional netem
delay and loss on every link. Root only; `why_not()` says what is missing elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import zmq

SUBNET = "10.231.0"
HOST_IP = f"{SUBNET}.1"
JITTER_MS = 5.0     # netem's delay jitter (each way), ms


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return out


def why_not() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root (run the suite as root)"
    if not shutil.which("ip") or not shutil.which("tc"):
        return "iproute2 is missing (Debian: apt-get install iproute2)"
    if not zmq.has("curve"):
        return "pyzmq without CurveZMQ (libsodium)"
    probe = f"lmp-probe-{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=20)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=20)
    return None


def has_netem() -> bool:
    probe = f"lmp-netem-{uuid.uuid4().hex[:6]}"
    _ip("ip", "netns", "add", probe)
    try:
        _ip("ip", "link", "set", "lo", "up", ns=probe)
        return _ip("tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
                   ns=probe, check=False).returncode == 0
    finally:
        _ip("ip", "netns", "del", probe, check=False)


class Hosts:
    """`count` namespaces on a bridge: host i has address SUBNET.(10+i); this one SUBNET.1."""

    def __init__(self, netem: bool = False, count: int = 2) -> None:
        tag = uuid.uuid4().hex[:5]
        self.bridge = f"lmpbr{tag}"
        self.names = [f"lmp-{tag}-{i}" for i in range(count)]
        self.links = [(f"lmp{tag}h{i}", f"lmp{tag}n{i}") for i in range(count)]   # ≤ 15 characters
        self.netem = netem

    def __enter__(self) -> "Hosts":
        try:
            _ip("ip", "link", "add", self.bridge, "type", "bridge")
            _ip("ip", "addr", "add", f"{HOST_IP}/24", "dev", self.bridge)
            _ip("ip", "link", "set", self.bridge, "up")
            for i, (ns, (outside, inside)) in enumerate(zip(self.names, self.links)):
                _ip("ip", "netns", "add", ns)
                _ip("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
                _ip("ip", "link", "set", inside, "netns", ns)
                _ip("ip", "link", "set", outside, "master", self.bridge)
                _ip("ip", "link", "set", outside, "up")
                _ip("ip", "link", "set", "lo", "up", ns=ns)
                _ip("ip", "addr", "add", f"{self.address(i)}/24", "dev", inside, ns=ns)
                _ip("ip", "link", "set", inside, "up", ns=ns)
                if self.netem:      # both directions, so the path is symmetric on average
                    for dev, where in ((inside, ns), (outside, None)):
                        _ip("tc", "qdisc", "add", "dev", dev, "root", "netem", "delay", "20ms",
                            f"{JITTER_MS:g}ms", "loss", "1%", ns=where)
            return self
        except BaseException:
            self.__exit__()
            raise

    def address(self, i: int) -> str:
        return f"{SUBNET}.{10 + i}"

    def cut(self, i: int, down: bool) -> None:
        _ip("ip", "link", "set", self.links[i][0], "down" if down else "up")

    def __exit__(self, *exc) -> None:
        for ns in self.names:
            _ip("ip", "netns", "del", ns, check=False)       # its veth ends go with it
        _ip("ip", "link", "del", self.bridge, check=False)
