"""--http-debug's printed exchange (worker/http_debug.py): k6's layout, sensitive headers and
secrets masked, bodies only with `full` and cut at BODY_CAP, at most LIMIT per worker, and the
send wrappers gone once LIMIT is reached."""

from __future__ import annotations

import asyncio
import io

from lunge_mp.executors import PerVUIterations
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.plan import Plan, RequestSpec, Settings
from lunge_mp.redact import MASK
from lunge_mp.worker import http_debug
from lunge_mp.worker.http_debug import BODY_CAP, LIMIT, DebugPrinter, format_exchange, masked_header
from lunge_mp.worker.iteration import ScenarioRunner
from lunge_mp.worker.transport import Outcome, Prepared

SECRET = "sk-UNIT-5ecret-9q"


def _plan(mode: str = "headers", url: str = "http://127.0.0.1:9/post") -> Plan:
    req = RequestSpec(name="echo", method="POST", url=url,
                      headers={"Authorization": "Bearer {{tok}}", "X-Mine": "v-{{tok}}"},
                      body='{"token": "{{tok}}"}')
    scenario = PerVUIterations(name="s", vus=1, iterations=1,
                            requests=(req,))
    return Plan(name="p", scenarios=(scenario,), settings=Settings(http_debug=mode),
                variables={"tok": SECRET}, secrets=("tok",))


def test_sensitive_header_values_are_masked_but_keep_their_shape():
    assert masked_header("Authorization", "Bearer abc.def") == f"Bearer {MASK}"
    assert masked_header("authorization", "weird-token") == MASK
    assert masked_header("Cookie", "sid=123; theme=dark") == f"sid={MASK}; theme={MASK}"
    assert masked_header("Set-Cookie", "sid=123; Path=/; HttpOnly") == f"sid={MASK}; Path=/; HttpOnly"
    assert masked_header("X-Api-Key", "k") == MASK
    assert masked_header("Content-Type", "text/plain") == "text/plain"


def test_exchange_layout_is_k6s_and_bodies_only_when_full():
    prepared = Prepared("POST", "http://u:pw@127.0.0.1:8080/post?a=1",
                        {"Authorization": "Basic xyz", "User-Agent": "ua"}, b'{"x": 1}', 5.0)
    outcome = Outcome(status=201, headers={"Content-Type": "application/json", "Set-Cookie": "b=2"},
                      body=b'{"ok": true}', set_cookies=["a=1; Path=/", "b=2"])
    text = format_exchange("t", prepared, outcome, full=False)
    lines = text.splitlines()
    assert lines[:3] == ["--- http-debug: t ---", "Request:", "POST /post?a=1 HTTP/1.1"]
    assert "Host: 127.0.0.1:8080" in lines and f"Authorization: Basic {MASK}" in lines
    assert "Content-Length: 8" in lines
    assert "HTTP/1.1 201 Created" in lines
    assert [line for line in lines if line.startswith("Set-Cookie")] == \
        [f"Set-Cookie: a={MASK}; Path=/", f"Set-Cookie: b={MASK}"]
    assert '{"x": 1}' not in text and '{"ok": true}' not in text
    full = format_exchange("t", prepared, outcome, full=True)
    assert '{"x": 1}' in full and '{"ok": true}' in full


def test_a_transport_error_is_shown_instead_of_a_response():
    text = format_exchange("t", Prepared("GET", "http://h/", {}, None, 1.0),
                           Outcome(error_class="connect", error="refused"), full=True)
    assert "(no response: connect: refused)" in text


def test_a_body_is_cut_at_the_cap_and_a_secret_cut_in_half_stays_masked():
    plan = _plan("full")
    out = io.StringIO()
    printer = DebugPrinter(plan, worker=3, out=out)
    body = b"x" * (BODY_CAP - 8) + SECRET.encode() + b"\x1b tail"      # the cap cuts the secret
    printer.show("s", "echo", Prepared("POST", "http://h/post", {}, body, 1.0),
                 Outcome(status=200, body=b"ok \x1b[31m red"))
    text = out.getvalue()
    assert "worker 3 · scenario s · request echo · 1 of at most 10" in text
    assert SECRET[:8] not in text and f"{MASK}…" in text and "more bytes not shown" in text
    assert "\x1b" not in text and "ok \\x1b[31m red" in text          # control characters escaped


def test_the_runner_prints_at_most_limit_then_takes_the_wrapper_off():
    sent = []

    class Echo:
        async def send(self, prepared: Prepared) -> Outcome:
            sent.append(prepared)
            return Outcome(status=200, body=prepared.body or b"")

        async def close(self) -> None:
            pass

    plan = _plan("full")
    transport = Echo()
    runner = ScenarioRunner(plan, plan.scenarios[0], transport, Recorder(), 1)
    out = io.StringIO()
    printer = http_debug._PRINTERS[runner.recorder]
    printer.out = out
    vu = runner.new_vu()

    async def go() -> None:
        for i in range(LIMIT + 5):
            await runner.iteration(vu, i, None)

    asyncio.run(go())
    text = out.getvalue()
    assert len(sent) == LIMIT + 5
    assert text.count("--- http-debug: worker 0 · scenario s") == LIMIT
    assert f"{LIMIT} of at most {LIMIT}" in text and "no more" in text
    assert SECRET not in text and f"Authorization: Bearer {MASK}" in text and f"X-Mine: v-{MASK}" in text
    assert runner.requests[0].send == transport.send       # unwrapped: later requests cost nothing


def test_without_the_setting_the_send_is_the_transports_own():
    plan = _plan("")
    transport = type("T", (), {"send": lambda self, p: None})()
    runner = ScenarioRunner(plan, plan.scenarios[0], transport, Recorder(), 1)
    assert runner.requests[0].send == transport.send
