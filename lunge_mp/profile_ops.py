"""What the CLI and the API do with a profile's config: check it, read it, ready it for a run.

- `read_config_file(path, overrides)`: the document `lunge-mp profile save` stores: the file
  read as `run` reads it (`${VAR}` expanded, `-e` applied), at most MAX_CONFIG_BYTES, data
  file paths made absolute (a profile runs from any folder), and checked.
- `check_config(doc, source)`: a runnable Lunge v2 config or one ConfigError listing every
  problem with its field path (the checks of `lunge-mp validate`), secrets masked in it.
- `config_for_run(version, keys, overrides)`: the stored config with its secrets decrypted and
  `-e NAME=VALUE` applied to its variables, and its Plan, tagged with the profile it came from.
- `save_checked(store_path, name, config, ...)`: check and save in one call, audited (the
  control plane's `save_profile: true` on a pattern start).
- `audit(log, action, ...)`: one audit line; a log that cannot be written is a warning, never
  a failed operation.

A profile's `${VAR}`s were expanded when it was saved: the profile is the test as it was
checked. A run changes it only through variables (`-e NAME=VALUE`).
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from lunge_mp.config.errors import ConfigError
from lunge_mp.config.loader import (load_document, override_variables, read_text, resolve_data_files,
                                     unused_overrides, with_thresholds)
from lunge_mp.config.safe_load import TooLarge, check_tree
from lunge_mp.config.v1 import is_v1
from lunge_mp.config.validate import plan_from_dict
from lunge_mp.plan import Plan, ProfileRef
from lunge_mp.redact import Redactor
from lunge_mp.store import profile_secrets
from lunge_mp.store.audit import AuditLog
from lunge_mp.store.profile_crypto import KeyRing
from lunge_mp.store.profiles import ProfileStore, ProfileVersion
from lunge_mp.suggest import suggest

MAX_CONFIG_BYTES = 1 << 20      # 1 MiB: the API's body limit too


def local_user() -> str:
    """Who saves from the CLI: $USER (or the login name), else `local`."""
    try:
        return os.environ.get("USER") or getpass.getuser() or "local"
    except (KeyError, OSError):
        return "local"


def _too_big(size: int, what: str) -> ConfigError:
    return ConfigError([f"(root): {what} is {size / 1e6:.1f} MB; a profile's config may be at most "
                        f"{MAX_CONFIG_BYTES // (1 << 20)} MB"])


def run_problems(plan: Plan) -> list[str]:
    """What keeps a valid plan from running (explain.explain checks the same)."""
    from lunge_mp.analysis.guardrails import plan_problems
    from lunge_mp.scenario.preflight import unknown_template_names

    return unknown_template_names(plan) + plan_problems(plan)


def check_shape(doc: Any, source: str = "") -> None:
    """ConfigError unless the document keeps within the config limits (config/safe_load.py:
    values, text and nesting, YAML aliases counted as all they stand for), as a file does."""
    try:
        check_tree(doc)
    except TooLarge as exc:
        raise ConfigError([f"(root): {exc}"], source) from None


def normalize(doc: Any) -> Any:
    """The document as JSON would hold it (YAML dates become text, keys become strings)."""
    return json.loads(json.dumps(doc, default=str))


def check_config(doc: Any, source: str, base_dir: str | os.PathLike[str] | None = None) -> Plan:
    """The plan of a runnable Lunge v2 config document; ConfigError (secrets masked) otherwise."""
    check_shape(doc, source)
    size = len(json.dumps(doc, default=str, separators=(",", ":")))
    if size > MAX_CONFIG_BYTES:
        raise _too_big(size, "the config")
    redactor = Redactor(profile_secrets.find(doc)[1])
    try:
        if is_v1(doc):
            raise ConfigError(["(root): a profile holds a Lunge v2 config (name, scenarios); this is a "
                               "Lunge v1 file, which `lunge-mp perf -c FILE` runs"], source)
        plan = plan_from_dict(doc, source=source)
        plan = resolve_data_files(plan, base_dir or os.getcwd())
        problems = run_problems(plan)
        if problems:
            raise ConfigError(problems, source)
    except ConfigError as exc:
        raise ConfigError([redactor.text(line) for line in exc.errors], source) from None
    return plan


def absolute_data_paths(doc: Any, base_dir: Path) -> Any:
    """`data[i].file` (top level and per scenario) resolved against the config's folder."""
    def fix(sources: Any) -> Any:
        if not isinstance(sources, list):
            return sources
        return [{**s, "file": str((base_dir / Path(s["file"]).expanduser()).resolve())}
                if isinstance(s, Mapping) and isinstance(s.get("file"), str) and s["file"] else s
                for s in sources]

    if not isinstance(doc, Mapping):
        return doc
    out = dict(doc)
    if "data" in out:
        out["data"] = fix(out["data"])
    if isinstance(out.get("scenarios"), Mapping):
        out["scenarios"] = {name: {**sc, "data": fix(sc["data"])} if isinstance(sc, Mapping) and "data" in sc
                            else sc for name, sc in out["scenarios"].items()}
    return out


