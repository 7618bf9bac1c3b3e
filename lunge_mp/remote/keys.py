"""CurveZMQ key files: make them, read them, and the coordinator's authorized-keys file.

`generate(DIR)` writes, with pyzmq's `zmq.auth.create_certificates` (ZeroMQ's certificate
format, which `zmq.auth.load_certificate` and other ZeroMQ tools read):

    coordinator.key  coordinator.key_secret   the coordinator's pair (workers need coordinator.key)
    worker.key       worker.key_secret        a worker pair (every worker host needs both)
    authorized_keys                           the worker public keys the coordinator accepts

An existing file is never replaced: every name is checked first, the keys are made in a private
folder inside DIR (mode 0700) and linked into place, which fails rather than overwrite. Secret
files are mode 0600. Nothing here prints or returns a secret key as text.

authorized_keys: one worker public key per line — the 40-character Z85 key, optionally
followed by a comment, or a `public-key = "..."` line as in a `.key` file (so
`grep public-key worker.key >> authorized_keys` works); blank lines and `#` comments skipped
(a Z85 key may itself start with `#`: a 40-character key first on its line is a key, so
`#KEY` — 41 characters — is a commented-out key).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import zmq
import zmq.auth
from zmq.utils import z85

COORDINATOR = "coordinator"
WORKER = "worker"
AUTHORIZED = "authorized_keys"
_Z85_KEY = re.compile(rb"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")
_KEY_LINE = re.compile(rb'public-key\s*=\s*["\']?([^"\'\s]{40})["\']?')


class KeyFileError(Exception):
    """A key file that is missing, unreadable or malformed (exit 104 at the command line)."""


def fingerprint(public_z85: bytes) -> str:
    """`SHA256:…` of the raw 32-byte key (as ssh shows keys): safe to log, names the key."""
    raw = z85.decode(public_z85)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def generate(directory: str | os.PathLike, worker_only: bool = False) -> list[Path]:
    """Make the key files in `directory` (created 0700 if missing); the paths written."""
    out = Path(directory)
    names = [] if worker_only else [f"{COORDINATOR}.key", f"{COORDINATOR}.key_secret"]
    names += [f"{WORKER}.key", f"{WORKER}.key_secret"] + ([] if worker_only else [AUTHORIZED])
    taken = [n for n in names if os.path.lexists(out / n)]
    if taken:
        raise KeyFileError(f"{out} already has {', '.join(taken)}: key files are never replaced "
                        f"(remove them yourself, or choose another folder)")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".keys-", dir=out))      # mode 0700: nobody else sees it
    try:
        for name in ([] if worker_only else [COORDINATOR]) + [WORKER]:
            zmq.auth.create_certificates(work, name)
            os.chmod(work / f"{name}.key_secret", 0o600)
            os.chmod(work / f"{name}.key", 0o644)
        if not worker_only:
            public, _ = zmq.auth.load_certificate(work / f"{WORKER}.key")
            (work / AUTHORIZED).write_bytes(
                b"# worker public keys this coordinator accepts, one a line (lunge-mp keys generate)\n"
                + public + b"  worker\n")
            os.chmod(work / AUTHORIZED, 0o644)
        written = []
        for name in names:
            os.link(work / name, out / name)      # FileExistsError rather than overwrite
            written.append(out / name)
        return written
    except FileExistsError as exc:
        raise KeyFileError(f"{exc.filename2 or exc.filename} appeared while the keys were made: "
                        f"nothing there was replaced") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load_pair(path: str | os.PathLike) -> tuple[bytes, bytes]:
    """(public, secret) Z85 keys from a `.key_secret` file."""
    public, secret = _load(path)
    if secret is None:
        raise KeyFileError(f"{path} holds no secret key (a .key_secret file is needed here)")
    return public, secret


def load_public(path: str | os.PathLike) -> bytes:
    return _load(path)[0]


def _load(path: str | os.PathLike) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read the key file {path}: {getattr(exc, 'strerror', None) or exc} "
                        f"(make key files with: lunge-mp keys generate DIR)") from None
    for what, key in (("public", public), ("secret", secret)):
        if key is not None and not _Z85_KEY.fullmatch(key):
            raise KeyFileError(f"{path}: the {what} key is not a 40-character Z85 CurveZMQ key")
    return public, secret


def read_authorized(path: str | os.PathLike) -> set[bytes]:
    """The Z85 public keys an authorized-keys file lists (see the module docstring)."""
    try:
        with open(path, "rb") as f:
            data = f.read(1_000_001)
    except OSError as exc:
        raise KeyFileError(f"cannot read the authorized keys {path}: {exc.strerror or exc}") from None
    if len(data) > 1_000_000:
        raise KeyFileError(f"{path} is over 1 MB; it should hold one worker public key a line")
    keys = set()
    for lineno, line in enumerate(data.splitlines(), start=1):
        line = line.strip()
        first = line.split()[0] if line else b""
        if _Z85_KEY.fullmatch(first):       # a key may start with '#' (it is a Z85 digit)
            keys.add(first)
            continue
        if not line or line.startswith(b"#"):
            continue
        if b"secret-key" in line:
            raise KeyFileError(f"{path} line {lineno}: a secret key does not belong in authorized keys "
                               f"(only public keys: the worker.key file's public-key)")
        found = _KEY_LINE.search(line)
        key = found.group(1) if found else first
        if not _Z85_KEY.fullmatch(key):
            raise KeyFileError(f"{path} line {lineno}: not a 40-character Z85 public key")
        keys.add(key)
    if not keys:
        raise KeyFileError(f"{path} lists no public key: no worker could join")
    return keys
