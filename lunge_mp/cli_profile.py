"""`lunge-mp profile save | list | show | run | export | import | delete | key`: saved tests.

Commands only: arguments in, ProfileStore / profile_ops calls, text and exit code out. A
profile lives in the history store (`--store`, `$LUNGE_MP_STORE`); its secrets are encrypted
with the profile key (store/profile_crypto.py); every change and run goes to the audit log.
`profile run` takes the flags of `lunge-mp run` (the same click parameters) and runs through
the same code path (cli_run.execute_plan).

Exit codes: 0 done, 104 bad input (invalid config, bad name, unknown profile, duplicate import,
a secret that cannot be read: nothing is sent), 1 the store stayed locked; `profile run` exits
with the run's own code.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import click

from lunge_mp.cli_history import STORE_HELP, BadInput, Failure
from lunge_mp.config.errors import ConfigError
from lunge_mp.exit_codes import ExitCode
from lunge_mp.store.audit import AuditLog, default_audit_path
from lunge_mp.store.history import ENV_VAR, StoreBusy, StoreError, default_store_path
from lunge_mp.store.profile_crypto import ENV_VAR as KEY_ENV_VAR, KeyRing, new_key_text
from lunge_mp.store.profiles import ProfileStore, SecretUnreadable, read_export

MAX_EXPORT_BYTES = 2 << 20      # a config (1 MiB at most) plus its encrypted secrets


class _Lines(click.ClickException):
    """An expected failure of several lines (config problems, unreadable secrets): exit 104."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, head: str, lines: list[str]) -> None:
        super().__init__(head)
        self.lines = lines

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(f"error: {self.message}", err=True)
        for line in self.lines:
            click.echo(f"  {line}", err=True)


