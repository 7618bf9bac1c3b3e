"""Data feeders: CSV rows handed to iterations as `{{name.column}}` values. Pure, except
`read_table`, which reads a file.

A data source is a CSV file with a header row, or a JSON file (`.json`) holding an array of
objects, each with the same keys: the keys are the columns (a string value as it is, any
other value as its JSON text, so `{"id": 7}` gives `7`). Each iteration of a scenario that uses the
source (names `{{users.email}}` anywhere in its requests) takes one row at its start; the
row's values are visible to that iteration's requests as `users.<column>`.

How rows are handed out, with W workers and this worker's index w (0 ≤ w < W), n rows:

    sequential   the k-th row this worker takes is row (w + k·W) mod n: together the
                 workers walk the file in order, and wrap around at its end
    random       a row drawn uniformly at random, every time
    unique       row i belongs to worker i mod W only, and is handed out once: the k-th
                 row this worker takes is row w + k·W, while that is < n. After that the
                 source is exhausted on this worker (`take()` returns None), so no row is
                 ever used twice in a run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import stat
from collections.abc import Sequence

from lunge_mp import limits
from lunge_mp.plan import DataSource

MODES = ("sequential", "random", "unique")

Row = dict[str, str]


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the line when it can."""


def parse_csv(text: str) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """(header, rows) of CSV text. Every row must have as many fields as the header; blank
    lines are skipped; a header name may not be empty or repeated."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header: tuple[str, ...] | None = None
        rows: list[tuple[str, ...]] = []
        for fields in reader:
            if not fields or fields == [""]:
                continue
            if header is None:
                header = tuple(f.strip() for f in fields)
                continue
            if len(fields) != len(header):
                raise DataFileError(f"line {reader.line_num}: {len(fields)} fields, but the header "
                                    f"has {len(header)} ({', '.join(header)})")
            rows.append(tuple(fields))
    except csv.Error as e:
        raise DataFileError(f"line {reader.line_num}: invalid CSV: {e}") from None
    if header is None:
        raise DataFileError("empty file: the first line must name the columns, e.g. email,password")
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name:
            raise DataFileError(f"line 1: column {i + 1} has no name")
        if name in seen:
            raise DataFileError(f"line 1: column '{name}' is named twice")
        seen.add(name)
    return header, rows


def parse_json_table(text: str) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """(header, rows) of a JSON array of objects; every object has the first one's keys."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataFileError(f"line {e.lineno}, column {e.colno}: invalid JSON: {e.msg}") from None
    except RecursionError:
        raise DataFileError("invalid JSON: nested too deeply") from None
    if not isinstance(doc, list) or not all(isinstance(item, dict) for item in doc):
        raise DataFileError("a JSON data file must hold an array of objects, e.g. "
                            "[{\"email\": \"a@x.io\", \"password\": \"p\"}]")
    if not doc:
        raise DataFileError("empty array: give at least one object")
    header = tuple(str(k) for k in doc[0])
    if not header:
        raise DataFileError("item 0 has no keys: its keys name the columns")
    rows = []
    for i, item in enumerate(doc):
        if tuple(item) != header and set(item) != set(header):
            raise DataFileError(f"item {i} has keys {', '.join(map(str, item)) or 'none'}, but item 0 has "
                                f"{', '.join(header)}: every object needs the same keys")
        rows.append(tuple(v if isinstance(v, str) else json.dumps(v) for v in (item[k] for k in header)))
    return header, rows


def read_table(path: str) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """(header, rows) of the CSV file (or `.json` array of objects) at `path` (UTF-8, a BOM is
    fine): a regular file of at most limits.DATA_FILE_BYTES, never read past that."""
    try:
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:   # a FIFO opens at once
            mode = os.fstat(f.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError
            if not stat.S_ISREG(mode):
                raise DataFileError(f"not a regular file (a FIFO, socket or device): {path}")
            data = f.read(limits.DATA_FILE_BYTES + 1)
        if len(data) > limits.DATA_FILE_BYTES:
            raise DataFileError(f"larger than {limits.DATA_FILE_BYTES // (1024 * 1024)} MiB, the most a "
                                f"data file may be: {path}")
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise DataFileError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise DataFileError(f"is a directory, not a CSV file: {path}") from None
    except UnicodeDecodeError as e:
        raise DataFileError(f"not UTF-8 text (byte {e.start}): {path}") from None
    except OSError as e:
        raise DataFileError(f"cannot read {path}: {e.strerror or e}") from None
    return parse_json_table(text) if path.lower().endswith(".json") else parse_csv(text)


class Feeder:
    """Hands out the rows of one data source on one worker (see the module docstring).

    `take()` returns a row as a tuple of values in the order of `keys` (`users.email`, ...):
    no per-row dict is kept, and a `unique` feeder keeps only this worker's share.
    """

    __slots__ = ("source", "mode", "keys", "_rows", "_next", "_step", "_rng", "taken")

    def __init__(self, source: DataSource, columns: Sequence[str], rows: Sequence[tuple[str, ...]],
                 worker: int = 0, workers: int = 1, rng: random.Random | None = None) -> None:
        if source.mode not in MODES:
            raise ValueError(f"unknown data mode '{source.mode}'")
        self.source = source
        self.mode = source.mode
        self.keys = tuple(f"{source.name}.{c}" for c in columns)
        step = max(1, workers)
        if source.mode == "unique":
            self._rows = list(rows[worker::step])      # this worker's share: rows w, w+W, ...
            self._next, self._step = 0, 1
        else:
            self._rows = rows if isinstance(rows, list) else list(rows)
            self._next, self._step = worker, step
        self._rng = rng or random.Random()
        self.taken = 0

    def take(self) -> tuple[str, ...] | None:
        """The next row, or None when a unique source has no row left for this worker."""
        rows = self._rows
        if self.mode == "random":
            if not rows:
                return None
            row = rows[self._rng.randrange(len(rows))]
        elif self.mode == "unique":
            if self._next >= len(rows):
                return None
            row = rows[self._next]
            self._next += 1
        else:
            if not rows:
                return None
            row = rows[self._next % len(rows)]
            self._next += self._step
        self.taken += 1
        return row

    def row(self) -> Row | None:
        """`take()` as a mapping of `name.column` → value."""
        values = self.take()
        return None if values is None else dict(zip(self.keys, values))

    @property
    def exhausted(self) -> bool:
        return self.mode == "unique" and self._next >= len(self._rows)


def data_names(template_names: Sequence[str]) -> set[tuple[str, str]]:
    """(source, column) pairs among template names: `users.email` → ("users", "email")."""
    out = set()
    for name in template_names:
        source, dot, column = name.partition(".")
        if dot and source and column:
            out.add((source, column))
    return out
