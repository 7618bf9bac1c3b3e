"""Worker hot path, µs of CPU per request by layer (the figures of docs/PERFORMANCE.md).

    .venv/bin/python benchmarks/hotpath.py            # fake socket + the embedded target
    .venv/bin/python benchmarks/hotpath.py --fake     # fake socket only (no syscalls, steadier)
    .venv/bin/python benchmarks/hotpath.py --layers aiohttp,send   # some layers only

Each layer adds one piece of the worker's per-request work on top of the one before:

  fake socket (in process, no syscalls: the Python side alone)
    send      FastTransport.send: head cache, pool, protocol callbacks, httptools, Outcome
    iter      + ScenarioRunner.iteration: prepare, status check, Recorder, cookie jar
    tmpl      iter with a POST whose header, URL and JSON body are templated (rendering, the
              run-time head checks, JSON encoding of the body, head encoding every request)
    closed    + ClosedScenario VU loops (what a closed-model worker runs)
    permits   closed, with a maxRate permit before each request (a rate it never reaches: the
              cost of the default guardrail, 100,000 requests/s)
    open      + OpenScenario: timer-driven dispatch, VU hand-off (10k arrivals/s)
    recorder  Recorder.request_done + iteration_done + the fold, alone
  real socket (the embedded target on another CPU when there are two; user and system CPU)
    raw       a minimal asyncio Protocol + httptools client: the floor of Python on uvloop
    send / iter / closed   as above, through the kernel
    aiohttp   AiohttpTransport.send

CPU is this process's own (getrusage), so a busy machine changes the wall time much more
than the figures; still, run it twice and compare medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import httptools
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lunge_mp.config.loader import parse_text  # noqa: E402
from lunge_mp.config.validate import plan_from_dict  # noqa: E402
from lunge_mp.metrics.recorder import Recorder  # noqa: E402
from lunge_mp.worker.fast_transport import FastTransport  # noqa: E402
from lunge_mp.worker.http1 import _Conn  # noqa: E402
from lunge_mp.worker.pool import Pool  # noqa: E402
from lunge_mp.worker.closed_model import ClosedScenario  # noqa: E402
from lunge_mp.worker.iteration import ScenarioRunner  # noqa: E402
from lunge_mp.worker.open_model import OpenScenario  # noqa: E402
from lunge_mp.worker.permits import PermitGate, PermittedTransport  # noqa: E402
from lunge_mp.worker.transport import AiohttpTransport, Prepared  # noqa: E402

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
VUS = 50


def plan_for(base_url: str):
    text = f"""
name: hotpath
settings: {{baseUrl: "{base_url}", timeout: 10s}}
scenarios:
  s:
    executor: constant-vus
    vus: {VUS}
    duration: 10s
    requests:
      - name: "GET /"
        url: /
        assertions: [{{type: status, condition: eq, value: "200"}}]
"""
    return plan_from_dict(parse_text(text, "yaml"))


def templated_plan_for(base_url: str):
    """The `tmpl` layer's request: nothing static, so nothing comes from a cache."""
    text = f"""
name: hotpath-templated
settings: {{baseUrl: "{base_url}", timeout: 10s}}
variables: {{tenant: acme}}
scenarios:
  s:
    executor: constant-vus
    vus: {VUS}
    duration: 10s
    requests:
      - name: create
        method: POST
        url: "/items/{{{{vu}}}}?tenant={{{{tenant}}}}"
        headers: {{X-Request-Id: "{{{{vu}}}}-{{{{iteration}}}}", Accept: application/json}}
        body: {{id: "{{{{iteration}}}}", tenant: "{{{{tenant}}}}", tags: [a, b], n: 3, ok: true}}
        assertions: [{{type: status, condition: eq, value: "200"}}]
"""
    return plan_from_dict(parse_text(text, "yaml"))


def cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


# -- a fake socket: write() answers on the next loop turn ----------------------------------------

class _FakeSocket:
    def __init__(self, proto, loop) -> None:
        self.proto, self.loop, self.closing = proto, loop, False

    def write(self, data: bytes) -> None:
        self.loop.call_soon(self.proto.data_received, RESPONSE)

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name, default=None):
        return default

    def close(self) -> None:
        self.closing = True

    abort = close


async def _fake_connect(self, deadline):
    conn = _Conn(self)
    conn.connection_made(_FakeSocket(conn, self.loop))
    self.conns.add(conn)
    return conn


class _Raw(asyncio.Protocol):
    def __init__(self, req: bytes, left: list[int], done: asyncio.Future) -> None:
        self.req, self.left, self.done = req, left, done
        self.parser = httptools.HttpResponseParser(self)

    def connection_made(self, transport) -> None:
        self.t = transport
        transport.write(self.req)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.left[0] -= 1
        if self.left[0] > 0:
            self.t.write(self.req)
        elif not self.done.done():
            self.done.set_result(None)


DETAILED = False      # --timings detailed


