"""Run history and baselines in one SQLite file (stdlib sqlite3).

Where: `--store PATH`, else `$LUNGE_MP_STORE`, else `$XDG_DATA_HOME/lunge_mp/history.db`,
else `~/.local/share/lunge_mp/history.db` (see `default_store_path`).

Tables (schema version 2; the version lives in `meta` and `MIGRATIONS` upgrades a file one
version at a time, in place and with its rows kept, so a newer lunge_mp opens an older file
and never the other way round):

    meta       key → value                 schema_version, created_at
    runs       one row per run (run_id UNIQUE: recording a run twice stores it once);
               key figures as columns for listing and trends, the saved profile it ran
               (name, version; v2), plus the whole results document, zlib-compressed JSON
               without its `histograms` field
    baselines  name → a copy of one run's results (same figures and blob), replaced by set
    profiles, profile_versions   saved test profiles (v2), read and written by profiles.py

Two processes may use one file at once: the journal is WAL (readers never block the
writer), every write is one short `BEGIN IMMEDIATE` transaction with the JSON compressed
before it starts, and a busy file is waited on (busy_timeout, and a retry loop for the one
step SQLite does not wait on: switching a new file to WAL) instead of failing. WAL needs a
local filesystem; keep the store off NFS.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import sqlite3
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from lunge_mp.analysis.compare import metric_value, run_efficiency, validate_results

SCHEMA_VERSION = 2
ENV_VAR = "LUNGE_MP_STORE"
BUSY_TIMEOUT_MS = 15_000
MAX_BASELINE_NAME = 100

# figure column → how to read it from a results document
_FIGURES = ("status", "exit_code", "duration_s", "requests", "rate", "error_rate",
            "p50_ms", "p95_ms", "p99_ms", "efficiency")
_FIGURE_DDL = """
    status      TEXT,
    exit_code   INTEGER,
    duration_s  REAL,
    requests    INTEGER,
    rate        REAL,
    error_rate  REAL,
    p50_ms      REAL,
    p95_ms      REAL,
    p99_ms      REAL,
    efficiency  REAL,"""

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        f"""CREATE TABLE runs (
            id          INTEGER PRIMARY KEY,
            run_id      TEXT NOT NULL UNIQUE,
            name        TEXT NOT NULL,
            started     TEXT,{_FIGURE_DDL}
            recorded_at TEXT NOT NULL,
            results     BLOB NOT NULL)""",
        "CREATE INDEX runs_by_name ON runs (name, started)",
        "CREATE INDEX runs_by_started ON runs (started)",
        f"""CREATE TABLE baselines (
            name        TEXT PRIMARY KEY,
            run_id      TEXT NOT NULL,
            test_name   TEXT NOT NULL,
            started     TEXT,{_FIGURE_DDL}
            set_at      TEXT NOT NULL,
            results     BLOB NOT NULL)""",
    ),
    2: (    # saved profiles (store/profiles.py); a run remembers the profile it ran
        "ALTER TABLE runs ADD COLUMN profile TEXT",
        "ALTER TABLE runs ADD COLUMN profile_version INTEGER",
        """CREATE TABLE profiles (
            id          TEXT PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            latest      INTEGER NOT NULL,
            description TEXT NOT NULL,
            tags        TEXT NOT NULL,
            metadata    TEXT NOT NULL,
            secrets     INTEGER NOT NULL,
            created_at  TEXT NOT NULL,
            created_by  TEXT NOT NULL,
            updated_at  TEXT NOT NULL,
            updated_by  TEXT NOT NULL)""",
        """CREATE TABLE profile_versions (
            profile_id  TEXT NOT NULL,
            version     INTEGER NOT NULL,
            saved_at    TEXT NOT NULL,
            saved_by    TEXT NOT NULL,
            description TEXT NOT NULL,
            tags        TEXT NOT NULL,
            metadata    TEXT NOT NULL,
            config      BLOB NOT NULL,
            secrets     TEXT NOT NULL,
            PRIMARY KEY (profile_id, version))""",
    ),
}
assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


class StoreError(Exception):
    """The store cannot do what was asked (unreadable file, newer schema, bad name...)."""


class StoreBusy(StoreError):
    """Another process held the store's write lock for longer than BUSY_TIMEOUT_MS."""


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _translated(path: Path, exc: sqlite3.Error) -> StoreError:
    if _is_busy(exc):
        return StoreBusy(f"{path} stayed locked by another process for over "
                         f"{BUSY_TIMEOUT_MS // 1000} s; try again")
    return StoreError(f"{path} is not a usable lunge_mp history store ({exc}); "
                      f"point --store or ${ENV_VAR} elsewhere")


