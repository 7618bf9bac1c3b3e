"""Closed-model guardrails are limits, as the server counts them: real workers, many fast VUs.

- maxTotalRequests: the server never sees more than the cap (plus the requests in flight when
  it is reached, at most the VUs), one request or several per iteration; exit 111 with the
  exact count.
- maxRate: no second at the server holds more than the rate (plus the stated tolerance).
- Redirects: every hop is a request at the server, and takes a permit of its own.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support import cli, cli_popen, read_json, write_config


def _closed(tmp_path, name: str, url: str, vus: int, duration: str, paths: list[str], guardrails: str,
            transport: str = "auto"):
    requests = ", ".join(f'{{url: "{p}"}}' for p in paths)
    return write_config(tmp_path, f"""
        name: {name}
        settings: {{baseUrl: "{url}", transport: {transport}}}
        scenarios:
          s:
            executor: constant-vus
            vus: {vus}
            duration: {duration}
            gracefulStop: 2s
            requests: [{requests}]
        guardrails: {guardrails}
        """, name=f"{name}.yaml")


def test_max_total_requests_holds_for_closed_vus_as_the_server_counts(tmp_path, fresh_target):
    """The issue's case (20 VUs for 8 s, cap 3,000: the server saw 76,624) and one with three
    requests per iteration: a permit per request, not per iteration."""
    runs = {
        "one": (_closed(tmp_path, "one", fresh_target.url, 20, "8s", ["/bytes/31"], "{maxTotalRequests: 3000}"),
                3000, 20),
        "three": (_closed(tmp_path, "three", fresh_target.url, 16, "8s",
                          ["/bytes/32", "/bytes/33", "/bytes/34"], "{maxTotalRequests: 1000}"), 1000, 16),
    }
    procs = {name: cli_popen("run", str(config), "--out", str(tmp_path / f"{name}.json"), "--workers", "2",
                             "-q", "--no-history") for name, (config, _, _) in runs.items()}
    done = {name: (proc.communicate(timeout=90), proc.returncode) for name, proc in procs.items()}
    by_path = fresh_target.stats()["byPath"]
    seen = {"one": by_path.get("/bytes/31", 0),
            "three": sum(by_path.get(f"/bytes/{n}", 0) for n in (32, 33, 34))}
    for name, (config, cap, vus) in runs.items():
        (_, stderr), code = done[name]
        assert code == 111, (name, stderr)
        assert "Traceback" not in stderr
        results = read_json(tmp_path / f"{name}.json")
        assert results["abortReason"].startswith("guardrail maxTotalRequests:"), results["abortReason"]
        assert seen[name] <= cap + vus, (name, seen[name])
        # every permit was used and every request counted: the exact figure, as the server saw it
        assert results["metrics"]["http_reqs"]["count"] == cap == seen[name], name
        assert results["guardrails"]["permits"]["handedOut"] == cap
        assert results["wallSeconds"] < 8               # stopped at the cap, not at the end


def test_max_rate_holds_every_second_at_the_server(tmp_path, fresh_target):
    """40 fast VUs on 2 workers under maxRate 500 for 5 s (the issue: 228,564 in 4 s).

    The bound (schedule/permits.py): any window of T holds at most R·(T + 2 ms) + W permits,
    here 500 + 1 + 2 a second; a request reaches the server a moment after its permit, so
    a second may also take a few of the previous one's: tolerance 1% more (508)."""
    config = _closed(tmp_path, "rate", fresh_target.url, 40, "5s", ["/bytes/35"], "{maxRate: 500}")
    out = tmp_path / "rate.json"
    proc = cli("run", str(config), "--out", str(out), "--workers", "2", "-q", "--no-history")
    assert proc.returncode == 0, proc.stderr
    stats = fresh_target.stats()
    per_second = list(stats["perSecond"].values())
    assert max(per_second) <= 508, per_second
    results = read_json(out)
    assert results["metrics"]["http_reqs"]["count"] == stats["requests"]
    assert 0.6 * 500 * 5 <= stats["requests"] <= 500 * 6, stats["requests"]   # throttled, not stopped
    permits = results["guardrails"]["permits"]
    assert permits["closedRates"] == {"s": 500.0}
    assert permits["waits"]["maxRate"] > 0 and permits["waitSeconds"]["maxRate"] > 0
    assert any(w.startswith("guardrail maxRate: the rate cap throttled the closed-model VUs")
               for w in results["warnings"])


@contextmanager
def _redirect_chain() -> Iterator[tuple[str, list[int]]]:
    """/hop/N answers 302 to /hop/N-1, /hop/0 answers 200; every request is counted."""
    count = [0]
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            with lock:
                count[0] += 1
            n = int(self.path.rsplit("/", 1)[1])
            self.send_response(302 if n else 200)
            if n:
                self.send_header("Location", f"/hop/{n - 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", count
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("transport", ["auto", "aiohttp"])
def test_each_redirect_hop_takes_a_permit(tmp_path, transport):
    """A request redirected three times is four requests at the server: four permits."""
    with _redirect_chain() as (url, count):
        config = _closed(tmp_path, f"hops-{transport}", url, 4, "10s", ["/hop/3"], "{maxTotalRequests: 200}",
                         transport)
        out = tmp_path / "hops.json"
        proc = cli("run", str(config), "--out", str(out), "--workers", "1", "-q", "--no-history")
        seen = count[0]
    assert proc.returncode == 111, proc.stderr
    results = read_json(out)
    assert seen <= 200 + 4, seen
    assert results["guardrails"]["permits"]["handedOut"] == 200
    # the results count a redirected request once: about a quarter of the permits
    assert 40 <= results["metrics"]["http_reqs"]["count"] <= 50
