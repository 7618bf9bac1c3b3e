"""Who may talk over tcp: CurveZMQ on every tcp connection, plaintext only on loopback.

- The coordinator is a Curve server (its key pair); a ZAP handler (pyzmq's
  `AsyncioAuthenticator`, on the coordinator's event loop) lets in only workers whose public
  key is in the authorized-keys file, and reports every refusal with the key's fingerprint
  and the peer's address.
- A worker is a Curve client: its own pair, and the coordinator's public key, which Curve
  verifies in the handshake (a coordinator without the matching secret key gets nowhere).
- `--insecure` (plaintext) is allowed only on a loopback address: 127.0.0.0/8, ::1, localhost.

Security options apply per bind/connect, so one ROUTER can serve local workers on ipc://
(no Curve: same machine, a private folder) and remote ones on tcp:// with Curve.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import zmq
from zmq.auth.asyncio import AsyncioAuthenticator

from lunge_mp.remote import keys

_TCP = re.compile(r"tcp://(\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):(\d{1,5})")


class SetupError(Exception):
    """Listen/connect settings that cannot be used (exit 104): says what and how to fix it."""


def parse_tcp(endpoint: str, flag: str) -> tuple[str, int]:
    """(host, port) of `tcp://HOST:PORT` (IPv6 in brackets)."""
    found = _TCP.fullmatch(endpoint.strip())
    if not found or not 0 < int(found.group(2)) < 65536:
        raise SetupError(f"{flag} {endpoint!r}: expected tcp://HOST:PORT with a port from 1 to 65535, "
                         f"e.g. tcp://0.0.0.0:5555")
    return found.group(1).strip("[]"), int(found.group(2))


def check_listen(endpoint: str) -> None:
    """Before anything starts: the --listen address can be bound here (not held by another
    process, one of this machine's), so a busy port is a clear error, not a failed run."""
    import socket

    host, port = parse_tcp(endpoint, "--listen")
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)    # as libzmq binds
            probe.bind(addr)
    except OSError as exc:
        raise SetupError(f"--listen {endpoint}: cannot listen there ({exc.strerror or exc}): another process "
                         f"holds the port, or the address is not one of this machine's; pick another") from None


def is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_curve() -> None:
    if not zmq.has("curve"):
        raise SetupError("this pyzmq/libzmq was built without CurveZMQ (libsodium): tcp workers need it; "
                         "reinstall pyzmq from its wheels (pip install --force-reinstall pyzmq)")


@dataclass(frozen=True)
class ServerKeys:
    public: bytes
    secret: bytes
    authorized: frozenset[bytes]
    authorized_path: str


@dataclass(frozen=True)
class ClientKeys:
    public: bytes
    secret: bytes
    server: bytes


def server_keys(endpoint: str, keys_dir: str | None, authorized: str | None, insecure: bool) -> ServerKeys | None:
    """The coordinator's keys for `--listen endpoint`, or None for `--insecure` on loopback."""
    host, _ = parse_tcp(endpoint, "--listen")
    if insecure:
        if not is_loopback(host):
            raise SetupError(f"--insecure (plaintext tcp) is allowed only on a loopback address, not {host}: "
                             f"anyone on the network could join and steer the load. Use Curve keys "
                             f"(lunge-mp keys generate DIR, then --keys DIR)")
        return None
    if keys_dir is None:
        raise SetupError("--listen needs Curve keys: --keys DIR (make them with: lunge-mp keys generate DIR), "
                         "or --insecure on a loopback address")
    check_curve()
    try:
        public, secret = keys.load_pair(os.path.join(keys_dir, f"{keys.COORDINATOR}.key_secret"))
        path = authorized or os.path.join(keys_dir, keys.AUTHORIZED)
        allowed = keys.read_authorized(path)
    except keys.KeyFileError as exc:
        raise SetupError(str(exc)) from None
    return ServerKeys(public, secret, frozenset(allowed), path)


def client_keys(endpoint: str, keys_dir: str | None, insecure: bool) -> ClientKeys | None:
    """A worker's keys for `--connect endpoint`, or None for `--insecure` to loopback."""
    host, _ = parse_tcp(endpoint, "--connect")
    if insecure:
        if not is_loopback(host):
            raise SetupError(f"--insecure (plaintext tcp) is allowed only to a loopback address, not {host}: "
                             f"use Curve keys (--keys DIR with worker.key_secret and coordinator.key)")
        return None
    if keys_dir is None:
        raise SetupError("--connect needs Curve keys: --keys DIR holding worker.key_secret and the "
                         "coordinator's coordinator.key (lunge-mp keys generate DIR), or --insecure to loopback")
    check_curve()
    try:
        public, secret = keys.load_pair(os.path.join(keys_dir, f"{keys.WORKER}.key_secret"))
        server = keys.load_public(os.path.join(keys_dir, f"{keys.COORDINATOR}.key"))
    except keys.KeyFileError as exc:
        raise SetupError(str(exc)) from None
    return ClientKeys(public, secret, server)


def allow_ipv6(sock: zmq.Socket, endpoint: str) -> None:
    """Before bind/connect: ZeroMQ takes an IPv6 address only with this option set."""
    host, _ = parse_tcp(endpoint, "endpoint")
    if ":" in host:
        sock.ipv6 = True


def secure_client(sock: zmq.Socket, k: ClientKeys | None) -> None:
    """Before connect: Curve as a client of the coordinator's key."""
    if k is not None:
        sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = k.public, k.secret, k.server


class KeyGate(AsyncioAuthenticator):
    """ZAP: Curve clients whose key is authorized get in; each refusal goes to `on_refusal(text)`."""

    def __init__(self, context: zmq.Context, k: ServerKeys, on_refusal: Callable[[str], None]) -> None:
        super().__init__(context)
        self.server_keys = k
        self.on_refusal = on_refusal
        self._address = ""

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        self._address = msg[3].decode("utf-8", "replace") if len(msg) > 3 else "?"
        try:
            await super().handle_zap_message(msg)
        except Exception as exc:  # an error here must not end the handler: every later peer would hang
            self.on_refusal(f"a worker from {self._address}: its authentication failed "
                            f"({type(exc).__name__}: {exc})")
            if len(msg) > 1:
                self._send_zap_reply(msg[1], b"500", b"internal error")

    def callback(self, domain: str, key: bytes) -> bool:    # the credentials provider of pyzmq's ZAP
        if key in self.server_keys.authorized:
            return True
        self.on_refusal(f"a worker from {self._address} with key {keys.fingerprint(key)}: it is not in "
                        f"the authorized keys {self.server_keys.authorized_path}")
        return False


def secure_server(ctx: zmq.Context, sock: zmq.Socket, k: ServerKeys | None,
                  on_refusal: Callable[[str], None]) -> KeyGate | None:
    """Before the tcp bind: Curve as a server, and the ZAP handler (started; stop it after)."""
    if k is None:
        return None
    gate = KeyGate(ctx, k, on_refusal)
    gate.start()
    gate.configure_curve_callback("*", credentials_provider=gate)
    sock.curve_server = True
    sock.curve_publickey, sock.curve_secretkey = k.public, k.secret
    return gate
