"""Writing every requested report file; one failing writer never stops the others.

Every writer goes through lunge_mp.safe_output: paths are checked before the run
(`check_writable`) and each file is written atomically, never over a device, FIFO or link.
"""

from __future__ import annotations

import sys

import msgspec

from lunge_mp.safe_output import output_problem, write_atomic

FORMATS = ("json", "html", "csv", "junit")
#: the command-line flag of each format, to name in a refusal
FLAGS = {"json": "--out", "html": "--html", "csv": "--csv", "junit": "--junit"}


def write_json(path: str, doc: dict) -> None:
    write_atomic(path, msgspec.json.format(msgspec.json.encode(doc), indent=2))


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


def check_writable(paths: dict[str, str], labels: dict[str, str] | None = None) -> str | None:
    """A message for the first output path we may not write (safe_output.output_problem),
    naming its flag (`labels`: format → flag or config field; default the CLI flag)."""
    for fmt, path in paths.items():
        if not path:
            continue
        problem = output_problem(path, (labels or FLAGS).get(fmt, FLAGS.get(fmt, fmt)))
        if problem:
            return problem
    return None
