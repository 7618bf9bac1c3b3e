"""The HTTP target of the control plane's benchmark (benchmarks/serve_bench.py).

nginx (Debian's, when installed): one worker process answering `GET /` with a 2-byte body,
its own config and files in a temp dir, counting requests at the server (stub_status). It
costs a fraction of the CPU of the embedded Python target per request, so on the 2-core box
more of a core is left for the load generator and the control plane being measured.
Without nginx, the embedded target (lunge_mp.target). Either way `count()` is the requests
the server has answered so far, so a run's rate is counted at the server.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 65536; multi_accept on; }}
worker_rlimit_nofile 70000;
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location = /__nginx_status {{ stub_status; }}
    location / {{ default_type text/plain; return 200 "ok"; }}
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    kind = "nginx"

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="serve-bench-nginx-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port))
        self.proc = subprocess.Popen([shutil.which("nginx"), "-p", str(self.dir), "-c", str(conf)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "stderr.log", "wb"), start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError):
                self._status()
                self._status_reads = 1
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not start: {(self.dir / 'stderr.log').read_text()[-500:]}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _status(self) -> str:
        return urllib.request.urlopen(self.url + "/__nginx_status", timeout=5).read().decode()

    def count(self) -> int:
        """Requests answered so far, the status requests (this one included) apart."""
        text = self._status()
        total = int(re.search(r"^\s*\d+\s+\d+\s+(\d+)\s*$", text, re.M).group(1))
        self._status_reads += 1
        return total - self._status_reads

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)     # master and worker (its own session)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Embedded:
    kind = "embedded"

    def __init__(self) -> None:
        from lunge_mp.target import start_target
        self._target = start_target(port=0, workers=1)
        self.url, self.pid = self._target.url, self._target.pid

    def count(self) -> int:
        return int(self._target.stats().get("requests", 0))

    def stop(self) -> None:
        self._target.stop()


@contextlib.contextmanager
def bench_target(kind: str = "auto"):
    """nginx when asked or (auto) when installed, else the embedded target."""
    use_nginx = kind == "nginx" or (kind == "auto" and shutil.which("nginx"))
    target = Nginx() if use_nginx else Embedded()
    try:
        yield target
    finally:
        target.stop()