def _sql_errors(method: Callable) -> Callable:
    """SQLite failures leave a Store method as StoreError (StoreBusy when it was a lock)."""
    @functools.wraps(method)
    def wrapper(self: Store, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _translated(self.path, exc) from exc
    return wrapper


def default_store_path(env: Mapping[str, str] | None = None) -> Path:
    """$LUNGE_MP_STORE, else $XDG_DATA_HOME/lunge_mp/history.db, else ~/.local/share/lunge_mp/history.db."""
    env = os.environ if env is None else env
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR]).expanduser()
    data = env.get("XDG_DATA_HOME") or ""
    if os.path.isabs(data):          # the XDG spec: a relative XDG_DATA_HOME is ignored
        base = Path(data)
    else:
        base = Path(env.get("HOME") or Path.home()) / ".local" / "share"
    return base / "lunge_mp" / "history.db"


def store_problem(path: str | os.PathLike | None = None) -> str | None:
    """Why the history store at `path` (default: default_store_path) cannot be used, or None:
    it must be a regular file (a link to one) or not exist yet (lunge_mp.safe_output)."""
    from lunge_mp.safe_output import kernel_fs_problem, output_problem

    where = Path(path).expanduser() if path else default_store_path()
    # a missing folder is created on first use; what is there must take a regular file
    problem = output_problem(where) if where.parent.is_dir() else kernel_fs_problem(where)
    return f"history store (--store, ${ENV_VAR}): {problem}" if problem else None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def pack(results: dict) -> bytes:
    """The results document as compressed JSON, without `histograms` (they are most of its size)."""
    slim = {k: v for k, v in results.items() if k != "histograms"}
    return zlib.compress(json.dumps(slim, separators=(",", ":")).encode(), 6)


def unpack(blob: bytes) -> dict:
    return json.loads(zlib.decompress(blob))


def run_id_of(results: dict) -> str:
    """The document's runId; one derived from its content if it has none (so still idempotent)."""
    rid = results.get("runId")
    if isinstance(rid, str) and rid:
        return rid
    digest = hashlib.sha1(pack(results)).hexdigest()[:12]
    return f"doc-{digest}"


def key_figures(results: dict) -> dict:
    """The columns stored beside the blob: what `history` lists and trends are drawn from."""
    m = results["metrics"]
    duration = results.get("durationSeconds")
    return {
        "status": results.get("status"),
        "exit_code": results.get("exitCode"),
        "duration_s": duration if isinstance(duration, (int, float)) else None,
        "requests": (m.get("http_reqs") or {}).get("count"),
        "rate": metric_value(m, "rps"),
        "error_rate": metric_value(m, "error_rate"),
        "p50_ms": metric_value(m, "p50"),
        "p95_ms": metric_value(m, "p95"),
        "p99_ms": metric_value(m, "p99"),
        "efficiency": run_efficiency(results),
    }


def _figures_out(row: sqlite3.Row) -> dict:
    return {"status": row["status"], "exitCode": row["exit_code"], "durationSeconds": row["duration_s"],
            "requests": row["requests"], "rate": row["rate"], "errorRate": row["error_rate"],
            "p50": row["p50_ms"], "p95": row["p95_ms"], "p99": row["p99_ms"],
            "efficiency": row["efficiency"]}


