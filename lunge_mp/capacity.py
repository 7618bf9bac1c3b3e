"""What this machine can deliver, as `lunge-mp selftest` measured it, and the warnings a
config gets before it starts when it asks for more.

The figures live in `selftest.json` beside the history store (store/history.py
`default_store_path`): the highest open-model rate held at ≥ 99% efficiency with N workers
against the embedded target on this machine, that rate per worker, and the closed-loop
requests/s of one worker (one core). `warnings(plan, workers)` compares each open scenario's
peak rate, per worker, with the measured rate per worker.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lunge_mp.plan import Plan

FILE = "selftest.json"


def path() -> Path:
    from lunge_mp.store.history import default_store_path
    return default_store_path().parent / FILE


def load() -> dict | None:
    """The stored figures, or None (never measured, or unreadable)."""
    try:
        doc = json.loads(path().read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("openRatePerWorker") else None


def save(doc: dict) -> Path:
    """Write the figures (a file of our own: replaced, never another's)."""
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(target)
    return target


def warnings(plan: Plan, workers: int, measured: dict | None = None) -> list[str]:
    """One warning per open scenario whose peak rate per worker is above what this machine held."""
    from lunge_mp.schedule.capped_rate import peak_rate

    measured = load() if measured is None else measured
    if not measured or workers < 1:
        return []
    per_worker = float(measured["openRatePerWorker"])
    out = []
    for s in plan.scenarios:
        if not s.is_open:
            continue
        peak = peak_rate(s.target_fn())
        if peak / workers > per_worker:
            out.append(f"scenario {s.name!r} asks for up to {peak:,.0f} iterations/s, {peak / workers:,.0f} a "
                       f"worker over {workers} worker(s); `lunge-mp selftest` measured this machine holding "
                       f"{per_worker:,.0f} a worker at >= 99% ({measured.get('measuredAt', '?')}): expect "
                       f"dropped iterations; add workers or machines, or lower the rate")
    return out
