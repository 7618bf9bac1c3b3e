"""Integration tests for the embedded HTTP target (lunge_mp.target)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import psutil
import pytest

from lunge_mp.target import TargetProcess, start_target

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, data: bytes | None = None, method: str | None = None,
          headers: dict | None = None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class RawConn:
    """A raw socket with a persistent buffer, so pipelined responses are not lost."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def read_response(self) -> tuple[int, dict, bytes]:
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), "connection closed before a full response head"
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            assert self._fill(), "connection closed mid-body"
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed_by_peer(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module", params=[1, 2], ids=["workers1", "workers2"])
def target(request):
    with start_target(workers=request.param) as t:
        yield t


def test_root(target: TargetProcess):
    status, headers, body = fetch(target.url + "/")
    assert status == 200 and body == b"ok"
    assert headers["Content-Type"].startswith("text/plain")


def test_json(target: TargetProcess):
    status, headers, body = fetch(target.url + "/json")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"id": 42, "name": "widget", "items": [{"id": 1}, {"id": 2}],
                                "token": "abc123"}
    ids = {int(fetch(target.url + "/json")[1]["X-Request-ID"]) for _ in range(5)}
    assert len(ids) == 5


def test_post_echo(target: TargetProcess):
    payload = {"a": 1, "b": [1, 2]}
    status, headers, body = fetch(target.url + "/post", json.dumps(payload).encode(),
                                  headers={"Content-Type": "application/json", "X-Foo": "bar"})
    assert status == 200 and headers["Content-Type"] == "application/json"
    echo = json.loads(body)
    assert echo["json"] == payload
    assert json.loads(echo["body"]) == payload
    assert echo["headers"]["X-Foo"] == "bar"
    # not JSON -> json null; any method works
    status, _, body = fetch(target.url + "/post", b"hello", method="PUT")
    echo = json.loads(body)
    assert status == 200 and echo["json"] is None and echo["body"] == "hello"
    status, _, body = fetch(target.url + "/post")
    assert json.loads(body) == {"json": None, "body": "", "headers": json.loads(body)["headers"]}


def test_delay(target: TargetProcess):
    t0 = time.monotonic()
    status, _, body = fetch(target.url + "/delay/200")
    assert status == 200 and body == b"ok"
    assert time.monotonic() - t0 >= 0.19


def test_status(target: TargetProcess):
    for code in (201, 404, 418, 500, 503):
        status, _, body = fetch(target.url + f"/status/{code}")
        assert status == code and body.startswith(str(code).encode())
    assert fetch(target.url + "/status/204")[0] == 204
    assert fetch(target.url + "/status/700")[0] == 400


def test_bytes(target: TargetProcess):
    for n in (0, 1, 1000, 100_000):
        status, headers, body = fetch(target.url + f"/bytes/{n}")
        assert status == 200 and len(body) == n and int(headers["Content-Length"]) == n


def test_not_found(target: TargetProcess):
    assert fetch(target.url + "/nope")[0] == 404
    assert fetch(target.url + "/delay/abc")[0] == 404


def test_keepalive_reuses_connection(target: TargetProcess):
    c = RawConn(target.port)
    try:
        for path, expect in ((b"/", b"ok"), (b"/json", b'"widget"'), (b"/", b"ok")):
            c.send(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = c.read_response()
            assert status == 200 and expect in body
            assert headers.get("connection", "") != "close"
    finally:
        c.close()


def test_pipelining_keeps_order(target: TargetProcess):
    c = RawConn(target.port)
    try:
        # slow request first: its response must still come first
        c.send(b"GET /delay/150 HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response()[2] == b"ok"
        assert b"widget" in c.read_response()[2]
        assert c.read_response()[0] == 201
    finally:
        c.close()


def test_chunked_post(target: TargetProcess):
    c = RawConn(target.port)
    try:
        c.send(b"POST /post HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: application/json\r\n\r\n"
               b"7\r\n{\"k\": [\r\n"
               b"5\r\n1, 2]\r\n"
               b"1\r\n}\r\n"
               b"0\r\n\r\n"
               # the next request on the same connection must parse fine
               b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
               b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = c.read_response()
        echo = json.loads(body)
        assert status == 200 and echo["json"] == {"k": [1, 2]} and echo["body"] == '{"k": [1, 2]}'
        assert c.read_response()[0] == 404
        assert c.read_response()[2] == b"ok"
    finally:
        c.close()


def test_connection_close(target: TargetProcess):
    c = RawConn(target.port)
    try:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
               b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")   # must be ignored
        status, headers, body = c.read_response()
        assert status == 200 and body == b"ok" and headers["connection"] == "close"
        assert c.buf == b"" and c.closed_by_peer()
    finally:
        c.close()


def test_http10(target: TargetProcess):
    c = RawConn(target.port)
    try:
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        assert c.read_response()[2] == b"ok"
        assert c.closed_by_peer()
    finally:
        c.close()
    c = RawConn(target.port)
    try:
        for _ in range(2):
            c.send(b"GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, body = c.read_response()
            assert status == 200 and headers["connection"] == "keep-alive"
    finally:
        c.close()


def test_bad_request(target: TargetProcess):
    c = RawConn(target.port)
    try:
        c.send(b"THIS IS NOT HTTP\r\n\r\n")
        assert c.read_response()[0] == 400
        assert c.closed_by_peer()
    finally:
        c.close()


def test_stats_and_reset(target: TargetProcess):
    target.reset()
    s = target.stats()
    assert s["requests"] == 0 and s["byPath"] == {} and s["perSecond"] == {}
    assert abs(s["since"] - time.time()) < 5
    # separate connections, so with 2 workers both get some (SO_REUSEPORT hashing)
    rids = [int(fetch(target.url + "/json")[1]["X-Request-ID"]) for _ in range(30)]
    for _ in range(5):
        fetch(target.url + "/")
    fetch(target.url + "/nope")
    s = target.stats()
    assert s["requests"] == 36
    assert s["byPath"] == {"/json": 30, "/": 5, "/nope": 1}
    assert sum(s["perSecond"].values()) == 36
    assert all(abs(int(k) - time.time()) < 10 for k in s["perSecond"])
    assert s["workers"] == target.workers
    if target.workers == 2:
        # X-Request-ID = counter * workers + worker index: both workers served
        assert {r % 2 for r in rids} == {0, 1}
    # /__stats and /__reset are not counted
    assert target.stats()["requests"] == 36
    target.reset()
    assert target.stats()["requests"] == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_stop_leaves_nothing(workers: int):
    t = start_target(workers=workers)
    proc = psutil.Process(t.pid)
    procs = [proc] + proc.children(recursive=True)
    assert len(procs) >= workers + (1 if workers > 1 else 0)
    assert fetch(t.url + "/")[0] == 200
    assert t.stop() == 0
    for p in procs:   # gone, or an already-dead zombie awaiting init's reaping
        assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE, p
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", t.port), timeout=1).close()
