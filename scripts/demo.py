"""`make demo`: start the embedded target, run configs/demo.yaml against it, stop the target.

The target listens on the given port, or on a free one when that is taken; the config
reads its address from ${BASE_URL}.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

from lunge_mp.target import start_target

ROOT = Path(__file__).resolve().parent.parent


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--config", default=str(ROOT / "configs" / "demo.yaml"))
    parser.add_argument("--out", default="results.json")
    parser.add_argument("--html", default="report.html")
    args = parser.parse_args()
    port = args.port if _free(args.port) else 0
    with start_target(port=port) as target:
        print(f"demo: embedded target on {target.url} (pid {target.pid})", flush=True)
        cmd = [sys.executable, "-m", "lunge_mp.cli", "run", args.config, "--out", args.out,
               "--html", args.html, "-e", f"BASE_URL={target.url}"]
        print("demo: " + " ".join(["lunge-mp"] + cmd[3:]), flush=True)
        code = subprocess.call(cmd)
        stats = target.stats()
    print(f"demo: the target counted {stats['requests']:,} requests; lunge-mp exited {code}")
    print(f"demo: open {args.html} in a browser for the charts; `lunge-mp history` lists past runs")
    print("demo: watch a run live: `lunge-mp run CONFIG --dashboard` (http://127.0.0.1:5665/, steer it with "
          "`lunge-mp ctl pause|resume|stop|scale`), or serve an API and dashboard that start tests: "
          "`lunge-mp serve` (http://127.0.0.1:8080/, docs/API.md)")
    return code


if __name__ == "__main__":
    sys.exit(main())
