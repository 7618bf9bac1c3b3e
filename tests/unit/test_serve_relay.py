"""The pipe protocol between the server and a test's own process (api/relay.py, api/child.py),
without processes: commands and answers, the mirrored control state, the end."""

from __future__ import annotations

import asyncio
import io
import json
import os

from lunge_mp.api.child import Pipe, control_state, read_commands
from lunge_mp.api.relay import RemoteControl
from lunge_mp.coordinator.control import RunControl


class _Writer:
    def __init__(self) -> None:
        self.lines: list[dict] = []

    def write(self, data: bytes) -> None:
        self.lines += [json.loads(line) for line in data.decode().splitlines()]


def test_commands_wait_for_the_child_then_go_in_order_and_answers_resolve_them():
    control = RemoteControl()
    pause = control.pause()
    control.histograms(12.5)
    writer = _Writer()
    control.connect(writer)                 # the backlog goes first
    scale = control.scale("web", vus=5)
    assert [(c.get("id"), c["action"]) for c in writer.lines] == [(1, "pause"), (None, "histograms"), (2, "scale")]
    assert writer.lines[2]["args"] == {"scenario": "web", "vus": 5, "factor": None, "rate": None}
    control.update({"paused": True, "pauses": [], "events": [{"t": 1.0, "event": "pause"}], "scaleFactors": {}})
    control.answered({"id": 1, "answer": "ok"})
    assert pause.result(0) == "ok" and control.paused and control.events[0]["event"] == "pause"
    assert not scale.done()
    control.end()                          # the child is gone: nothing waits for ever
    assert scale.result(0) == "the run has ended"
    assert control.stop().result(0) == "the run has ended"


def test_the_child_passes_commands_to_its_run_control_and_stops_at_end_of_file():
    control = RunControl()
    r, w = os.pipe()
    pipe = Pipe(w)
    histograms = [0.0]
    stream = io.BytesIO(b'{"id": 1, "action": "pause", "args": {}}\n'
                        b'not json\n{"action": "histograms", "since": 7.5}\n{"action": "rm -rf"}\n')
    read_commands(stream, control, pipe, histograms)
    assert histograms == [7.5]
    queued = list(control._queue)        # noqa: SLF001 - what the next tick would apply
    assert [c.action for c in queued] == ["pause", "stop"]
    assert queued[1].args == {"reason": "the API server went away"}
    queued[0].done.set_result("ok")      # as the run's tick does: the answer goes to the server
    os.close(w)
    with os.fdopen(r, "rb") as f:
        (answer,) = [json.loads(line) for line in f.read().splitlines()]
    assert answer == {"k": "answer", "id": 1, "answer": "ok", **json.loads(json.dumps(control_state(control)))}


def test_a_closed_pipe_does_not_stop_the_run():
    r, w = os.pipe()
    os.close(r)
    pipe = Pipe(w)
    pipe.send({"k": "feed"})               # EPIPE: noted, never raised
    assert pipe.broken
    os.close(w)


def test_relay_runs_with_asyncio_futures():
    async def main():
        control = RemoteControl()
        control.connect(_Writer())
        future = control.resume()
        control.answered({"id": 1, "answer": "not paused"})
        return await asyncio.wrap_future(future)
    assert asyncio.run(main()) == "not paused"
