"""`lunge-mp selftest`: measure what this machine can deliver and store it (lunge_mp/selftest.py)."""

from __future__ import annotations

import os

import click


@click.command(short_help="Measure what this machine can deliver (about 10 s).")
@click.option("--workers", "-w", type=click.IntRange(1, 256), default=None,
              help="Worker processes of the open-model runs (default: one per CPU core).")
@click.option("--seconds", type=click.FloatRange(0.5, 30), default=1.0, show_default=True,
              help="Length of each open-model run (the closed one runs twice as long).")
def selftest(workers: int | None, seconds: float) -> None:
    """Measure, in about 10 s against the embedded target on this machine, the highest
    open-model rate held at >= 99% and the closed-loop requests/s of one core, and store
    them (selftest.json beside the history store). `run` and `validate` then warn before
    the start when a scenario asks a worker for more than that.

    \b
    Examples:
      lunge-mp selftest
      lunge-mp selftest --workers 4 --seconds 2
    """
    from lunge_mp import capacity
    from lunge_mp.selftest import measure

    doc = measure(workers or os.cpu_count() or 1, seconds, log=lambda line: click.echo(f"  {line}"))
    where = capacity.save(doc)
    click.echo(f"this machine: open model held {doc['openRateHeld']:,}/s with {doc['workers']} worker(s) "
               f"({doc['openRatePerWorker']:,.0f} a worker) at >= 99%; closed loop "
               f"{doc['closedRequestsPerSecondPerCore']:,.0f} requests/s a core")
    click.echo(f"stored in {where}")
