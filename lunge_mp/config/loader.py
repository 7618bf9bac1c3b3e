"""File → text → `${VAR}` expansion → YAML/JSON document → Plan (`load_plan`, in v1_read.py,
reads a file that may also be a Lunge v1 one).

This is the only part of lunge_mp.config that touches the file system or the environment
(the config file, and the CSV files of `data:` sources, resolved against the config's folder).
Format is chosen by extension (.yaml/.yml/.json); otherwise a document starting with `{` or
`[` is read as JSON (its errors are clearer than YAML's for JSON text) and anything else as
YAML. Parse errors carry the line and column. A YAML file with several documents (`---`) is
read as Lunge reads it: the first document, with a warning when the others hold anything. YAML duplicate keys are errors: PyYAML would
keep the last one silently, and a duplicated scenario name would quietly drop a scenario.

No file can exhaust memory or time (limits.py): a config must be a regular file of at
most CONFIG_BYTES (also after `${VAR}` expansion), and safe_load.py bounds what its document
expands to before building it.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from lunge_mp import limits
from lunge_mp.config.envexpand import expand_env, referenced_names
from lunge_mp.config.errors import ConfigError, Errors
from lunge_mp.config.safe_load import DuplicateKey, TooLarge, UniqueKeyLoader, check_yaml, load_json
from lunge_mp.config.v1 import is_v1
from lunge_mp.config.validate import plan_from_dict
from lunge_mp.plan import DataSource, Plan
from lunge_mp.scenario.data import DataFileError, read_table
from lunge_mp.suggest import suggest

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)


def plan_from_document(doc: Any, source: str, overrides: Mapping[str, str] | None = None,
                       thresholds: Mapping[str, list[str]] | None = None) -> Plan:
    """load_plan after the file is read (`validate` parses it once): a v2 document → its Plan."""
    overrides = dict(overrides or {})
    if is_v1(doc):
        raise ConfigError([f"(root): {source} is a Lunge v1 config (environments, requests, performance); "
                           f"run one of its performance tests with `lunge-mp perf -c {source} -e ENV -p TEST`, "
                           f"or one request with `lunge-mp perf -c {source} -e ENV -r REQUEST --duration 30s`; "
                           f"run a suite's tests with `lunge-mp test -c {source} -e ENV -s SUITE`"],
                          source)
    unused = unused_overrides(read_text(source), doc, overrides) if overrides else []
    if unused:
        raise ConfigError(unused, source)
    if thresholds:      # `run --threshold`: added to the file's own, validated with them
        doc = with_thresholds(doc, thresholds)
    plan = plan_from_dict(override_variables(doc, overrides), source=source)
    return resolve_data_files(plan, Path(source).resolve().parent)


def with_thresholds(doc: Any, thresholds: Mapping[str, list[str]] | None) -> Any:
    """The document with --threshold METRIC:EXPR entries added to its own (both apply)."""
    if not thresholds or not isinstance(doc, Mapping):
        return doc
    merged = dict(doc.get("thresholds") or {}) if isinstance(doc.get("thresholds"), Mapping) else {}
    for metric, exprs in thresholds.items():
        own = merged.get(metric, [])
        merged[metric] = (own if isinstance(own, list) else [own]) + list(exprs)
    return {**doc, "thresholds": merged}


def unused_overrides(text: str, doc: Any, overrides: Mapping[str, str]) -> list[str]:
    """An error for each `-e KEY=VALUE` that the config would ignore: no `${KEY}` in its text
    and no variable KEY (a typo such as PASWORD would otherwise run with the old value)."""
    variables = doc.get("variables") if isinstance(doc, Mapping) else None
    known = referenced_names(text) | {k for k in (variables or {}) if isinstance(k, str)}
    errors = []
    for key in overrides:
        if key not in known:
            hint = suggest(key, sorted(known))
            errors.append(f"-e {key}: the config has no ${{{key}}} and no variable {key}, so the value "
                          f"would be ignored; " + (f"did you mean {hint}?" if hint else
                                                   f"it uses: {', '.join(sorted(known)) or 'none'}"))
    return errors


def load_document(path: str | os.PathLike[str], overrides: Mapping[str, str] | None = None,
                  environ: Mapping[str, str] | None = None) -> Any:
    """The parsed document of a config file (v1 or v2), after `${VAR}` expansion."""
    source = str(path)
    text = read_text(source)
    fmt = detect_format(source, text)
    text = expand_env(text, dict(overrides or {}), os.environ if environ is None else environ,
                      skip_comments=fmt == "yaml", source=source, max_chars=limits.CONFIG_BYTES)
    return parse_text(text, fmt, source)


def resolve_data_files(plan: Plan, base_dir: str | os.PathLike[str]) -> Plan:
    """Each data source's file resolved against `base_dir` (the config file's folder), read
    and checked (exists, valid CSV with a header, at least one row); its columns and row
    count go into the plan. ConfigError lists every file that cannot be used."""
    if not plan.data and not any(s.data for s in plan.scenarios):
        return plan
    errs = Errors()
    tables: dict[str, tuple[tuple[str, ...], int]] = {}

    def resolve(sources: tuple[DataSource, ...], path: str) -> tuple[DataSource, ...]:
        out = []
        for i, src in enumerate(sources):
            full = str((Path(base_dir) / Path(src.file).expanduser()).resolve())
            if full not in tables:
                try:
                    columns, rows = read_table(full)
                except DataFileError as e:
                    errs.add(f"{path}[{i}].file", f"{e}")
                    tables[full] = ((), -1)
                    continue
                if not rows:
                    errs.add(f"{path}[{i}].file", f"{full} has a header but no rows")
                tables[full] = (columns, len(rows))
            columns, count = tables[full]
            if count >= 0:
                out.append(msgspec.structs.replace(src, path=full, columns=columns, rows=count))
        return tuple(out)

    top = resolve(plan.data, "data")
    scenarios = tuple(msgspec.structs.replace(s, data=resolve(s.data, f"scenarios.{s.name}.data"))
                      if s.data else s for s in plan.scenarios)
    errs.raise_if_any(plan.source)
    return msgspec.structs.replace(plan, data=top, scenarios=scenarios)


def read_text(path: str) -> str:
    """The text of a config file: a regular file (a FIFO or a device would block or never end)
    of at most CONFIG_BYTES, read without ever holding more than that."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)     # a FIFO opens at once, then is refused
        with open(fd, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError
            if not stat.S_ISREG(mode):
                raise ConfigError([f"{path}: not a regular file (a FIFO, socket or device); "
                                   f"give the config file itself"], path)
            data = f.read(limits.CONFIG_BYTES + 1)
        if len(data) > limits.CONFIG_BYTES:
            raise ConfigError([f"{path}: larger than {limits.CONFIG_BYTES // (1024 * 1024)} MiB, the most "
                               f"a config file may be; keep large data in a data file (data: ... file:)"],
                              path)
        return data.decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"], path) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a config file"], path) from None
    except UnicodeDecodeError as e:
        raise ConfigError([f"{path}: not UTF-8 text (byte {e.start})"], path) from None
    except OSError as e:
        raise ConfigError([f"{path}: cannot read: {e.strerror or e}"], path) from None


