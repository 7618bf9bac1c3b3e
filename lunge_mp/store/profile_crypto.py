"""The key that encrypts profile secrets, and AES-256-GCM with it (the `cryptography` library).

Where the key comes from, first found wins:
1. `$LUNGE_MP_PROFILE_KEY`: 32 bytes, URL-safe base64 (44 characters; `lunge-mp profile key
   --new` prints a fresh one). Set the same value on every machine that shares profiles.
2. the key file `profiles.key` beside the history store: made on first use (the first save of
   a profile with a secret), mode 0600, with O_EXCL and O_NOFOLLOW, so it never replaces a
   file or follows a link; two processes making it at once end up with the one that won.
   A key file that is a link, not a regular file, not ours or readable by others is refused.
Reading needs no key: a missing key only stops what must decrypt (running a profile).

Each ciphertext is `v1:` + base64url(12-byte random nonce ‖ AES-GCM ciphertext and tag),
with the field's path as associated data, so a value moved to another field fails to
decrypt. Each stored secret also names its key by `key_id` (a SHA-256 fingerprint, not the
key) so a wrong key is named as such before trying; a key with a colliding id still fails
the GCM tag check: nothing is ever decrypted to garbage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lunge_mp.store.history import StoreError

ENV_VAR = "LUNGE_MP_PROFILE_KEY"
KEY_FILE = "profiles.key"
KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = "v1:"


class ProfileKeyError(StoreError):
    """No usable key: missing, malformed, or a key file that is unsafe to use."""


class DecryptError(StoreError):
    """A secret that cannot be read with the key at hand (another key, or damaged data)."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"lunge_mp profile key\0" + key).hexdigest()[:16]


def new_key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def _parse_key(text: str, where: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ProfileKeyError(f"{where} is not a profile key: it must be {KEY_BYTES} bytes in URL-safe "
                        f"base64 (44 characters); `lunge-mp profile key --new` prints one")
    return key


class ProfileKey:
    """A loaded key: `encrypt(value, field)` and `decrypt(token, field)`."""

    def __init__(self, key: bytes, source: str) -> None:
        self._aead = AESGCM(key)
        self.id = key_id(key)
        self.source = source

    def encrypt(self, data: bytes, field: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, data, field.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, field: str) -> bytes:
        try:
            if not isinstance(token, str) or not token.startswith(PREFIX):
                raise ValueError("unknown format")
            raw = base64.urlsafe_b64decode(token[len(PREFIX):].encode())
            if len(raw) < NONCE_BYTES + 16:
                raise ValueError("too short")
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], field.encode())
        except InvalidTag:
            raise DecryptError(f"{field}: the key ({self.source}) does not open it: another key "
                               f"or damaged data") from None
        except (ValueError, binascii.Error) as exc:
            raise DecryptError(f"{field}: the stored ciphertext is damaged ({exc})") from None


class KeyRing:
    """Finds the key for a store: from the environment, else the key file beside the store."""

    def __init__(self, store_path: str | os.PathLike[str], environ: dict[str, str] | None = None) -> None:
        self.file = Path(store_path).expanduser().parent / KEY_FILE
        self._env = os.environ if environ is None else environ
        self._key: ProfileKey | None = None
        self.created = False        # True once get(create=True) made the key file

    def describe(self) -> str:
        return f"${ENV_VAR}" if self._env.get(ENV_VAR) else str(self.file)

    def get(self, create: bool = False) -> ProfileKey | None:
        """The key; None when there is none and `create` is False (a new key file otherwise)."""
        if self._key is None:
            text = self._env.get(ENV_VAR)
            if text:
                self._key = ProfileKey(_parse_key(text, f"${ENV_VAR}"), f"${ENV_VAR}")
            else:
                raw = _read_key_file(self.file)
                if raw is None and create:
                    raw, self.created = _create_key_file(self.file)
                if raw is not None:
                    self._key = ProfileKey(_parse_key(raw, str(self.file)), str(self.file))
        return self._key

    def require(self) -> ProfileKey:
        key = self.get()
        if key is None:
            raise ProfileKeyError(f"no profile key: set ${ENV_VAR} to the key the secrets were saved "
                            f"with, or put its key file at {self.file}")
        return key


def _read_key_file(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            raise ProfileKeyError(f"key file {path} is a symbolic link; refusing to follow it") from None
        raise ProfileKeyError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ProfileKeyError(f"key file {path} is not a regular file")
        if info.st_uid != os.getuid():
            raise ProfileKeyError(f"key file {path} belongs to another user; refusing to use it")
        if info.st_mode & 0o077:
            raise ProfileKeyError(f"key file {path} can be read by others (mode {info.st_mode & 0o777:o}); "
                            f"run `chmod 600 {path}`")
        return os.read(fd, 4096).decode("ascii", "replace")
    finally:
        os.close(fd)


def _create_key_file(path: Path) -> tuple[str, bool]:
    """(a new random key in a new 0600 file, True); if another process made one first, (that, False).

    Written whole to a private temporary file, then hard-linked into place: link() never
    replaces an existing name (a file or a link), so no reader sees half a key."""
    text = new_key_text()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, (text + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            existing = _read_key_file(path)
            if existing is None:
                raise ProfileKeyError(f"key file {path} appeared and vanished; try again") from None
            return existing, False
    except OSError as exc:
        raise ProfileKeyError(f"cannot create key file {path}: {exc.strerror or exc}") from None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    return text, True
