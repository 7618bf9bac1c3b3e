"""Audit log: one JSON object a line for every action that starts, steers or changes something.

Shared by the control plane (start, stop, pause, resume, scale) and the profile store (save,
delete, import, run). Each line: `time` (UTC, ISO 8601), `action`, `identity` (the token's name,
or `local` for the CLI and unauthenticated loopback), `client` (address, or `cli`), `outcome`
(`ok`, `refused`, `error`, ...), `test_id` when there is one, and any extra fields given.
Tokens and secret values never go in: callers pass names, never credentials.

Where: `$LUNGE_MP_AUDIT_LOG`, else `audit.log` beside the history store. Lines are appended
with O_APPEND in one write each, so two processes logging at once never interleave a line.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

ENV_VAR = "LUNGE_MP_AUDIT_LOG"


def default_audit_path(store_path: str | os.PathLike[str] | None = None) -> Path:
    """`$LUNGE_MP_AUDIT_LOG`, else `audit.log` in the history store's folder."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    if store_path is None:
        from lunge_mp.store.history import default_store_path
        store_path = default_store_path()
    return Path(store_path).parent / "audit.log"


class AuditLog:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def record(self, action: str, *, identity: str = "local", client: str = "cli",
               outcome: str = "ok", test_id: str | None = None, **fields: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "action": action, "identity": identity, "client": client, "outcome": outcome}
        if test_id is not None:
            entry["test_id"] = test_id
        entry.update(fields)
        line = (json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # never through a link, never into a FIFO or device (O_NONBLOCK: a FIFO cannot block us)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EPERM, f"the audit log {self.path} is not a regular file")
            os.write(fd, line)
        finally:
            os.close(fd)
        return entry

    def read(self) -> list[dict[str, Any]]:
        """Every entry, oldest first; a torn or foreign line is skipped."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        return entries
