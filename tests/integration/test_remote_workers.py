"""Remote workers over tcp with CurveZMQ, on 127.0.0.1 with real processes: the coordinator
(`run --listen`), the workers (`lunge-mp worker --connect`), bad peers on the port, and the
embedded target counting what reached it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import zmq

from lunge_mp.protocol import messages as m
from lunge_mp.remote import keys as key_files
from tests.support import cli, read_json, wait_until, write_config

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="pyzmq without CurveZMQ (libsodium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _popen(*args: str, stderr=subprocess.PIPE, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=stderr, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


def _wait_for(what: str, check, timeout: float = 20.0):
    """`wait_until`, with what is awaited first (as the remote tests read best)."""
    return wait_until(check, timeout, what, every=0.05)


def _stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@pytest.fixture
def keys(tmp_path) -> Path:
    key_files.generate(tmp_path / "keys")
    return tmp_path / "keys"


def _config(tmp_path, url: str, seconds: int = 2, rate: int = 100, hosts: str = "") -> Path:
    guard = f"\n        guardrails: {{allowedHosts: [{hosts}]}}" if hosts else ""
    return write_config(tmp_path, f"""
        name: remote
        settings: {{baseUrl: "{url}"}}{guard}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: {rate}
            duration: {seconds}s
            preAllocatedVUs: 10
            maxVUs: 50
            gracefulStop: 1s
            requests: [{{url: "/"}}]
        """)


def _coordinator(config: Path, out: Path, port: int, remote: int, *extra: str, host: str = "127.0.0.1") -> subprocess.Popen:
    """Its stderr goes to OUT.err (read while it runs)."""
    with open(out.with_suffix(".err"), "w") as err:
        return _popen("run", str(config), "--listen", f"tcp://{host}:{port}", "--remote-workers", str(remote),
                      "--out", str(out), "--html", str(out.with_suffix(".html")), "--no-history", "--wait", "30s",
                      *extra, stderr=err)


def _children(proc: subprocess.Popen, n: int) -> list[psutil.Process] | None:
    kids = [p for p in psutil.Process(proc.pid).children() if "lunge_mp.worker" in " ".join(p.cmdline())]
    return kids if len(kids) == n else None


def _worker(port: int, *extra: str, host: str = "127.0.0.1", env: dict | None = None) -> subprocess.Popen:
    return _popen("worker", "--connect", f"tcp://{host}:{port}", "--wait", "30s", *extra, env=env)


def test_two_remote_workers_count_what_two_local_ones_count(tmp_path, fresh_target, keys):
    """Same config, same counts; `unique` data rows dealt disjointly either way (the remote
    workers get the data file in Start)."""
    (tmp_path / "ids.csv").write_text("n\n" + "".join(f"{i}\n" for i in range(200)))
    config = write_config(tmp_path, f"""
        name: remote
        settings: {{baseUrl: "{fresh_target.url}"}}
        data: [{{name: ids, file: ids.csv, mode: unique}}]
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 100
            duration: 2s
            preAllocatedVUs: 10
            maxVUs: 50
            gracefulStop: 1s
            requests: [{{url: "/bytes/{{{{ids.n}}}}"}}]
        """)
    every_row_once = {f"/bytes/{i}": 1 for i in range(200)}
    local_out = tmp_path / "local.json"
    done = cli("run", str(config), "--workers", "2", "--out", str(local_out), "-q", "--no-history", timeout=60)
    assert done.returncode == 0, done.stderr
    local_seen = fresh_target.stats()["requests"]
    assert fresh_target.stats()["byPath"] == every_row_once
    fresh_target.reset()

    port, out = _free_port(), tmp_path / "remote.json"
    coordinator = _coordinator(config, out, port, 2, "--keys", str(keys))
    workers = _worker(port, "--keys", str(keys), "--workers", "2", "--id", "box")
    try:
        coordinator.communicate(timeout=60)
        w_out, w_err = workers.communicate(timeout=20)
    finally:
        _stop(coordinator, workers)
    err = out.with_suffix(".err").read_text()
    assert coordinator.returncode == 0, err
    assert workers.returncode == 0, w_err
    local, remote = read_json(local_out), read_json(out)
    # exact arrival counts either way, each equal to what the server saw
    assert local["metrics"]["http_reqs"]["count"] == local_seen == 200
    assert remote["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"] == 200
    assert fresh_target.stats()["byPath"] == every_row_once
    assert remote["arrivalsSent"] == local["arrivalsSent"] == {"open": 200}
    # the per-second buckets add up to the same (a request may end in the next second: their
    # split differs from run to run whoever runs it)
    assert sum(b["requests"] for b in remote["buckets"]) == sum(b["requests"] for b in local["buckets"]) == 200
    assert sum(b["iterations"] for b in remote["buckets"]) == sum(b["iterations"] for b in local["buckets"])
    # every remote worker: its host, name and clock; its share of the arrivals
    names = sorted(w["name"] for w in remote["workers"])
    assert names == ["box/0", "box/1"]
    for w in remote["workers"]:
        assert w["remote"] and w["host"] == socket.gethostname() and w["pid"] > 0
        # one machine, one clock: the offset found is within its uncertainty of 0 (small on
        # loopback; bounded loosely here, as a busy machine delays some exchanges)
        assert 0 <= w["clockUncertaintyMs"] < 20 and abs(w["clockOffsetMs"]) <= w["clockUncertaintyMs"] + 0.01
        assert w["clockRttMs"] >= 0 and w["arrivalsAssigned"] == 100
    assert all(not w["remote"] and w["clockOffsetMs"] == 0 for w in local["workers"])
    assert "joined: box/" in err and "clock: offset" in err
    html = out.with_suffix(".html").read_text()
    assert "clock offset" in html and " ms ± " in html
    assert ">clock drift<" in html and ">applied offset<" in html          # remote workers only
    assert ('id="chart-clock"' in html) == any(len(w["clockHistory"]) > 1 for w in remote["workers"])
    for secret in ("coordinator.key_secret", "worker.key_secret"):    # never printed anywhere
        secret_key = key_files.load_pair(keys / secret)[1].decode()
        assert secret_key not in err + w_err + out.read_text() + html


def test_bad_peers_are_refused_and_logged_and_the_run_goes_on(tmp_path, fresh_target, keys):
    """Garbage bytes, a connection that never speaks, another protocol version, an unknown
    key, a duplicate name: each refused (those that got through Curve told why), the run
    counts exactly; a worker given another coordinator's key leaves; and a worker that comes
    after the start is refused."""
    stranger = tmp_path / "stranger"
    key_files.generate(stranger, worker_only=True)
    shutil.copy(keys / "coordinator.key", stranger / "coordinator.key")
    misled = tmp_path / "misled"        # the right worker key, another coordinator's public key
    key_files.generate(tmp_path / "elsewhere")
    misled.mkdir()
    shutil.copy(tmp_path / "elsewhere" / "coordinator.key", misled / "coordinator.key")
    shutil.copy(keys / "worker.key_secret", misled / "worker.key_secret")
    port, out = _free_port(), tmp_path / "results.json"
    # long enough for a late worker to start and say Hello before the end
    coordinator = _coordinator(_config(tmp_path, fresh_target.url, seconds=8, rate=40), out, port, 2,
                               "--keys", str(keys))
    procs = [coordinator]
    ctx = zmq.Context()
    try:
        _wait_for("the coordinator to listen", lambda: "listening on" in out.with_suffix(".err").read_text())
        garbage = socket.create_connection(("127.0.0.1", port), timeout=10)
        garbage.sendall(os.urandom(4096))
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)   # connects, never speaks
        # a peer with an authorized key but another protocol version
        other = ctx.socket(zmq.DEALER)
        other.linger = 0
        public, secret = key_files.load_pair(keys / "worker.key_secret")
        other.curve_publickey, other.curve_secretkey = public, secret
        other.curve_serverkey = key_files.load_public(keys / "coordinator.key")
        other.connect(f"tcp://127.0.0.1:{port}")
        other.send(m.encode(m.Hello(worker=-1, pid=1, protocol=99, name="old/0", host="elsewhere")))
        assert other.poll(20_000), "no answer to another protocol version"
        refused = m.decode(other.recv())
        assert isinstance(refused, m.Refused) and "protocol 99" in refused.reason
        unknown = _worker(port, "--keys", str(stranger), "--workers", "1", "--id", "stranger")
        procs.append(unknown)
        _, unknown_err = unknown.communicate(timeout=30)
        assert unknown.returncode == 1 and "refused this worker's key" in unknown_err, unknown_err
        # a worker checks the coordinator's key: one that cannot prove it holds it is left
        checked = _worker(port, "--keys", str(misled), "--workers", "1", "--id", "misled")
        procs.append(checked)
        _, checked_err = checked.communicate(timeout=30)
        assert checked.returncode == 1 and "did not prove it holds the secret key" in checked_err, checked_err
        first = _worker(port, "--keys", str(keys), "--workers", "1", "--id", "dup")
        procs.append(first)
        _wait_for("the first worker to join", lambda: "1 of 2 remote" in out.with_suffix(".err").read_text())
        twin = _worker(port, "--keys", str(keys), "--workers", "1", "--id", "dup")
        procs.append(twin)
        _, twin_err = twin.communicate(timeout=30)
        assert twin.returncode == 1 and "another worker named 'dup/0'" in twin_err, twin_err
        second = _worker(port, "--keys", str(keys), "--workers", "1", "--id", "other")
        procs.append(second)
        _wait_for("traffic", lambda: fresh_target.stats()["requests"] > 20)
        late = _worker(port, "--keys", str(keys), "--workers", "1", "--id", "late")
        procs.append(late)
        _, late_err = late.communicate(timeout=30)
        assert late.returncode == 1 and "already started" in late_err, late_err
        coordinator.communicate(timeout=60)
        for proc in (first, second):
            proc.communicate(timeout=20)
            assert proc.returncode == 0
        garbage.close()
        idle.close()
    finally:
        ctx.destroy(linger=0)
        _stop(*procs)
    assert coordinator.returncode == 0, out.with_suffix(".err").read_text()
    results = read_json(out)
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"] == 320
    warnings = "\n".join(results["warnings"])
    fingerprint = key_files.fingerprint(key_files.load_public(stranger / "worker.key"))
    assert fingerprint in warnings and "not in the authorized keys" in warnings, warnings
    assert "'old/0'" in warnings and "protocol 99" in warnings
    assert "another worker named 'dup/0'" in warnings
    assert "the run has already started" in warnings
    assert sorted(w["name"] for w in results["workers"]) == ["dup/0", "other/0"]


def test_a_remote_worker_killed_mid_run_is_lost_and_every_arrival_is_accounted_for(tmp_path, fresh_target):
    """Plaintext on loopback (--insecure) this time; kill -9 one remote worker process."""
    port, out = _free_port(), tmp_path / "results.json"
    coordinator = _coordinator(_config(tmp_path, fresh_target.url, seconds=4, rate=200), out, port, 2,
                               "--insecure", "-q")
    workers = _worker(port, "--insecure", "--workers", "2", "--id", "box")
    try:
        kids = _wait_for("two worker processes", lambda: _children(workers, 2))
        _wait_for("traffic", lambda: fresh_target.stats()["requests"] > 200)
        kids[0].send_signal(signal.SIGKILL)
        coordinator.communicate(timeout=60)
        workers.communicate(timeout=20)
    finally:
        _stop(coordinator, workers)
    assert coordinator.returncode == 0, (coordinator.returncode, out.with_suffix(".err").read_text(),
                                         out.exists() and read_json(out)["warnings"])
    assert workers.returncode != 0        # one of its processes was killed
    results = read_json(out)
    lost = [w for w in results["workers"] if w["lostAt"] is not None]
    # its connection closed (a send to it failed), or, if no send came between, its silence
    assert len(lost) == 1 and (lost[0]["error"] == "it disconnected" or lost[0]["error"].startswith("silent")), \
        results["workers"]
    metrics = results["metrics"]
    ended = sum(metrics.get(k, {}).get("count", 0)
                for k in ("iterations", "interrupted_iterations", "dropped_iterations"))
    facts = (ended, results["arrivalsUnaccounted"], results["arrivalsSent"], results["arrivalsRedealt"],
             results["workers"], results["warnings"])
    assert ended + sum(results["arrivalsUnaccounted"].values()) == results["arrivalsSent"]["open"] == 800, facts
    # nothing counted that the server did not see; what is unaccounted may have reached it
    seen = fresh_target.stats()["requests"]
    assert metrics["http_reqs"]["count"] <= seen <= metrics["http_reqs"]["count"] + lost[0]["arrivalsUnaccounted"], \
        (seen, metrics["http_reqs"]["count"], facts)


def test_insecure_is_refused_off_loopback_and_tcp_needs_keys(tmp_path, fresh_target):
    config = _config(tmp_path, fresh_target.url)
    started = time.monotonic()
    done = cli("run", str(config), "--listen", "tcp://0.0.0.0:5555", "--remote-workers", "1", "--insecure",
               timeout=30)
    assert done.returncode == 104 and "only on a loopback address" in done.stderr, done.stderr
    done = cli("run", str(config), "--listen", "tcp://127.0.0.1:5555", "--remote-workers", "1", timeout=30)
    assert done.returncode == 104 and "lunge-mp keys generate" in done.stderr, done.stderr
    done = cli("worker", "--connect", "tcp://10.1.2.3:5555", "--insecure", timeout=30)
    assert done.returncode == 104 and "only to a loopback address" in done.stderr, done.stderr
    done = cli("run", str(config), "--listen", "udp://x", "--remote-workers", "1", "--insecure", timeout=30)
    assert done.returncode == 104 and "tcp://HOST:PORT" in done.stderr, done.stderr
    assert time.monotonic() - started < 30
    assert fresh_target.stats()["requests"] == 0


def test_a_worker_that_cannot_resolve_the_target_refuses_the_plan_before_the_start(tmp_path, fresh_target):
    port, out = _free_port(), tmp_path / "results.json"
    config = _config(tmp_path, "http://no-such-host.invalid:8080")
    coordinator = _coordinator(config, out, port, 1, "--insecure", "-q")
    worker = _worker(port, "--insecure", "--workers", "1", "--id", "box")
    try:
        coordinator.communicate(timeout=60)
        _, w_err = worker.communicate(timeout=20)
    finally:
        _stop(coordinator, worker)
    assert worker.returncode == 1 and "cannot resolve the target host 'no-such-host.invalid'" in w_err, w_err
    assert coordinator.returncode == 1
    results = read_json(out)
    assert "refused the plan" in results["abortReason"] and "no-such-host.invalid" in results["abortReason"]
    assert results["metrics"].get("http_reqs", {}).get("count", 0) == 0


def test_a_stopped_remote_worker_is_lost_and_rejoins_without_double_counting(tmp_path, fresh_target):
    port, out = _free_port(), tmp_path / "results.json"
    config = _config(tmp_path, fresh_target.url, seconds=8, rate=100)
    config.write_text(config.read_text().replace("name: remote", "name: remote\noptions: {minEfficiency: 0.5}"))
    coordinator = _coordinator(config, out, port, 2, "--insecure")   # not -q: its log says when
    workers = _worker(port, "--insecure", "--workers", "2", "--id", "box")
    try:
        kids = _wait_for("two worker processes", lambda: _children(workers, 2))
        _wait_for("traffic", lambda: fresh_target.stats()["requests"] > 100)
        kids[1].send_signal(signal.SIGSTOP)
        _wait_for("the coordinator to declare it lost (after 3 s of silence)",
                  lambda: ") lost at" in out.with_suffix(".err").read_text(), timeout=20)
        kids[1].send_signal(signal.SIGCONT)
        coordinator.communicate(timeout=60)
        workers.communicate(timeout=20)
    finally:
        _stop(coordinator, workers)
    assert coordinator.returncode == 0, out.with_suffix(".err").read_text()
    assert workers.returncode == 0
    results = read_json(out)
    lost = [w for w in results["workers"] if w["lostAt"] is not None]
    assert len(lost) == 1 and lost[0]["error"].startswith("silent for") and lost[0]["rejoinedAt"] is not None
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"]
    assert results["reportGaps"] == [] and lost[0]["arrivalsUnaccounted"] == 0


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_local_and_remote_workers_together_over_ipv6(tmp_path, fresh_target):
    if not _ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "results.json"
    coordinator = _coordinator(_config(tmp_path, fresh_target.url), out, port, 1, "--local-workers", "1",
                               "--insecure", "-q", host="[::1]")
    worker = _worker(port, "--insecure", "--workers", "1", "--id", "far", host="[::1]")
    try:
        coordinator.communicate(timeout=60)
        worker.communicate(timeout=20)
    finally:
        _stop(coordinator, worker)
    assert coordinator.returncode == 0 and worker.returncode == 0, out.with_suffix(".err").read_text()
    results = read_json(out)
    assert results["metrics"]["http_reqs"]["count"] == fresh_target.stats()["requests"] == 200
    local, remote = results["workers"]
    assert (local["remote"], local["name"], remote["remote"], remote["name"]) == (False, "", True, "far/0")
    assert local["arrivalsAssigned"] == remote["arrivalsAssigned"] == 100


def test_when_not_every_worker_joins_in_time_the_run_does_not_start_and_those_that_joined_are_told(
        tmp_path, fresh_target):
    port, out = _free_port(), tmp_path / "results.json"
    coordinator = _popen("run", str(_config(tmp_path, fresh_target.url)), "--listen", f"tcp://127.0.0.1:{port}",
                         "--remote-workers", "2", "--wait", "8s", "--insecure", "-q", "--no-history",
                         "--out", str(out))
    worker = _worker(port, "--insecure", "--workers", "1", "--id", "alone")
    try:
        _, err = coordinator.communicate(timeout=60)
        _, w_err = worker.communicate(timeout=20)
    finally:
        _stop(coordinator, worker)
    assert coordinator.returncode == 1
    abort = read_json(out)["abortReason"]
    assert "within 8s" in abort and "1 of 2 remote worker(s) never joined" in abort, abort
    assert worker.returncode == 1 and "the run did not start" in w_err and "never joined" in w_err, w_err
    assert fresh_target.stats()["requests"] == 0
