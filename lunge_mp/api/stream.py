"""The WebSocket stream of one test (`/api/v1/load-test/stream/{testId}`), seed 004's messages.

A `Channel` per test lives on the server's loop and turns the run's feed (api/feed.py) into
messages, each a JSON object with `type`:
  rate_update     {t, paused, target, actual, scenarios: {name: {target, actual}}}
  metrics_update  {t, p50, p95, p99, lagP95, failures, errors, vus, dropped, cpu, rssMB, queue?}
  violation       {t, messages: [...]}   guardrail or threshold breaches, lost workers, warnings
  event           {t, event: pause|resume|scale, ...}
  completion      {status, exitCode, results, report}
  history         (first, to a client that joins) the run so far, at most 300 points a series
At most one message of each type a second, each under 1 KB (the history message excepted:
it is sent once, on joining). Every message is JSON-encoded once and shared by all clients.

A client gets a bounded send queue; when it is full (a client that does not read), the
client is dropped — publishing never waits for a client, so the run is never slowed.
"""

from __future__ import annotations

import asyncio
import json
import time

from lunge_mp.redact import Redactor

MAX_MESSAGE = 1024
HISTORY_POINTS = 300
KEEP_ROWS = 600          # the kept history halves its resolution beyond this (memory stays flat)
QUEUE_LIMIT = 64         # messages waiting for one client before it is dropped
SERIES = ("t", "target", "actual", "p50", "p95", "p99", "lagP95", "failures", "vus", "dropped", "cpu", "paused")


def _dumps(msg: dict) -> str:
    return json.dumps(msg, separators=(",", ":"), default=str)


def fit(msg: dict, key: str) -> str:
    """The message as JSON under MAX_MESSAGE bytes, dropping entries of `msg[key]` (a dict or
    list) from the end until it fits; `truncated` says how many went."""
    text = _dumps(msg)
    items = msg.get(key)
    dropped = 0
    while len(text.encode()) >= MAX_MESSAGE and items:
        if isinstance(items, dict):
            items.pop(next(reversed(items)))
        else:
            items.pop()
        dropped += 1
        msg["truncated"] = dropped
        text = _dumps(msg)
    return text


class Client:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_LIMIT)
        self.dropped = False

    def close(self) -> None:
        """The socket closed: the sender stops (None ends its queue, whatever is waiting)."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Channel:
    def __init__(self, test_id: str, redactor: Redactor | None = None) -> None:
        self.test_id = test_id
        self.redactor = redactor
        self.rows: list[dict] = []      # per-second rows (SERIES), at most KEEP_ROWS
        self._stride = 1                # seconds a kept row stands for
        self.clients: set[Client] = set()
        self.last: dict | None = None   # the newest snapshot (status, Prometheus)
        self.completion: str | None = None
        self.violations: list[dict] = []
        self.events: list[dict] = []
        self._pending: list[str] = []   # violations not sent yet (one message a second)
        self._violation_sent = 0.0
        self._flush: asyncio.TimerHandle | None = None
        self.sent = 0
        self.dropped_clients = 0

    # --- from the run (on this loop) --------------------------------------------------------
    def on_feed(self, kind: str, payload: dict) -> None:
        if kind == "second":
            self._second(payload)
        elif kind == "violation":
            text = self._mask(payload["message"])
            self.violations.append({"t": payload["t"], "message": text})
            self._pending.append(text)
            self._send_violations()
        elif kind == "event":
            self.events.append(payload)
            self.broadcast(fit({"type": "event", **payload}, "_"))

    def _mask(self, text: str) -> str:
        return self.redactor.text(text) if self.redactor is not None else text

    def _second(self, snap: dict) -> None:
        self.last = snap
        self._keep({k: snap.get(k) for k in SERIES})
        t = snap["t"]
        self.broadcast(fit({"type": "rate_update", "test_id": self.test_id, "t": t, "paused": snap["paused"],
                            "target": snap["target"], "actual": snap["actual"],
                            "scenarios": {n: {"target": s["target"], "actual": s["actual"]}
                                          for n, s in snap["scenarios"].items()}}, "scenarios"))
        metrics = {"type": "metrics_update", "test_id": self.test_id, "t": t,
                   **{k: snap.get(k) for k in ("p50", "p95", "p99", "lagP95", "requests", "failures",
                                               "vus", "dropped", "cpu", "rssMB")},
                   "totals": {k: snap["totals"][k] for k in ("requests", "failures", "elapsed", "planned")},
                   "errors": dict(snap.get("errors") or {})}
        if isinstance(snap.get("queue"), dict):     # the queue's totals; per-key figures stay in results
            metrics["queue"] = {k: v for k, v in snap["queue"].items() if k != "keys"}
        metrics["completeAt"], metrics["secondEnd"] = snap.get("completeAt"), snap.get("secondEnd")
        metrics["relayedAt"] = round(time.time(), 4)     # the server has it: the rest is the network's
        self.broadcast(fit(metrics, "errors"))

    def _keep(self, row: dict) -> None:
        if self._stride > 1 and self.rows and row["t"] // self._stride == self.rows[-1]["t"] // self._stride:
            return                          # this stride's row is kept already
        self.rows.append(row)
        if len(self.rows) > KEEP_ROWS:      # halve the resolution: every other row
            self.rows = self.rows[::2]
            self._stride *= 2

    def _send_violations(self) -> None:
        """One violation message a second at most: the ones waiting go together (as many as fit)."""
        if not self._pending or self._flush is not None:
            return
        wait = self._violation_sent + 1.0 - time.monotonic()
        if wait > 0:
            self._flush = asyncio.get_running_loop().call_later(wait, self._flush_violations)
            return
        self._flush_violations()

    def _flush_violations(self) -> None:
        self._flush = None
        pending, self._pending = self._pending, []
        msg = {"type": "violation", "test_id": self.test_id,
               "t": self.last["t"] if self.last else None, "messages": [m[:300] for m in pending]}
        self._violation_sent = time.monotonic()
        self.broadcast(fit(msg, "messages"))

    def complete(self, payload: dict) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush_violations()
        self.completion = fit({"type": "completion", "test_id": self.test_id, **payload}, "_")
        self.broadcast(self.completion)
        for client in list(self.clients):
            self._put(client, None)         # then the socket closes

    # --- to clients ----------------------------------------------------------------------
    def history(self) -> str:
        """The run so far, at most HISTORY_POINTS points a series (every k-th row)."""
        rows = self.rows
        step = max(1, -(-len(rows) // HISTORY_POINTS))
        picked = rows[::step]
        return _dumps({"type": "history", "test_id": self.test_id,
                       "series": {k: [r.get(k) for r in picked] for k in SERIES},
                       "violations": [v["message"][:300] for v in self.violations[-20:]],
                       "events": self.events[-50:]})

    def join(self) -> Client:
        client = Client()
        self._put(client, self.history())
        if self.completion is not None:
            self._put(client, self.completion)
            self._put(client, None)
        else:
            self.clients.add(client)
        return client

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    def broadcast(self, text: str) -> None:
        self.sent += 1
        for client in list(self.clients):
            self._put(client, text)

    def _put(self, client: Client, text: str | None) -> None:
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:         # it does not keep up: drop it, never wait for it
            client.dropped = True
            self.clients.discard(client)
            self.dropped_clients += 1
            client.close()
