"""Where a worker's CPU goes, by function: py-spy samples one worker of a real run.

    .venv/bin/pip install py-spy                       # once (or: pip install -e '.[bench]')
    .venv/bin/python benchmarks/profile.py                        # closed, fast transport
    .venv/bin/python benchmarks/profile.py --transport aiohttp
    .venv/bin/python benchmarks/profile.py --rate 10000           # open model instead

It starts the embedded target, runs `lunge-mp run` with one worker (closed: 50 VUs on `/`;
open: constant-arrival-rate at --rate), samples that worker with `py-spy record` for
--seconds once it is warm, and prints the functions with the most samples: by self time
(the function was on top of the stack) and inclusive (anywhere on it). The tables are also
written to benchmarks/results/profile-<model>-<transport>-<UTC time>.md. The figures of
docs/PERFORMANCE.md "Profile" come from here.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lunge_mp.target.process import start_target  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")


def config_text(url: str, transport: str, rate: int | None, seconds: int) -> str:
    load = (f"executor: constant-arrival-rate, rate: {rate}, preAllocatedVUs: 200, maxVUs: 2000"
            if rate else "executor: constant-vus, vus: 50")
    return (f"name: profile\nsettings: {{baseUrl: \"{url}\", transport: {transport}}}\n"
            f"scenarios:\n  load: {{{load}, duration: {seconds}s, requests: [{{url: /}}]}}\n")


def find_worker(run: subprocess.Popen, timeout: float = 15) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(run.pid).children(recursive=True):
            if "lunge_mp.worker" in " ".join(child.cmdline()):
                return child
        time.sleep(0.1)
    raise SystemExit("profile: the worker did not start")


def frame_key(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `func (file.py)`: one row per function, not per line."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    return f"{m['func']} ({Path(m['file']).name})"


def tally(raw: str) -> tuple[collections.Counter, collections.Counter, int]:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own, inclusive, total = collections.Counter(), collections.Counter(), 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_key(f) for f in stack.split(";") if f and not f.startswith("process ")
                  and not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    return own, inclusive, total


def table(title: str, counts: collections.Counter, total: int, top: int) -> str:
    rows = [f"### {title}", "", "| % of samples | function (file) |", "|---:|---|"]
    rows += [f"| {100 * n / total:.1f} | `{name}` |" for name, n in counts.most_common(top)]
    return "\n".join(rows) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transport", choices=("fast", "aiohttp"), default="fast")
    ap.add_argument("--rate", type=int, default=None, help="open model at this rate (default: closed, 50 VUs)")
    ap.add_argument("--seconds", type=int, default=8, help="sampling time (default 8)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--native", action="store_true", help="also C frames (uvloop, syscalls), as py-spy --native")
    args = ap.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("profile: py-spy is not installed: .venv/bin/pip install py-spy")
    model = (f"open{args.rate}" if args.rate else "closed") + ("-native" if args.native else "")
    with start_target(port=0, workers=1) as target, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "profile.yaml"
        config.write_text(config_text(target.url, args.transport, args.rate, args.seconds + 4))
        run = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "run", str(config), "-w", "1", "-q",
                                "--no-history"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            worker = find_worker(run)
            time.sleep(2)                                     # past start-up and the first fold
            out = Path(tmp) / "stacks.txt"
            spy_run = subprocess.run([spy, "record", "--pid", str(worker.pid), "--duration", str(args.seconds),
                                      "--rate", "200", "--format", "raw", "--output", str(out)]
                                     # --native must pause the process per sample; plain sampling need not
                                     + (["--native"] if args.native else ["--nonblocking"]),
                                     capture_output=True, text=True)
            if spy_run.returncode != 0 or not out.exists():
                raise SystemExit(f"profile: py-spy failed: {spy_run.stderr.strip()[-500:]}")
            raw = out.read_text()
        finally:
            run.wait(timeout=60)
    own, inclusive, total = tally(raw)
    if not total:
        raise SystemExit("profile: no samples")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = (f"# Worker profile: {model}, {args.transport} transport, {args.seconds} s, {total:,} samples "
            f"({stamp})\n\n" + table("Self time", own, total, args.top) + "\n"
            + table("Inclusive", inclusive, total, args.top))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"profile-{model}-{args.transport}-{stamp}.md"
    path.write_text(text)
    print(text)
    print(f"profile: wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