class _Command(click.Command):
    """Store and config errors anywhere in a command become clear lines and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SecretUnreadable as exc:
            raise _Lines(f"{exc.head}, nothing was sent:", [*exc.fields, exc.hint]) from None
        except StoreBusy as exc:
            raise Failure(str(exc)) from None
        except StoreError as exc:
            raise BadInput(str(exc)) from None
        except ConfigError as exc:
            raise _Lines(f"invalid config in {exc.source or 'the profile'} (nothing stored or sent):",
                         exc.errors) from None


store_option = click.option("--store", "store_path", type=click.Path(dir_okay=False), default=None,
                            envvar=ENV_VAR, show_envvar=True, metavar="PATH",
                            help=STORE_HELP + " Profiles live in it; their key file beside it.")
version_option = click.option("--version", "-V", "version", type=click.IntRange(min=1), default=None,
                              help="A given version (default: the latest).")


class _Context:
    """The store path, key ring, audit log and user of one command."""

    def __init__(self, store_path: str | None) -> None:
        self.store_path = Path(store_path).expanduser() if store_path else default_store_path()
        self.keys = KeyRing(self.store_path)
        self.audit = AuditLog(default_audit_path(self.store_path))
        from lunge_mp.profile_ops import local_user
        self.user = local_user()

    def store(self) -> ProfileStore:
        return ProfileStore(self.store_path)

    def record(self, action: str, outcome: str = "ok", **fields) -> None:
        from lunge_mp.profile_ops import audit
        warning = audit(self.audit, action, identity="local", client="cli", outcome=outcome,
                        user=self.user, **fields)
        if warning:
            click.echo(f"warning: {warning}", err=True)


def _pairs(items: tuple[str, ...], hint: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"'{item}' is not KEY=VALUE", param_hint=hint)
        out[key.strip()] = value
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             short_help="Saved tests: save, list, show, run, export, import, delete.")
def profile() -> None:
    """Saved test profiles: name a test once, run it from anywhere, share it.

    A profile is a checked Lunge v2 config plus a description, tags and metadata. Every save
    of a name adds a version; old versions stay listed and runnable. Secrets (variables
    marked secret: true, Authorization/Cookie/API-key headers, URL passwords) are encrypted
    at rest with the profile key: $LUNGE_MP_PROFILE_KEY, else a key file made beside the
    store on first use (mode 0600). Listing and showing never need the key.

    \b
    Examples:
      lunge-mp profile save checkout checkout.yaml --description "nightly" --tag nightly
      lunge-mp profile list --tag nightly
      lunge-mp profile run checkout -q --out results.json
      lunge-mp profile export checkout > checkout.profile.json
      lunge-mp profile import checkout.profile.json --as checkout-copy
    """


@profile.command("save", cls=_Command, short_help="Save a config as profile NAME (a new version).")
@click.argument("name")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--description", default=None, help="What the test is for (default: the previous version's).")
@click.option("--tag", "-t", "tags", multiple=True, help="A tag (repeatable; replaces the previous version's tags).")
@click.option("--environment", default=None, help="Metadata: the environment it targets, e.g. staging.")
@click.option("--purpose", default=None, help="Metadata: why it runs, e.g. regression.")
@click.option("--expected-load", default=None, help='Metadata: e.g. "500 req/s peak".')
@click.option("--dependency", "dependencies", multiple=True, help="Metadata: a service it needs (repeatable).")
@click.option("--field", "fields", multiple=True, metavar="KEY=VALUE", help="Metadata: a custom field (repeatable).")
@click.option("--env", "-e", "env", multiple=True, metavar="KEY=VALUE",
              help="Set ${KEY} in the config text before it is saved, as `run -e` does. Repeatable.")
@click.option("--env-file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="KEY=VALUE lines (# comments allowed), read as if each were given with -e; -e wins.")
@store_option
def save(name: str, config: str, description: str | None, tags: tuple[str, ...], environment: str | None,
         purpose: str | None, expected_load: str | None, dependencies: tuple[str, ...],
         fields: tuple[str, ...], env: tuple[str, ...], env_file: str | None, store_path: str | None) -> None:
    """Save CONFIG (a Lunge v2 file) as profile NAME: version 1, or the next version.

    The config is checked as `lunge-mp validate` checks it, with ${VAR}s expanded now; an
    invalid one is refused (exit 104) and nothing is stored.

    \b
    Examples:
      lunge-mp profile save checkout checkout.yaml -e BASE_URL=https://staging.example.com
      lunge-mp profile save checkout checkout.yaml --tag nightly --environment staging --field team=web
    """
    from lunge_mp.cli_flags import env_pairs
    from lunge_mp.profile_ops import read_config_file
    from lunge_mp.store.profiles import check_name

    ctx = _Context(store_path)
    check_name(name)
    meta_given = any(v is not None for v in (environment, purpose, expected_load)) or dependencies or fields
    try:
        doc = read_config_file(config, env_pairs(env, env_file))
    except ConfigError:
        ctx.record("profile.save", outcome="refused", name=name, config=config)
        raise
    with ctx.store() as store:
        metadata = None
        if meta_given:
            try:
                metadata = dict(store.get(name).metadata)
            except StoreError:
                metadata = {}
            metadata.update({k: v for k, v in (("environment", environment), ("purpose", purpose),
                                                ("expected_load", expected_load)) if v is not None})
            if dependencies:
                metadata["dependencies"] = list(dependencies)
            if fields:
                metadata["custom_fields"] = {**metadata.get("custom_fields", {}), **_pairs(fields, "--field")}
        saved = store.save(name, doc, by=ctx.user, keys=ctx.keys, description=description,
                           tags=list(tags) if tags else None, metadata=metadata)
    ctx.record("profile.save", name=saved.name, version=saved.version, profile_id=saved.id,
               secrets=len(saved.secrets))
    if ctx.keys.created:
        click.echo(f"made the profile key {ctx.keys.file} (mode 0600): keep a copy; without it the "
                   f"secrets of these profiles cannot be read", err=True)
    secret_note = (f", {len(saved.secrets)} secret(s) encrypted (key {ctx.keys.get().id} from "
                   f"{ctx.keys.describe()})" if saved.secrets and ctx.keys.get() else "")
    click.echo(f"profile '{saved.name}' saved as v{saved.version} (id {saved.id}{secret_note})")


@profile.command("list", cls=_Command, short_help="List the saved profiles.")
@click.option("--tag", "-t", default=None, help="Only profiles with this tag.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@store_option
def list_(tag: str | None, as_json: bool, store_path: str | None) -> None:
    """List the saved profiles (latest versions). Needs no key.

    \b
    Examples:
      lunge-mp profile list
      lunge-mp profile list --tag nightly --json
    """
    from lunge_mp.report.profile_view import profiles_table

    with _Context(store_path).store() as store:
        rows = store.profiles(tag=tag)
    for row in rows:
        if "error" in row:
            click.echo(f"warning: profile '{row['name']}': {row['error']}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(profiles_table(rows), nl=False)


@profile.command("show", cls=_Command, short_help="Show one profile, secrets masked.")
@click.argument("name")
@version_option
@click.option("--json", "as_json", is_flag=True, help="Print the profile (secrets masked) as JSON.")
@store_option
def show(name: str, version: int | None, as_json: bool, store_path: str | None) -> None:
    """Show profile NAME (or id): its fields, versions and config, secrets masked.

    \b
    Examples:
      lunge-mp profile show checkout
      lunge-mp profile show checkout --version 2 --json
    """
    from lunge_mp.report.profile_view import profile_text

    with _Context(store_path).store() as store:
        found = store.get(name, version)
        versions = store.versions(found.id)
    if as_json:
        click.echo(json.dumps({**found.to_dict(), "versions": versions}, indent=2))
    else:
        click.echo(profile_text(found.to_dict(), versions), nl=False)


@profile.command("export", cls=_Command, short_help="Print a profile as portable JSON.")
@click.argument("name")
@version_option
@click.option("--without-secrets", is_flag=True,
              help="Leave the secrets out (they must be given again where it is imported).")
@store_option
def export(name: str, version: int | None, without_secrets: bool, store_path: str | None) -> None:
    """Print profile NAME as a portable JSON document (secrets stay encrypted).

    \b
    Example:
      lunge-mp profile export checkout > checkout.profile.json
    The importing side needs the same key ($LUNGE_MP_PROFILE_KEY) to run its secrets.
    """
    ctx = _Context(store_path)
    with ctx.store() as store:
        found = store.get(name, version)
    click.echo(json.dumps(found.export_doc(with_secrets=not without_secrets), indent=2))
    ctx.record("profile.export", name=found.name, version=found.version, profile_id=found.id,
               with_secrets=not without_secrets)


@profile.command("import", cls=_Command, short_help="Add a profile from an export.")
@click.argument("file", metavar="FILE")
@click.option("--as", "new_name", default=None, help="Import under this name instead of the exported one.")
@store_option
def import_(file: str, new_name: str | None, store_path: str | None) -> None:
    """Add the profile exported in FILE ('-': stdin) as a new profile (version 1).

    \b
    Examples:
      lunge-mp profile import checkout.profile.json
      lunge-mp profile import checkout.profile.json --as checkout-eu
    """
    from lunge_mp.profile_ops import check_config

    ctx = _Context(store_path)
    try:
        data = sys.stdin.buffer.read(MAX_EXPORT_BYTES + 1) if file == "-" else _read_limited(file)
    except OSError as exc:
        raise BadInput(f"cannot read {file}: {exc.strerror or exc}") from None
    if len(data) > MAX_EXPORT_BYTES:
        raise BadInput(f"{file} is over {MAX_EXPORT_BYTES >> 20} MB; not a profile export")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadInput(f"{file} is not a profile export (not JSON: {type(exc).__name__})") from None
    parts = read_export(doc)
    name = new_name or parts["name"]
    from lunge_mp.store.profiles import check_name
    check_name(name)
    check_config(parts["config"], f"{file} (profile {name})")
    with ctx.store() as store:
        saved = store.save(name, parts["config"], by=ctx.user, keys=ctx.keys, mode="create",
                           description=parts["description"], tags=parts["tags"],
                           metadata=parts["metadata"], imported=parts["imported"])
    ctx.record("profile.import", name=saved.name, version=saved.version, profile_id=saved.id,
               secrets=len(saved.secrets))
    missing = [s.field for s in saved.secrets if s.ciphertext is None]
    click.echo(f"profile '{saved.name}' imported as v1 (id {saved.id})")
    if missing:
        click.echo(f"note: {len(missing)} secret(s) were left out of the export ({', '.join(missing)}); "
                   f"a run needs them (a variable can be given with -e NAME=VALUE)", err=True)


def _read_limited(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(MAX_EXPORT_BYTES + 1)


@profile.command("delete", cls=_Command, short_help="Delete a profile and its versions.")
@click.argument("name")
@store_option
def delete(name: str, store_path: str | None) -> None:
    """Delete profile NAME (or id) and all its versions. Runs in the history stay.

    \b
    Example:
      lunge-mp profile delete checkout-old
    """
    ctx = _Context(store_path)
    with ctx.store() as store:
        gone, count = store.delete(name)
    ctx.record("profile.delete", name=gone, versions=count)
    click.echo(f"profile '{gone}' deleted ({count} version{'s' if count != 1 else ''})")


@profile.command("key", cls=_Command, short_help="Which key encrypts profile secrets here.")
@click.option("--new", "new", is_flag=True, help=f"Print a fresh key for ${KEY_ENV_VAR} (stores nothing).")
@store_option
def key(new: bool, store_path: str | None) -> None:
    """Say which key encrypts profile secrets here (its id, never the key itself).

    \b
    Examples:
      lunge-mp profile key
      export LUNGE_MP_PROFILE_KEY=$(lunge-mp profile key --new)    # one key for several machines
    """
    if new:
        click.echo(new_key_text())
        return
    ring = _Context(store_path).keys
    found = ring.get()
    if found is None:
        click.echo(f"no profile key yet: the first save of a profile with secrets makes {ring.file} "
                   f"(or set ${KEY_ENV_VAR})")
    else:
        click.echo(f"profile key {found.id} from {found.source}")


RUN_KWARGS = ("json_path", "html_path", "csv_path", "junit_path", "no_history", "workers", "quiet", "env",
              "env_file", "thresholds", "dashboard")


@profile.command("run", cls=_Command, short_help="Run a saved profile, with run's flags.")
@click.argument("name")
@version_option
@store_option
def run(name: str, version: int | None, store_path: str | None, **flags) -> None:
    """Run profile NAME (or id), its latest version or --version N, as `lunge-mp run` runs a
    config: the same flags, reports, history and exit codes. The run's results.json and its
    history row name the profile and version.

    \b
    Examples:
      lunge-mp profile run checkout
      lunge-mp profile run checkout --version 3 -q --out results.json -e api_key=$KEY
    """
    from lunge_mp.profile_ops import config_for_run
    from lunge_mp.cli_run import execute_plan

    defaults = {p.name: p.default for p in click.get_current_context().command.params}
    ignored = [k for k, v in flags.items()
               if k not in RUN_KWARGS and v not in (None, False, ()) and v != defaults.get(k)]
    if ignored:
        raise click.UsageError(f"--{ignored[0].replace('_', '-')} is not supported by `profile run` yet")
    ctx = _Context(store_path)
    with ctx.store() as store:
        found = store.get(name, version)
    from lunge_mp.cli_flags import env_pairs, threshold_flags     # run's own readers of -e, --env-file, --threshold
    overrides = env_pairs(flags.get("env", ()), flags.get("env_file"))
    try:
        _, plan = config_for_run(found, ctx.keys, overrides, threshold_flags(flags.get("thresholds", ())))
    except (StoreError, ConfigError):
        ctx.record("profile.run", outcome="refused", name=found.name, version=found.version,
                   profile_id=found.id)
        raise
    ctx.record("profile.run", name=found.name, version=found.version, profile_id=found.id)
    if not flags["quiet"]:
        click.echo(f"profile '{found.name}' v{found.version} of {found.latest} (id {found.id})", err=True)
    outputs = {"json": flags["json_path"], "html": flags["html_path"], "csv": flags["csv_path"],
               "junit": flags["junit_path"]}
    sys.exit(execute_plan(plan, flags["workers"] or os.cpu_count() or 1, flags["quiet"], outputs,
                          not flags["no_history"], store_path=str(ctx.store_path),
                          dashboard=flags.get("dashboard")))


PROFILE_HELP = {   # what run's flags mean for a profile, whose ${VAR}s were expanded when it was saved
    "env": "Set the profile's variable KEY to VALUE for this run (a secret one too). Repeatable.",
}


def profile_group(run_command: click.Command) -> click.Group:
    """The `profile` group, with `profile run` taking every flag of `run_command` (`lunge-mp run`)."""
    if not any(p.name == "quiet" for p in run.params):
        for param in run_command.params:
            if param.name == "config":
                continue
            if param.name in PROFILE_HELP:
                param = copy.copy(param)
                param.help = PROFILE_HELP[param.name]
            run.params.append(param)
    return profile
