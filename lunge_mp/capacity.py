"""What this machine can deliver, as `lunge-mp selftest` measured it, and the warnings a
config gets before it starts when it asks for more.

The figures live in `selftest.json` beside the history store (store/history.py
`default_store_path`): the highest open-model rate held at ≥ 99% efficiency with N workers
against the embedded target on this machine, that rate per worker, and the closed-loop
requests/s of one worker (one core). `warnings(plan, workers)` compares each open scenario's
peak rate, per worker, with the measured rate per worker.

This machine's figure speaks only for workers on this machine. With `run --listen`, the
remote workers are on other machines: no claim is made about them from here; a remote
worker whose machine has its own figure sends it in Hello (`open_rate`), and the coordinator
compares its share with that when it joins (`remote_warnings`).
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


def peaks(plan: Plan) -> dict[str, float]:
    """Each open scenario's peak rate (iterations/s)."""
    from lunge_mp.schedule.capped_rate import peak_rate

    return {s.name: peak_rate(s.target_fn()) for s in plan.scenarios if s.is_open}


def warnings(plan: Plan, workers: int, measured: dict | None = None, remote: int = 0) -> list[str]:
    """One warning per open scenario whose peak rate per worker is above what this machine held.
    `remote`: how many of the `workers` are on other machines (no claim about those here)."""
    measured = load() if measured is None else measured
    local = workers - remote
    if not measured or local < 1:
        return []
    per_worker = float(measured["openRatePerWorker"])
    where = f"its {local} local worker(s) " if remote else ""
    out = []
    for name, peak in peaks(plan).items():
        if peak / workers > per_worker:
            out.append(f"scenario {name!r} asks for up to {peak:,.0f} iterations/s, {peak / workers:,.0f} a "
                       f"worker over {workers} worker(s); `lunge-mp selftest` measured this machine holding "
                       f"{per_worker:,.0f} a worker at >= 99% ({measured.get('measuredAt', '?')}): expect "
                       f"{where}dropped iterations; add workers or machines, or lower the rate")
    return out


def remote_warnings(peaks_: dict[str, float], workers: int, open_rate: float, who: str) -> list[str]:
    """A remote worker's share against its own machine's selftest figure (`open_rate`, sent in
    its Hello; 0: never measured there, no claim)."""
    if open_rate <= 0:
        return []
    return [f"scenario {name!r} asks up to {peak / workers:,.0f} iterations/s a worker; `lunge-mp selftest` "
            f"on the machine of {who} measured {open_rate:,.0f} a worker at >= 99%: expect dropped iterations "
            f"there; add workers or machines, or lower the rate"
            for name, peak in peaks_.items() if peak / workers > open_rate]