async def measure(layer: str, base_url: str, n: int) -> tuple[float, float]:
    """(user µs, system µs) per request of `layer`."""
    loop = asyncio.get_running_loop()
    plan = templated_plan_for(base_url) if layer == "tmpl" else plan_for(base_url)
    rec = Recorder(breakdown=True, detailed=DETAILED)
    if layer == "recorder":
        u0, s0 = cpu()
        for i in range(n):
            rec.request_done("s", "GET /", 500 + (i & 1023), None, False, None, None, 60, 50)
            rec.iteration_done("s", 520 + (i & 1023), None)
            if DETAILED:
                rec.phases("s", "GET /", 20, 400 + (i & 1023), 80)
        rec.drain()
        u1, s1 = cpu()
        return (u1 - u0) / n * 1e6, (s1 - s0) / n * 1e6
    if layer == "raw":
        host, port = base_url.split("//")[1].split(":")
        req = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
        left, done = [n], loop.create_future()
        u0, s0 = cpu()
        for _ in range(VUS):
            await loop.create_connection(lambda: _Raw(req, left, done), host, int(port))
        await done
        u1, s1 = cpu()
        return (u1 - u0) / n * 1e6, (s1 - s0) / n * 1e6
    transport = (AiohttpTransport(100, detailed=DETAILED) if layer == "aiohttp"
                 else FastTransport(100, detailed=DETAILED))
    runner = ScenarioRunner(plan, plan.scenarios[0], transport, rec, 1)
    spec = plan.scenarios[0].requests[0]
    prepared = Prepared("GET", spec.url, dict(spec.headers), None, 10.0)
    per = n // VUS

    async def vu_send() -> None:
        for _ in range(per):
            await transport.send(prepared)

    async def vu_iter() -> None:
        vu = runner.new_vu()
        for i in range(per):
            await runner.iteration(vu, i, None)

    for _ in range(3):                       # connections up, caches warm
        await vu_send()
    u0, s0 = cpu()
    if layer in ("send", "aiohttp"):
        await asyncio.gather(*[vu_send() for _ in range(VUS)])
    elif layer in ("iter", "tmpl"):
        await asyncio.gather(*[vu_iter() for _ in range(VUS)])
    elif layer in ("closed", "permits"):
        permits = None
        if layer == "permits":               # as the worker does under the default maxRate
            permits = PermitGate(False, lambda used, want: None).scenario(1e9)
            runner = ScenarioRunner(plan, plan.scenarios[0], PermittedTransport(transport, permits), rec, 1)
        scenario = ClosedScenario(runner, lambda: None, permits)
        scenario.set_vus(VUS, per)
        await asyncio.sleep(0)
        while scenario.running:
            await asyncio.sleep(0.01)
    elif layer == "open":
        rate = 10_000
        t0 = time.monotonic_ns() + 5_000_000
        scenario = OpenScenario(runner, t0, 50, 2000)
        scenario.start()
        step = 1e6 / rate
        offsets = [int(i * step) for i in range(n)]
        for i in range(0, n, rate // 4):     # the coordinator sends 250 ms ahead
            scenario.assign(i, offsets[i:i + rate // 4])
            await asyncio.sleep(0.25 if i else 0)
        await scenario.end(time.monotonic_ns() + 5_000_000_000)
    rec.drain()
    u1, s1 = cpu()
    await transport.close()
    return (u1 - u0) / n * 1e6, (s1 - s0) / n * 1e6


async def run_layer(layer: str, base_url: str, n: int, fake: bool) -> tuple[float, float]:
    saved = Pool._connect
    if fake:
        Pool._connect = _fake_connect
    try:
        return await measure(layer, base_url, n)
    finally:
        Pool._connect = saved


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fake", action="store_true", help="fake socket layers only")
    p.add_argument("--n", type=int, default=200_000, help="requests per layer (default 200,000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per layer, median shown (default 3)")
    p.add_argument("--layers", default="", help="comma list of layers to run (default: all), e.g. aiohttp,send")
    p.add_argument("--timings", choices=("summary", "detailed"), default="summary",
                   help="settings.timings: detailed adds TLS/sending/waiting/receiving (default summary)")
    a = p.parse_args()
    global DETAILED
    DETAILED = a.timings == "detailed"
    only = {x.strip() for x in a.layers.split(",") if x.strip()}
    target = None
    if not a.fake:
        from lunge_mp.target import start_target
        target = start_target(port=0, workers=1)
        if (os.cpu_count() or 1) >= 2:       # target on CPU 1, this process on CPU 0
            os.sched_setaffinity(target.pid, {1})
            os.sched_setaffinity(0, {0})
    try:
        rows = [("fake", layer) for layer in ("send", "iter", "tmpl", "closed", "permits", "open", "recorder")]
        if target is not None:
            rows += [("real", layer) for layer in ("raw", "send", "iter", "closed", "aiohttp")]
        if only:
            rows = [r for r in rows if r[1] in only]
        print(f"{'socket':6s} {'layer':9s} {'user µs':>8s} {'sys µs':>8s} {'total':>8s}   (median of {a.repeat})")
        for sock, layer in rows:
            n = a.n if layer not in ("aiohttp", "open") else a.n // 4
            if layer == "open":
                n = 20_000                   # 2 s at 10k arrivals/s
            results = []
            for _ in range(a.repeat):
                url = target.url if sock == "real" else "http://127.0.0.1:9"
                results.append(uvloop.run(run_layer(layer, url, n, sock == "fake")))
            u = statistics.median(r[0] for r in results)
            s = statistics.median(r[1] for r in results)
            print(f"{sock:6s} {layer:9s} {u:8.2f} {s:8.2f} {u + s:8.2f}", flush=True)
    finally:
        if target is not None:
            target.stop()


if __name__ == "__main__":
    main()
