"""Workers on other machines: `lunge-mp keys generate`, `lunge-mp worker --connect`, and the
`run --listen` options (a coordinator that waits for remote workers)."""

from __future__ import annotations

import os
import socket
import sys

import click

from lunge_mp.units import parse_duration
from lunge_mp.exit_codes import ExitCode


@click.group(short_help="Make CurveZMQ keys for workers on other machines.")
def keys() -> None:
    """CurveZMQ keys for workers on other machines (lunge-mp worker --connect).

    \b
    Example:
      lunge-mp keys generate keys/
      lunge-mp run test.yaml --listen tcp://0.0.0.0:5555 --remote-workers 4 --keys keys/
      lunge-mp worker --connect tcp://coordinator-host:5555 --keys keys/   # keys/ copied there
    """


@keys.command(short_help="Write a coordinator and a worker key pair, and authorized_keys, into DIR.")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--worker-only", is_flag=True,
              help="Only another worker pair (worker.key, worker.key_secret): add its public key to the "
                   "coordinator's authorized_keys and copy coordinator.key beside it.")
def generate(directory: str, worker_only: bool) -> None:
    """Write CurveZMQ key pairs into DIR (created, mode 0700, if missing):

    \b
      coordinator.key, coordinator.key_secret   the coordinator's pair
      worker.key, worker.key_secret             a worker pair
      authorized_keys                           the worker public keys the coordinator accepts

    The coordinator needs coordinator.key_secret and authorized_keys; every worker machine needs
    worker.key_secret and coordinator.key (workers check that the coordinator holds its secret).
    Secret files are mode 0600; keep them secret. Existing files are never replaced: the
    command fails and writes nothing.

    \b
    Example:
      lunge-mp keys generate keys/
      lunge-mp keys generate keys-eu/ --worker-only && grep public-key keys-eu/worker.key >> keys/authorized_keys
    """
    from lunge_mp.remote import keys as key_files

    try:
        written = key_files.generate(directory, worker_only=worker_only)
    except (key_files.KeyFileError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.INVALID_INPUT)
    for path in written:
        click.echo(str(path))


def _wait(value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--wait") from None
    if not 0 < seconds <= 86400:
        raise click.BadParameter("must be more than 0 and at most 24h", param_hint="--wait")
    return seconds


@click.command(short_help="Run workers here that join a coordinator elsewhere.")
@click.option("--connect", "endpoint", required=True, metavar="tcp://HOST:PORT",
              help="The coordinator's --listen address.")
@click.option("--workers", "-w", type=click.IntRange(1, 256), default=None,
              help="Worker processes to run (default: one per CPU core).")
@click.option("--id", "name", default=None, metavar="NAME",
              help="This machine's name in the run (default: its host name); each process is NAME/0, "
                   "NAME/1, ... Names must be unique in a run.")
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Holds worker.key_secret and the coordinator's coordinator.key (lunge-mp keys generate).")
@click.option("--insecure", is_flag=True, help="Plaintext tcp, no keys: only to a loopback address.")
@click.option("--wait", "wait", default="60s", show_default=True, metavar="DURATION",
              help="How long to wait for the coordinator to answer.")
def worker(endpoint: str, workers: int | None, name: str | None, keys_dir: str | None, insecure: bool,
           wait: str) -> None:
    """Run worker processes on this machine that join the coordinator at --connect (started with
    `lunge-mp run CONFIG --listen tcp://ADDR:PORT --remote-workers N`), run one test, and exit.

    Every tcp connection uses CurveZMQ: the coordinator accepts only keys in its
    authorized_keys, and the workers check the coordinator's key. The handshake measures each
    process's clock offset from the coordinator's. A worker that connects after the run has
    started is refused, as is a name already in the run, and one that was silent for 3 s
    before the start (stopped, cut off: its place went to the next to join). Exit 0 when every process ran to the
    end; 1 when one was refused or refused the plan (the reason is printed); 3 when no
    coordinator answered within --wait, or it went silent; 104 for bad arguments or keys.

    \b
    Example:
      lunge-mp worker --connect tcp://10.0.0.5:5555 --keys keys/
      lunge-mp worker --connect tcp://127.0.0.1:5555 --insecure --workers 2 --id laptop
    """
    from lunge_mp.remote import launcher, security

    from lunge_mp.coordinator.admission import NAME

    wait_s = _wait(wait)
    name = name or socket.gethostname()
    if not NAME.fullmatch(f"{name}/0"):
        raise click.BadParameter("1-95 letters, digits and . _ - : @, starting with a letter or digit",
                                 param_hint="--id")
    try:
        security.client_keys(endpoint, keys_dir, insecure)      # checked here once, clearly
    except security.SetupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.INVALID_INPUT)
    count = workers or os.cpu_count() or 1
    sys.exit(launcher.run(endpoint, count, name, keys_dir, insecure, wait_s))