def check_baseline_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise StoreError("a baseline needs a name, e.g. 'nightly' or 'v1.4-release'")
    if len(name) > MAX_BASELINE_NAME:
        raise StoreError(f"baseline name is {len(name)} characters long; keep it under {MAX_BASELINE_NAME}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise StoreError(f"baseline name {name!r} contains control characters")
    return name


class Store:
    """The history database at `path` (created with its folders when missing).

    One connection per Store, autocommit, short explicit transactions. Use as a context
    manager or call close(); a forgotten Store is closed when collected.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path).expanduser() if path else default_store_path()
        problem = store_problem(self.path)
        if problem:
            raise StoreError(problem)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the history store {self.path}: {exc}; "
                             f"point --store or ${ENV_VAR} at a writable file") from exc
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._enable_wal()
            self._db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: safe against crashes
            self._migrate()
        except sqlite3.Error as exc:
            self._db.close()
            raise _translated(self.path, exc) from exc
        except StoreError:
            self._db.close()
            raise

    # -- plumbing ----------------------------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; the write lock is taken at BEGIN, so no upgrade deadlock."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    def _enable_wal(self) -> None:
        """Switch the file to WAL (persistent, so once per file). Changing the journal mode
        needs an exclusive lock and SQLite answers "locked" at once instead of waiting, so
        wait here, up to the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        pause = 0.002
        while True:
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.1)

    @_sql_errors
    def schema_version(self) -> int:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return 0
            raise
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        if self.schema_version() == SCHEMA_VERSION:
            return
        with self._write() as db:   # re-read under the lock: another process may have migrated
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            version = self.schema_version()
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {version}, newer than this "
                                 f"lunge_mp understands ({SCHEMA_VERSION}); upgrade lunge_mp")
            if version == 0:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('created_at', ?)", (_now(),))
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[v]:
                    db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    # -- runs ----------------------------------------------------------------------------------

    @_sql_errors
    def record(self, results: dict) -> tuple[int, bool]:
        """Add a run; (row id, True if it was new). A runId already stored is left as it is."""
        try:
            validate_results(results)
        except ValueError as exc:
            raise StoreError(str(exc)) from exc
        run_id = run_id_of(results)
        blob, figures = pack(results), key_figures(results)   # work done before the lock
        profile = results.get("profile") if isinstance(results.get("profile"), dict) else {}
        columns = ("run_id", "name", "started", *_FIGURES, "profile", "profile_version",
                   "recorded_at", "results")
        values = (run_id, str(results.get("name") or ""), results.get("startTime"),
                  *(figures[f] for f in _FIGURES), profile.get("name"), profile.get("version"),
                  _now(), blob)
        with self._write() as db:
            row = db.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row:
                return row[0], False
            cur = db.execute(f"INSERT INTO runs ({', '.join(columns)}) "
                             f"VALUES ({', '.join('?' * len(columns))})", values)
            return int(cur.lastrowid), True

    def record_run(self, results: dict) -> int:
        """Add a run to the history and return its row id (the existing one if already there)."""
        return self.record(results)[0]

    @_sql_errors
    def runs(self, name: str | None = None, limit: int | None = 20,
             names: list[str] | None = None) -> list[dict]:
        """Recorded runs, newest first: key figures only (get_run gives the whole document).

        `name`: runs of that test; `names`: runs of any of those tests.
        """
        sql = "SELECT * FROM runs"
        args: list = []
        if name is not None:
            names = [name]
        if names is not None:
            sql += f" WHERE name IN ({', '.join('?' * len(names))})" if names else " WHERE 0"
            args.extend(names)
        sql += " ORDER BY started DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, int(limit)))
        return [{"id": r["id"], "runId": r["run_id"], "name": r["name"], "startTime": r["started"],
                 **_figures_out(r), "profile": r["profile"], "profileVersion": r["profile_version"],
                 "recordedAt": r["recorded_at"]}
                for r in self._db.execute(sql, args)]

    @_sql_errors
    def match_names(self, text: str) -> list[str]:
        """The test names `text` means: itself when runs have exactly that name, else every
        recorded name containing it, ignoring case (sorted)."""
        names = [r[0] for r in self._db.execute("SELECT DISTINCT name FROM runs") if r[0] is not None]
        if text in names:
            return [text]
        needle = text.strip().casefold()
        return sorted(n for n in names if needle in n.casefold())

    @_sql_errors
    def get_run(self, run_id: str | int) -> dict | None:
        """The stored results document of a run, by runId (str) or row id (int); None if unknown."""
        column = "id" if isinstance(run_id, int) else "run_id"
        row = self._db.execute(f"SELECT results FROM runs WHERE {column} = ?", (run_id,)).fetchone()
        return unpack(row[0]) if row else None

    @_sql_errors
    def resolve_run_id(self, text: str) -> str | None:
        """A full runId from a unique prefix of one (or a `#row` id); None if nothing matches."""
        text = text.strip()
        if text.startswith("#") and text[1:].isdigit():
            row = self._db.execute("SELECT run_id FROM runs WHERE id = ?", (int(text[1:]),)).fetchone()
            return row[0] if row else None
        rows = self._db.execute(
            "SELECT run_id FROM runs WHERE run_id = ? UNION "
            "SELECT run_id FROM runs WHERE substr(run_id, 1, length(?)) = ? LIMIT 3",
            (text, text, text)).fetchall()
        ids = [r[0] for r in rows]
        if text in ids:
            return text
        if len(ids) > 1:
            raise StoreError(f"run id '{text}' is ambiguous ({', '.join(ids)}...); give more of it")
        return ids[0] if ids else None

    # -- baselines -------------------------------------------------------------------------

    @_sql_errors
    def set_baseline(self, name: str, results: dict) -> str | None:
        """Make `results` the baseline called `name`; returns the runId it replaced, if any."""
        name = check_baseline_name(name)
        try:
            validate_results(results)
        except ValueError as exc:
            raise StoreError(str(exc)) from exc
        blob, figures = pack(results), key_figures(results)
        columns = ("name", "run_id", "test_name", "started", *_FIGURES, "set_at", "results")
        values = (name, run_id_of(results), str(results.get("name") or ""), results.get("startTime"),
                  *(figures[f] for f in _FIGURES), _now(), blob)
        with self._write() as db:
            old = db.execute("SELECT run_id FROM baselines WHERE name = ?", (name,)).fetchone()
            db.execute(f"INSERT OR REPLACE INTO baselines ({', '.join(columns)}) "
                       f"VALUES ({', '.join('?' * len(columns))})", values)
        return old[0] if old else None

    @_sql_errors
    def get_baseline(self, name: str) -> dict | None:
        """The results document stored as baseline `name`, or None."""
        row = self._db.execute("SELECT results FROM baselines WHERE name = ?", (name.strip(),)).fetchone()
        return unpack(row[0]) if row else None

    @_sql_errors
    def baselines(self) -> list[dict]:
        """Every baseline by name: which run it is, when it was set, its key figures."""
        return [{"name": r["name"], "runId": r["run_id"], "testName": r["test_name"],
                 "startTime": r["started"], "setAt": r["set_at"], **_figures_out(r)}
                for r in self._db.execute("SELECT * FROM baselines ORDER BY name")]

    @_sql_errors
    def delete_baseline(self, name: str) -> bool:
        """Remove baseline `name`; False if there was none. Runs in the history stay."""
        with self._write() as db:
            return db.execute("DELETE FROM baselines WHERE name = ?", (name.strip(),)).rowcount > 0


def record_after_run(results: dict, path: str | os.PathLike | None = None,
                     err: TextIO | None = None) -> int | None:
    """Add a finished run to the history; for the end of `lunge-mp run`.

    A run never fails because of its history: any store problem is one warning line on
    stderr and None. Returns the run's row id otherwise.
    """
    try:
        with Store(path) as store:
            return store.record_run(results)
    except (StoreError, sqlite3.Error, OSError) as exc:
        print(f"warning: run not added to the history store: {exc}", file=err or sys.stderr)
        return None
