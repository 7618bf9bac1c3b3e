"""``python -m lunge_mp.target --host H --port P --workers N [--ready-file F]``"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lunge_mp.target",
                                 description="Embedded HTTP/1.1 load-test target.")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default 8080)")
    ap.add_argument("--workers", type=int, default=1, help="SO_REUSEPORT worker processes (default 1)")
    ap.add_argument("--ready-file", default=None,
                    help="write the actual port to this file once listening")
    args = ap.parse_args(argv)
    from lunge_mp.target.serving import run_target
    try:
        run_target(args.host, args.port, args.workers, args.ready_file)
    except (RuntimeError, OSError) as e:
        print(f"target: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
