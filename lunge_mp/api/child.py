"""One API-started test's coordinator, in a process of its own:
`python -m lunge_mp.api.child SERVER_PID`, started by the server (api/relay.py), or a fork
of the server's fork server with that title (api/forkserver.py), its contract the same.

The run gets a whole interpreter (no GIL shared with the server's HTTP and WebSocket work,
its memory its own and given back when it ends). The pipes:
  stdin   the start message (one line: base64 of a pickled dict: plan, workers, paths,
          record), then commands, one JSON line each: {id, action: stop|pause|resume|scale,
          args} or {action: histograms, since: monotonic s} (a Prometheus scrape)
  stdout  the run's messages, one JSON line each (`k`): feed {kind, p} (api/feed.py's
          second / violation / event), answer {id, answer}, runId {runId}, done {status,
          code, runId, error}; feed events, answers and done also carry the control state
          (paused, pauses, events, scaleFactors) the server mirrors.
Anything else the process prints goes to stderr (fd 1 is moved aside at start).

It never outlives the server: on Linux PR_SET_PDEATHSIG sends it SIGTERM when its parent
(the server, or the fork server, which dies with the server) dies, and end of file on stdin
(the server gone, on any OS) stops the run; either way the run stops as on Ctrl-C and
still writes its results. Its workers watch it the same way.
SIGTERM and SIGINT are this module's own for the process's whole life (the coordinator
installs none): a signal at any moment, even before the run starts or while its results
are written, stops the run through its control and never kills the process half-way.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import pickle
import signal
import sys
import threading
import time
import traceback

PR_SET_PDEATHSIG = 1
HISTOGRAMS_FOR_S = 60.0        # a scrape asks for latency histograms this long (api/prometheus.py)


def die_with_parent(parent: int, sig: int = signal.SIGTERM) -> bool:
    """`sig` to this process when its parent `parent` dies; False when it is gone already."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):       # not Linux: end of file on stdin still stops the run
        pass
    return os.getppid() == parent


class Pipe:
    """The feed to the server: whole JSON lines, from the run's thread and the command thread."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.broken = False

    def send(self, msg: dict) -> None:
        data = (json.dumps(msg, separators=(",", ":"), default=str) + "\n").encode()
        with self.lock:
            if self.broken:
                return
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view):]
            except OSError:     # the server is gone: the run goes on and writes its results
                self.broken = True


def control_state(control) -> dict:
    return {"paused": control.paused, "pauses": control.pauses, "events": control.events,
            "scaleFactors": control.scale_factors}


def read_commands(stream, control, pipe: Pipe, histograms: list[float]) -> None:
    """The command thread: each command to the run's RunControl, its answer back; at end of
    file (the server is gone) the run stops."""
    for line in stream:
        try:
            cmd = json.loads(line)
            action = cmd["action"]
        except (ValueError, KeyError, TypeError):
            continue
        if action == "histograms":
            histograms[0] = float(cmd.get("since", 0.0))
            continue
        if action not in ("stop", "pause", "resume", "scale"):
            continue
        future = getattr(control, action)(**(cmd.get("args") or {}))
        future.add_done_callback(lambda f, i=cmd.get("id"): pipe.send(
            {"k": "answer", "id": i, "answer": f.result(), **control_state(control)}))
    control.stop("the API server went away")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        return 1
    return serve(int(argv[0]))


def serve(parent: int, tie: bool = True) -> int:
    """The run, its pipes on fd 0 and 1; `parent` is the server, or the fork server that
    forked this process (api/forkserver.py). `tie`: SIGTERM when the parent dies. A forked
    run is not tied to the fork server (its loss must not stop every running test): the
    server holds the only write end of its stdin, so the server's death still ends it."""
    stops: list = []            # the run's control, once there is one

    def on_signal(signum, frame) -> None:
        stops.append(signum)
        if not isinstance(stops[0], int):     # the run's control
            stops[0].stop("the API server went away")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if not (die_with_parent(parent) if tie else os.getppid() == parent):
        return 1
    feed_fd = os.dup(1)
    os.dup2(2, 1)               # stray prints go to stderr, never into the feed
    pipe = Pipe(feed_fd)
    line = sys.stdin.buffer.readline()
    if not line:
        return 1
    start = pickle.loads(base64.b64decode(line))      # from our parent only: it made the pipe

    from lunge_mp.api.feed import Feed
    from lunge_mp.coordinator.control import RunControl
    from lunge_mp.redact import Redactor
    from lunge_mp.exit_codes import ExitCode
    from lunge_mp.runner import run_plan

    plan = start["plan"]
    control = RunControl()
    stops.insert(0, control)
    if len(stops) > 1:          # a signal came first
        control.stop("the API server went away")
    histograms = [0.0]

    def sink(kind: str, payload: dict) -> None:
        msg = {"k": "feed", "kind": kind, "p": payload}
        if kind == "event":
            msg.update(control_state(control))
        pipe.send(msg)

    def note_run_id(coord, t: float) -> None:
        if not seen_run_id:
            seen_run_id.append(coord.run_id)
            pipe.send({"k": "runId", "runId": coord.run_id})

    seen_run_id: list[str] = []
    control.watchers += [Feed(sink, want_histograms=lambda: time.monotonic() - histograms[0] < HISTOGRAMS_FOR_S),
                         note_run_id]
    threading.Thread(target=read_commands, args=(sys.stdin.buffer, control, pipe, histograms),
                     name="commands", daemon=True).start()
    try:
        results, code, _ = run_plan(plan, start["workers"], start["paths"], start["record"], quiet=True,
                                    control=control, signals=False)     # on_signal stops it
        done = {"status": results.get("status", "error"), "code": code, "runId": results.get("runId"),
                "error": None}
    except Exception as exc:   # never leave a test "running" forever
        detail = Redactor.for_plan(plan).text("".join(traceback.format_exception_only(exc)).strip())
        done = {"status": "error", "code": int(ExitCode.INTERNAL), "runId": None, "error": f"internal error: {detail}"}
    pipe.send({"k": "done", **done, **control_state(control)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
