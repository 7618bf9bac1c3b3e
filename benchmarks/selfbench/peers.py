"""The peer tools of `make bench PEERS=1`: wrk and k6 against the same target."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from selfbench.configs import LG_CPU, TARGET_CPU
from selfbench.procs import pin, run_command, settle, tree_cpu
from selfbench.runs import target_rate

def k6_binary() -> str | None:
    cand = Path(sys.executable).parent / "k6"
    return str(cand) if cand.exists() else shutil.which("k6")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_ms(text: str) -> float | None:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def run_wrk(label: str, url: str, conns: int, duration: int, target, tmp: Path, pinned: bool) -> dict:
    """wrk -t1 -c<conns> -d<duration>s --latency <url>; requests/s, p50/p99 (ms)."""
    errp, outp = tmp / f"wrk_{conns}_{int(time.time() * 1000)}.err", tmp / f"wrk_{conns}_{int(time.time() * 1000)}.out"
    pin(target.pid, {TARGET_CPU} if pinned else None)
    settle(target)
    target.reset()
    before = target.stats()
    code, wall, cpu, sampler = run_command(["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", url],
                                           errp, duration + 30, {LG_CPU} if pinned else None,
                                           sample=True, stdout_path=outp)
    text = outp.read_text(errors="replace")
    after = target.stats()
    achieved, _ = target_rate(after.get("perSecond", {}))
    row = {"tool": "wrk", "label": label, "exitCode": code, "wallSeconds": round(wall, 3),
           "cpuSeconds": round(cpu, 3), "coresSteady": sampler.steady_cores() if sampler else None,
           "requestsTarget": after["requests"] - before["requests"], "achievedRateTarget": achieved,
           "output": text[-2000:], "error": None if code == 0 else f"wrk exited {code}"}
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    row["requestsPerSecond"] = float(m.group(1)) if m else None
    for pct in ("50", "99"):
        m = re.search(rf"^\s*{pct}(?:\.0+)?%\s+(\S+)", text, re.M)
        row[f"p{pct}Ms"] = parse_ms(m.group(1)) if m else None
    return row


_K6_SCRIPT = """\
import http from 'k6/http';
import {{ check }} from 'k6';
export const options = {{
  discardResponseBodies: true,
  summaryTrendStats: ['med', 'p(99)', 'max'],
  scenarios: {{ s: {scenario} }},
}};
export default function () {{
  const r = http.get(__ENV.URL);
  check(r, {{ 'status is 200': (x) => x.status === 200 }});
}}
"""


def run_k6(label: str, url: str, scenario: dict, duration: int, target, tmp: Path, pinned: bool,
           rate: int | None = None) -> dict:
    k6 = k6_binary()
    name = re.sub(r"[^A-Za-z0-9]+", "_", label) + f"_{int(time.time() * 1000)}"
    script, summary, errp = tmp / f"{name}.js", tmp / f"{name}.summary.json", tmp / f"{name}.err"
    script.write_text(_K6_SCRIPT.format(scenario=json.dumps(scenario)))
    env = dict(os.environ, URL=url, K6_NO_USAGE_REPORT="true", K6_NO_COLOR="true")
    pin(target.pid, {TARGET_CPU} if pinned else None)
    settle(target)
    target.reset()
    before = target.stats()
    tcpu0 = tree_cpu(target.pid)
    code, wall, cpu, sampler = run_command([k6, "run", "--quiet", "--no-color", "--summary-export", str(summary),
                                            str(script)], errp, duration + 60,
                                           {LG_CPU} if pinned else None, env=env, sample=True)
    after = target.stats()
    achieved, _ = target_rate(after.get("perSecond", {}))
    row = {"tool": "k6", "label": label, "exitCode": code, "wallSeconds": round(wall, 3),
           "cpuSeconds": round(cpu, 3), "coresSteady": sampler.steady_cores() if sampler else None,
           "coresWhole": round(cpu / duration, 3), "targetCpuSeconds": round(tree_cpu(target.pid) - tcpu0, 3),
           "requestsTarget": after["requests"] - before["requests"], "achievedRateTarget": achieved,
           "stderrTail": errp.read_text(errors="replace")[-2000:],
           "error": None if code in (0, 99) else f"k6 exited {code}"}
    if summary.exists():
        m = json.loads(summary.read_text()).get("metrics", {})
        d = m.get("http_req_duration") or {}
        row.update(requestsPerSecond=(m.get("http_reqs") or {}).get("rate"),
                   requests=(m.get("http_reqs") or {}).get("count"),
                   iterations=(m.get("iterations") or {}).get("count"),
                   dropped=(m.get("dropped_iterations") or {}).get("count", 0),
                   p50Ms=d.get("med"), p99Ms=d.get("p(99)"), maxMs=d.get("max"))
        if rate:
            due = rate * duration
            row["efficiency"] = round(min(1.0, (row.get("iterations") or 0) / due), 6)
    return row
