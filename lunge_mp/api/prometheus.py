"""GET /metrics: the tests this server runs (and the last ones it ran), in Prometheus' text format.

Built with prometheus-client from each test's newest complete second (api/feed.py), so a
scrape reads figures the run already computed and never touches a running aggregate.
Labels: `test` (the test id), `name` (the config's name), `scenario`; failures also by `class`.
A scrape asks the feeds for latency histograms for the next 60 s (they cost the run a little,
so they are only built while someone scrapes): the first scrape may have none yet.
"""

from __future__ import annotations

import time

from aiohttp import web

from lunge_mp.api import keys
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from lunge_mp.api.feed import LATENCY_BOUNDS_S

KEEP_FINISHED = 10     # finished tests still shown (their last figures), newest first


class _Collector:
    def __init__(self, tests) -> None:
        self.tests = tests

    def collect(self):
        labels = ["test", "name", "scenario"]
        requests = CounterMetricFamily("lunge_mp_requests", "HTTP requests completed", labels=labels)
        failures = CounterMetricFamily("lunge_mp_failures", "Failed requests by class",
                                       labels=[*labels, "class"])
        dropped = CounterMetricFamily("lunge_mp_dropped_iterations", "Open-model iterations dropped",
                                      labels=labels)
        iterations = CounterMetricFamily("lunge_mp_iterations", "Iterations completed", labels=labels)
        vus = GaugeMetricFamily("lunge_mp_vus", "VUs running (last complete second)", labels=labels)
        target = GaugeMetricFamily("lunge_mp_target_rate", "Open-model target iterations/s", labels=labels)
        actual = GaugeMetricFamily("lunge_mp_actual_rate", "Iterations started in the last complete second",
                                   labels=labels)
        efficiency = GaugeMetricFamily("lunge_mp_efficiency",
                                       "Last complete second: open-model iterations started / target",
                                       labels=["test", "name"])
        running = GaugeMetricFamily("lunge_mp_test_running", "1 while the test runs, 0 once it ended",
                                    labels=["test", "name", "status"])
        latency = HistogramMetricFamily("lunge_mp_http_req_duration_seconds",
                                        "Service time of requests (from send)", labels=labels)
        for test in self.tests:
            last = test.channel.last if test.channel else None
            name = test.plan.name
            running.add_metric([test.id, name, test.status], 0.0 if test.final else 1.0)
            if not last:
                continue
            totals = last["totals"].get("byScenario") or {}
            for scn, per in last["scenarios"].items():
                key = [test.id, name, scn]
                vus.add_metric(key, per.get("vus", 0))
                actual.add_metric(key, per.get("actual", 0))
                if per.get("target") is not None:
                    target.add_metric(key, per["target"])
                tot = totals.get(scn)
                if tot:
                    requests.add_metric(key, tot["requests"])
                    iterations.add_metric(key, tot["iterations"])
                    dropped.add_metric(key, tot["dropped"])
                    for cls, n in tot["errors"].items():
                        failures.add_metric([*key, cls], n)
                h = (last.get("histograms") or {}).get(scn)
                if h:
                    buckets = [(f"{b:g}", n) for b, n in zip(LATENCY_BOUNDS_S, h["buckets"])]
                    buckets.append(("+Inf", h["count"]))
                    latency.add_metric(key, buckets, h["sum"])
            if last.get("target"):
                efficiency.add_metric([test.id, name], min(1.0, last["actual"] / last["target"]))
        yield from (requests, failures, dropped, iterations, vus, target, actual, efficiency, running, latency)


async def handler(request: web.Request) -> web.Response:
    registry = request.app[keys.REGISTRY]
    registry.want_histograms = time.monotonic()
    tests = sorted(registry.tests.values(), key=lambda t: t.created, reverse=True)
    shown = [t for t in tests if not t.final] + [t for t in tests if t.final][:KEEP_FINISHED]
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Collector(shown))
    return web.Response(body=generate_latest(reg),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