def detect_format(path: str, text: str) -> str:
    """'yaml' or 'json': by extension, else by the first non-blank character."""
    suffix = Path(path).suffix.lower()
    if suffix in YAML_SUFFIXES:
        return "yaml"
    if suffix in JSON_SUFFIXES:
        return "json"
    return "json" if text.lstrip()[:1] in ("{", "[") else "yaml"


def parse_text(text: str, fmt: str, source: str = "") -> Any:
    """Parse YAML or JSON text; ConfigError carries `line N, column M` of the problem."""
    where = f"{source}: " if source else ""
    if fmt == "json":
        try:
            return load_json(text)
        except json.JSONDecodeError as e:
            raise ConfigError([f"{where}line {e.lineno}, column {e.colno}: invalid JSON: {e.msg}"],
                              source) from None
        except DuplicateKey as e:
            raise ConfigError([f"{where}invalid JSON: duplicate key '{e.key}'"], source) from None
        except TooLarge as e:
            raise ConfigError([f"{where}too large: {e}"], source) from None
        except RecursionError:
            raise ConfigError([f"{where}invalid JSON: nested more than {limits.DEPTH} levels deep"],
                              source) from None
        except ValueError as e:     # e.g. an integer of more digits than Python converts
            raise ConfigError([f"{where}invalid JSON: {e}"], source) from None
    try:
        return _first_document(text, where)
    except TooLarge as e:
        raise ConfigError([f"{where}too large: {e}"], source) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = e.problem or "syntax error"
        context = f" ({e.context})" if e.context else ""
        raise ConfigError([f"{where}{at}invalid YAML: {problem}{context}"], source) from None
    except yaml.YAMLError as e:
        raise ConfigError([f"{where}invalid YAML: {e}"], source) from None
    except RecursionError:
        raise ConfigError([f"{where}invalid YAML: nested too deeply"], source) from None
    except ValueError as e:     # a bad timestamp (2024-13-45), an integer of too many digits
        raise ConfigError([f"{where}invalid YAML: {_value_problem(e)}"], source) from None


def _value_problem(e: ValueError) -> str:
    if "integer string conversion" in str(e):
        return "a number with thousands of digits; no field takes one"
    return str(e)


_WARNED: set[str] = set()    # files already warned about (a file may be read more than once)


def _first_document(text: str, where: str) -> Any:
    """The first YAML document, as Lunge reads it; a warning on stderr when later documents
    hold anything (they are ignored, not merged). The limits hold for the whole text."""
    check_yaml(text)
    docs = yaml.load_all(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    first = next(docs, None)
    ignored = sum(1 for doc in docs if doc is not None)
    if ignored and where not in _WARNED:
        _WARNED.add(where)
        print(f"warning: {where}only the first YAML document is read; {ignored} more after `---` "
              f"{'is' if ignored == 1 else 'are'} ignored", file=sys.stderr)
    return first


def override_variables(doc: Any, overrides: Mapping[str, str]) -> Any:
    """Replace `variables.NAME` (or its `value`) with overrides[NAME]; a secret stays secret."""
    if not overrides or not isinstance(doc, Mapping) or not isinstance(doc.get("variables"), Mapping):
        return doc
    variables = dict(doc["variables"])
    for name, value in variables.items():
        if isinstance(name, str) and name in overrides:
            if isinstance(value, Mapping):
                variables[name] = {**value, "value": overrides[name]}
            else:
                variables[name] = overrides[name]
    return {**doc, "variables": variables}