def run_options(command):
    """`run`'s --listen options (the coordinator's side)."""
    options = [
        click.option("--listen", metavar="tcp://ADDR:PORT", default=None,
                     help="Wait for remote workers (lunge-mp worker --connect) on this address; "
                          "with --remote-workers."),
        click.option("--remote-workers", type=click.IntRange(1, 1024), default=None, metavar="N",
                     help="With --listen: remote worker processes to wait for."),
        click.option("--local-workers", type=click.IntRange(0, 256), default=0, show_default=True, metavar="M",
                     help="With --listen: worker processes on this machine besides the remote ones."),
        click.option("--wait", "listen_wait", default="60s", show_default=True, metavar="DURATION",
                     help="With --listen: how long to wait for every worker to join and be ready. A "
                          "remote worker silent for 3 s before the start loses its place to the next to join."),
        click.option("--keys", "listen_keys", type=click.Path(file_okay=False), default=None, metavar="DIR",
                     help="With --listen: holds coordinator.key_secret (and authorized_keys)."),
        click.option("--authorized-keys", type=click.Path(dir_okay=False), default=None, metavar="FILE",
                     help="With --listen: the worker public keys to accept (default: DIR/authorized_keys)."),
        click.option("--insecure", is_flag=True,
                     help="With --listen: plaintext tcp without keys, only on a loopback address."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def start_workers(workers: int | None, quiet: bool, listen: str | None, remote_workers: int | None,
                  local_workers: int, listen_wait: str, listen_keys: str | None,
                  authorized_keys: str | None, insecure: bool, worker_main=None) -> int:
    """Start the run's workers early (coordinator/prestart.py); how many the run has.
    `worker_main`: what a worker forked from this process runs (coordinator/forking.py)."""
    from lunge_mp.coordinator import prestart

    if listen is None:
        if remote_workers is not None or local_workers or listen_keys or authorized_keys or insecure:
            raise click.UsageError("--remote-workers, --local-workers, --keys, --authorized-keys and "
                                   "--insecure go with --listen tcp://ADDR:PORT")
        count = workers or os.cpu_count() or 1
        prestart.start(count, worker_main)     # their start-up overlaps reading the config
        return count
    if remote_workers is None:
        raise click.UsageError("--listen needs --remote-workers N: how many remote worker processes to wait for")
    if workers is not None:
        raise click.UsageError("with --listen, say --local-workers M (default 0) instead of --workers")
    from lunge_mp.coordinator.remote_pool import RemoteWorkers
    from lunge_mp.remote import security

    wait_s = _wait(listen_wait)
    try:
        server_keys = security.server_keys(listen, listen_keys, authorized_keys, insecure)
        security.check_listen(listen)
    except security.SetupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.INVALID_INPUT)
    pool = RemoteWorkers(listen, remote_workers, local_workers, wait_s, server_keys)
    if not quiet:
        pool.announce = lambda text: print(f"note: {text}", file=sys.stderr, flush=True)
    prestart.adopt(pool)
    return pool.count


COMMANDS = [keys, worker]
