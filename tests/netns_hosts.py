"""Linux network namespaces as separate hosts for remote-worker tests and benchmarks: N
namespaces on a bridge, this namespace at SUBNET.1, host i at SUBNET.(10+i). The path to each
host is one of:

- "veth": the plain link;
- "netem": netem on both ends of every link: 20 ms ± 5 ms of delay and 1% loss each way;
- "relay", for kernels without netem: the same loss from nftables rules inside each host's
  namespace (netdev ingress and egress hooks on its end of the link, `numgen random`), and the
  same delay from a delaying TCP relay in each namespace (tests/delay_relay.py, `relays()`)
  that the host's processes connect to on 127.0.0.1 instead of the outside address.

Root only; `why_not()` says what is missing elsewhere, `has_netem()` / `why_no_loss_rules()`
whether a path can be made here. Everything made is removed on exit, relays stopped first."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import zmq

SUBNET = "10.231.0"
HOST_IP = f"{SUBNET}.1"
DELAY_MS = 20.0     # each way, on the "netem" and "relay" paths
JITTER_MS = 5.0     # the delay's jitter (uniform, each way), ms
LOSS_PERCENT = 1    # each way
LOSS_TABLE = "lunge_loss"       # the nftables table inside a host's namespace
RELAY = Path(__file__).with_name("delay_relay.py")


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return out


def _nft(ns: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`nft ARGS` inside the namespace `ns` (never this one's tables)."""
    out = subprocess.run(["ip", "netns", "exec", ns, "nft", *args], input=stdin, capture_output=True,
                         text=True, timeout=20)
    if out.returncode != 0:
        raise RuntimeError(f"nft {' '.join(args)} in {ns}: {out.stderr.strip()}")
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


def _loss_rules(device: str) -> str:
    """An nftables table dropping LOSS_PERCENT of the packets each way on `device`, counting
    all packets and the dropped ones. nftables rather than iptables' statistic match: its
    netdev hooks drop at the device, where netem drops (a drop in iptables' OUTPUT chain is
    reported back to the sending socket as EPERM: TCP knows the packet never left, which is
    no loss on the wire), and the table lives in the worker's namespace only."""
    drop = f"numgen random mod 100 < {LOSS_PERCENT} counter drop"
    return "\n".join([
        f"table netdev {LOSS_TABLE} {{",
        f'  chain ingress {{ type filter hook ingress device "{device}" priority 0; counter; {drop}; }}',
        f'  chain egress {{ type filter hook egress device "{device}" priority 0; counter; {drop}; }}',
        "}", ""])


def why_no_loss_rules() -> str | None:
    """Why the "relay" path's loss rules cannot be made here (None: they can)."""
    if not shutil.which("nft"):
        return "nft is missing (Debian: apt-get install nftables)"
    probe = f"lmp-nft-{uuid.uuid4().hex[:6]}"
    _ip("ip", "netns", "add", probe)
    try:
        _ip("ip", "link", "add", "lmpnfta", "type", "veth", "peer", "name", "lmpnftb", ns=probe)
        made = subprocess.run(["ip", "netns", "exec", probe, "nft", "-f", "-"], input=_loss_rules("lmpnfta"),
                              capture_output=True, text=True, timeout=20)
        return None if made.returncode == 0 else f"nftables cannot load the loss rules: {made.stderr.strip()}"
    finally:
        _ip("ip", "netns", "del", probe, check=False)


class Hosts:
    """`count` namespaces on a bridge: host i has address SUBNET.(10+i); this one SUBNET.1.
    `path`: "veth", "netem" or "relay" (see the module's docstring)."""

    def __init__(self, path: str = "veth", count: int = 2) -> None:
        if path not in ("veth", "netem", "relay"):
            raise ValueError(f"path: {path!r} is not veth, netem or relay")
        tag = uuid.uuid4().hex[:5]
        self.bridge = f"lmpbr{tag}"
        self.names = [f"lmp-{tag}-{i}" for i in range(count)]
        self.links = [(f"lmp{tag}h{i}", f"lmp{tag}n{i}") for i in range(count)]   # ≤ 15 characters
        self.path = path
        self._relays: list[subprocess.Popen] = []

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
                if self.path == "netem":    # both directions, so the path is symmetric on average
                    for dev, where in ((inside, ns), (outside, None)):
                        _ip("tc", "qdisc", "add", "dev", dev, "root", "netem", "delay", f"{DELAY_MS:g}ms",
                            f"{JITTER_MS:g}ms", "loss", f"{LOSS_PERCENT}%", ns=where)
                elif self.path == "relay":  # in the host's own namespace: the host's tables untouched
                    _nft(ns, "-f", "-", stdin=_loss_rules(inside))
            return self
        except BaseException:
            self.__exit__()
            raise

    def address(self, i: int) -> str:
        return f"{SUBNET}.{10 + i}"

    def cut(self, i: int, down: bool) -> None:
        _ip("ip", "link", "set", self.links[i][0], "down" if down else "up")

    def relays(self, routes: dict[int, int], timeout: float = 60.0) -> None:
        """Start a delaying relay in every host: 127.0.0.1:PORT there → HOST_IP:TO_PORT here,
        for each PORT: TO_PORT of `routes`; return once all of them listen."""
        for ns in self.names:
            self._relays.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, str(RELAY), "--delay-ms", f"{DELAY_MS:g}",
                 "--jitter-ms", f"{JITTER_MS:g}", *(f"{p}={HOST_IP}:{to}" for p, to in routes.items())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))     # stderr: the test's
        deadline = time.monotonic() + timeout
        for relay in self._relays:
            ready, _, _ = select.select([relay.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = relay.stdout.readline() if ready else ""
            if not line.startswith("ready"):
                raise RuntimeError(f"a delaying relay did not start (exit code {relay.poll()}, its "
                                   f"error above on stderr): {line!r}")

    def loss_counters(self) -> dict[str, int]:
        """Packets seen and dropped by the loss rules, over every host and both directions."""
        seen = dropped = 0
        for ns in self.names:
            listing = json.loads(_nft(ns, "-j", "list", "table", "netdev", LOSS_TABLE).stdout)
            for item in listing["nftables"]:
                rule = item.get("rule")
                counts = [e["counter"]["packets"] for e in (rule or {}).get("expr", []) if "counter" in e]
                if counts and any("drop" in e for e in rule["expr"]):
                    dropped += counts[0]
                elif counts:
                    seen += counts[0]
        return {"packets": seen, "dropped": dropped}

    def _stop_relays(self) -> None:
        for relay in self._relays:
            relay.stdin.close()               # a relay leaves when its stdin closes
        for relay in self._relays:
            try:
                relay.wait(timeout=10)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait(timeout=10)
            relay.stdout.close()
        self._relays.clear()

    def __exit__(self, *exc) -> None:
        self._stop_relays()                   # before the namespaces they run in
        for ns in self.names:
            # a closed socket still sending (an orphan: FIN or data unacknowledged) would keep
            # the namespace and its veth pair alive for minutes after `ip netns del`: abort them
            _ip("ss", "-K", "-a", "-t", ns=ns, check=False)
            _ip("ip", "netns", "del", ns, check=False)       # its veth ends go with it
        _ip("ip", "link", "del", self.bridge, check=False)
