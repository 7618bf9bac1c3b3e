"""The load generator watching itself: CPU and memory of every process, the box's network.

One sample a second (worker figures come from their heartbeats). `loadGenerator` sums them:
RSS of all processes, and their CPU averaged over the box's cores (what maxCPUPercent limits). A worker near a full
core, or whose event loop runs timers late, measures its own queueing as latency: such
seconds are flagged, live and in the report.
"""

from __future__ import annotations

import psutil

from lunge_mp.analysis.saturation import saturated


class ResourceMonitor:
    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.proc.cpu_percent()
        self.samples: list[dict] = []
        self._net = _net_counters()
        self.cpus = psutil.cpu_count() or 1

    def sample(self, t: float, workers: list) -> list[tuple[str, str]]:
        """Record one second; returns (worker id, "cpu" | "lag") for each saturated worker."""
        net = _net_counters()
        sent, recv = (net[0] - self._net[0], net[1] - self._net[1]) if net and self._net else (None, None)
        self._net = net
        entry = {
            "t": int(t),
            "coordinator": {"cpuPercent": self.proc.cpu_percent(),
                            "rssMB": round(self.proc.memory_info().rss / 2**20, 1)},
            "workers": {str(w.worker): {"cpuPercent": w.cpu_percent, "rssMB": round(w.rss_mb, 1),
                                        "loopLagMs": round(w.loop_lag_ms, 1)}
                        for w in workers if not w.lost},
            "boxCpuPercent": psutil.cpu_percent(),
            "boxMemoryPercent": psutil.virtual_memory().percent,
            "netBytesSent": sent,
            "netBytesRecv": recv,
        }
        here = {str(w.worker) for w in workers if not w.remote}   # remote workers use other boxes' CPUs
        own = [entry["coordinator"], *(v for k, v in entry["workers"].items() if k in here)]
        entry["loadGenerator"] = {   # every process of the load generator: for the guardrails
            "rssMB": round(sum(p["rssMB"] for p in own), 1),
            "cpuPercent": round(sum(p["cpuPercent"] for p in own) / self.cpus, 1),
        }
        self.samples.append(entry)
        return [(wid, kind) for wid, w in entry["workers"].items() for kind, _ in saturated(w)]


def _net_counters() -> tuple[int, int] | None:
    try:
        c = psutil.net_io_counters()
    except (OSError, RuntimeError):
        return None
    return (c.bytes_sent, c.bytes_recv) if c else None