def read_config_file(path: str, overrides: Mapping[str, str] | None = None) -> Any:
    """The checked document of the config file at `path`, as `profile save` stores it."""
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0            # load_document says what is wrong with the path
    if size > MAX_CONFIG_BYTES:
        raise _too_big(size, path)
    overrides = dict(overrides or {})
    doc = load_document(path, overrides)
    check_shape(doc, path)
    unused = unused_overrides(read_text(path), doc, overrides)      # a typo in -e, as `run` refuses it
    if unused:
        raise ConfigError(unused, path)
    doc = normalize(override_variables(doc, overrides))
    doc = absolute_data_paths(doc, Path(path).resolve().parent)
    check_config(doc, path)
    return doc


def config_for_run(version: ProfileVersion, keys: KeyRing, overrides: Mapping[str, str] | None = None,
                   thresholds: Mapping[str, list[str]] | None = None) -> tuple[dict, Plan]:
    """(the config with its secrets, its Plan) for running `version`, with `thresholds`
    (`--threshold METRIC:EXPR`) added to its own.

    SecretUnreadable if a secret cannot be decrypted (and no override gives it);
    ConfigError if an override names no variable or the result does not check."""
    overrides = dict(overrides or {})
    source = f"profile {version.name} v{version.version}"
    variables = version.config.get("variables") if isinstance(version.config, Mapping) else None
    known = [n for n in (variables or {}) if isinstance(n, str)]
    unknown = [n for n in overrides if n not in known]
    if unknown:
        hint = suggest(unknown[0], sorted(known))
        raise ConfigError([f"-e {unknown[0]}: profile '{version.name}' has no variable '{unknown[0]}' "
                           f"(its ${{VAR}}s were expanded when it was saved); "
                           + (f"did you mean {hint}?" if hint else
                              f"its variables: {', '.join(known)}" if known else "it has no variables")],
                          source)
    doc = version.reveal(keys, provided={("variables", n, "value") for n in overrides})
    doc = with_thresholds(override_variables(doc, overrides), thresholds)
    plan = check_config(doc, source)
    ref = ProfileRef(id=version.id, name=version.name, version=version.version)
    return doc, msgspec.structs.replace(plan, profile=ref)


def audit(log: AuditLog | None, action: str, *, identity: str = "local", client: str = "cli",
          outcome: str = "ok", **fields: Any) -> str | None:
    """Record one profile operation; a warning text if the log could not be written."""
    if log is None:
        return None
    try:
        log.record(action, identity=identity, client=client, outcome=outcome, **fields)
    except OSError as exc:
        return f"audit log {log.path} not written: {exc.strerror or exc}"
    return None


def save_checked(store_path: str | os.PathLike[str] | None, name: str, config: Any, *, by: str,
                 audit_log: AuditLog | None = None, client: str = "cli",
                 description: str | None = None, tags: list[str] | None = None) -> ProfileVersion:
    """Check `config` (ConfigError if it cannot run: nothing stored) and save it as the next
    version of profile `name` in the store at `store_path`; audited as `profile.save`."""
    check_shape(config, f"profile {name}")
    config = absolute_data_paths(normalize(config), Path.cwd())
    check_config(config, f"profile {name}")
    with ProfileStore(store_path) as store:
        saved = store.save(name, config, by=by, keys=KeyRing(store.path), description=description,
                           tags=tags)
    audit(audit_log, "profile.save", identity=by, client=client, name=saved.name,
          version=saved.version, profile_id=saved.id, secrets=len(saved.secrets))
    return saved
