"""Writing every requested report file; one failing writer never stops the others."""

from __future__ import annotations

import os
import sys

import msgspec

FORMATS = ("json", "html", "csv", "junit")


def write_json(path: str, doc: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(msgspec.json.format(msgspec.json.encode(doc), indent=2))
    os.replace(tmp, path)


def _writer(fmt: str):
    if fmt == "json":
        return write_json
    if fmt == "html":
        from lunge_mp.report.html import write_html
        return lambda path, doc: write_html(doc, path)
    if fmt == "csv":
        from lunge_mp.report.csv_report import write_csv
        return lambda path, doc: write_csv(doc, path)
    from lunge_mp.report.junit import write_junit
    return lambda path, doc: write_junit(doc, path)


def write_reports(results: dict, paths: dict[str, str]) -> list[str]:
    """Write `results` as each format in `paths` (format → file); returns what was written."""
    written = []
    for fmt in FORMATS:
        path = paths.get(fmt)
        if not path:
            continue
        try:
            _writer(fmt)(path, results)
            written.append(path)
        except OSError as exc:
            print(f"error: could not write the {fmt} report to {path}: {exc.strerror or exc}", file=sys.stderr)
    return written


def check_writable(paths: dict[str, str]) -> str | None:
    """A message for the first output path whose folder cannot be written, else None."""
    for fmt, path in paths.items():
        if not path:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            return f"cannot write the {fmt} report to {path}: {folder} is not a writable folder"
    return None
