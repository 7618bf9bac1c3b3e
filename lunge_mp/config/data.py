"""`data:` blocks (top level and per scenario) → DataSource tuples. Pure.

    data:
      - {name: users, file: users.csv, mode: unique}     # mode: sequential (default) | random | unique

The file itself is read by the loader (`loader.resolve_data_files`): it resolves `file`
against the config file's folder, and checks that the file exists, is valid CSV with a
header row and has at least one row. Whether the columns that templates name exist is
checked with the templates (`scenario/preflight.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lunge_mp.config.errors import Errors, describe, index
from lunge_mp.config.fields import Fields
from lunge_mp.plan import DataSource
from lunge_mp.scenario.data import MODES

DATA_KEYS = ("name", "file", "mode")
_NAME = re.compile(r"^[A-Za-z_][\w-]*$")


def parse_data(value: object, path: str, errs: Errors,
               taken: Mapping[str, str] | None = None) -> tuple[tuple[DataSource, ...], dict[str, str]]:
    """(sources, name → field path of each). `taken` maps names already defined elsewhere (the
    top level) to where, so a scenario cannot define the same name again."""
    if value is None:
        return (), {}
    if not isinstance(value, list):
        errs.add(path, f"must be a list like [{{name: users, file: users.csv}}], got {describe(value)}")
        return (), {}
    out: list[DataSource] = []
    seen: dict[str, str] = dict(taken or {})
    where: dict[str, str] = {}
    for i, item in enumerate(value):
        at = index(path, i)
        if not isinstance(item, Mapping):
            errs.add(at, f"must be a mapping like {{name: users, file: users.csv, mode: sequential}}, "
                         f"got {describe(item)}")
            continue
        before = len(errs)
        f = Fields(errs, item, at)
        f.check_keys(DATA_KEYS)
        name = f.str("name", required="required: the name templates use, as in {{users.email}}",
                     nonempty=True)
        if name is not None and not _NAME.match(name):
            f.error("name", f"'{name}' must start with a letter or _ and hold only letters, digits, "
                            f"_ and -, because templates read it as {{{{{name}.column}}}}")
        elif name is not None and name in seen:
            f.error("name", f"'{name}' is already defined at {seen[name]}; pick another name")
        file = f.str("file", required="required: the CSV (or JSON) file, relative to the config file",
                     nonempty=True)
        mode = f.str("mode", "sequential", choices=MODES)
        if len(errs) > before or name is None or file is None:
            continue
        seen[name] = at
        where[name] = at
        out.append(DataSource(name=name, file=file, mode=mode))
    return tuple(out), where
