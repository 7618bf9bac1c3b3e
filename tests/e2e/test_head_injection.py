"""No config or run-time value can add a header or a request line (CRLF injection, issue 10
item 3). A raw server keeps the bytes it receives, so what reached the wire is seen exactly.

- static (in the config, `${VAR}` expanded, or a variable): exit 104 naming the field, and
  nothing is sent;
- from a data row or an extracted value (known only at run time): that request is not sent and
  counts as a failed request of class `template`; the other requests go out clean;
- the fast transport's head encoder refuses such a head even when handed one directly (CR, LF
  or NUL anywhere in a header, a control character in the URL, a method that is not a token;
  header names are checked as tokens at load).
"""

from __future__ import annotations

import pytest

from tests.raw_server import RawServer
from tests.support import cli, read_json, write_config

SECRET = "Zq9Secret\r\nInjected: 1"


@pytest.fixture
def raw():
    with RawServer() as server:
        yield server


def _config(url: str, request: str, top: str = "", settings: str = "") -> str:
    return f"""
name: injection
settings: {{baseUrl: "{url}", transport: fast{settings}}}
{top}
scenarios:
  s:
    executor: per-vu-iterations
    vus: 1
    iterations: 2
    requests:
      - {request}
"""


# case: (request, top-level extra, settings extra, expected error line)
STATIC_CASES = {
    "header value": ('{url: /a, headers: {X-A: "v\\r\\nInjected: 1"}}', "", "",
                     "scenarios.s.requests[0].headers.X-A: contains a CR"),
    "settings header value": ("{url: /a}", "", ', headers: {X-A: "v\\nInjected: 1"}',
                              "settings.headers.X-A: contains an LF"),
    "settings userAgent": ("{url: /a}", "", ', userAgent: "ua\\r\\nInjected: 1"',
                           "settings.userAgent: contains a CR"),
    "settings baseUrl": ("{url: /a}", "", "", "settings.baseUrl: contains an LF"),
    "header name": ('{url: /a, headers: {"X-A: b": "v"}}', "", "",
                    "scenarios.s.requests[0].headers: 'X-A: b' is not a valid header name"),
    "header name with CRLF": ('{url: /a, headers: {"X-A\\r\\nInjected": "1"}}', "", "",
                              "is not a valid header name"),
    "NUL in a header": ('{url: /a, headers: {X-A: "v\\0w"}}', "", "", "headers.X-A: contains a NUL"),
    "url": ('{url: "/a\\r\\nInjected: 1"}', "", "", "scenarios.s.requests[0].url: contains a CR"),
    "method": ('{url: /a, method: "GET /x HTTP/1.1\\r\\nInjected:"}', "", "",
               "scenarios.s.requests[0].method: unknown method"),
    "variable in a header": ('{url: /a, headers: {X-A: "pre {{v}}"}}', 'variables: {v: "v\\r\\nInjected: 1"}', "",
                             "scenarios.s.requests[0].headers.X-A: after substituting variable v: contains a CR"),
    "secret variable in the url": ('{url: "/a?t={{tok}}"}',
                                   'variables: {tok: {value: "Zq9Secret\\r\\nInjected: 1", secret: true}}', "",
                                   "scenarios.s.requests[0].url: after substituting secret variable tok: "
                                   "contains a CR"),
    "environment variable": ('{url: /a, headers: {X-A: "${INJECT}"}}', "", "",
                             "scenarios.s.requests[0].headers.X-A: contains a CR"),
}


@pytest.mark.parametrize("case", list(STATIC_CASES))
def test_static_injection_is_a_config_error_and_sends_nothing(case, tmp_path, raw):
    request, top, settings, expected = STATIC_CASES[case]
    url = raw.url + ("/\\nInjected: 1" if case == "settings baseUrl" else "")
    config = write_config(tmp_path, _config(url, request, top, settings))
    env = {"INJECT": "v\\r\\nInjected: 1"}     # YAML escapes, inside a double-quoted string
    checked = cli("validate", str(config), env=env)
    proc = cli("run", str(config), "--no-history", "--workers", "1", env=env)
    for p in (checked, proc):
        assert p.returncode == 104, (p.stdout, p.stderr)
        assert expected in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
        assert "Zq9Secret" not in p.stderr + p.stdout     # a secret's value is never shown
    assert raw.requests == []


def test_run_time_values_are_template_failures_and_never_reach_the_wire(tmp_path, raw):
    # the raw server hands out a value with CRLF (extracted whole); a data file has one too
    raw.bodies[b"/token"] = b"tok\r\nInjected: 1"
    (tmp_path / "rows.csv").write_bytes(b'v\r\nclean\r\n"bad\r\nInjected: 1"\r\n')
    token = '{name: token, url: /token, extract: [{name: tok, source: body, regex: "(?s)(.*)"}]}'
    config = write_config(tmp_path, f"""
        name: injection at run time
        settings: {{baseUrl: "{raw.url}", transport: fast}}
        data: [{{name: rows, file: rows.csv, mode: sequential}}]
        scenarios:
          header:
            executor: per-vu-iterations
            vus: 1
            iterations: 2
            requests:
              - {token}
              - {{name: extracted header, url: /h, headers: {{X-Token: "{{{{tok}}}}"}}}}
          url:
            executor: per-vu-iterations
            vus: 1
            iterations: 2
            requests:
              - {token}
              - {{name: extracted url, url: "/u/{{{{tok}}}}"}}
          row:
            executor: per-vu-iterations
            vus: 1
            iterations: 2
            requests:
              - {{name: row header, url: /r, headers: {{X-Row: "{{{{rows.v}}}}"}}}}
        thresholds:
          http_req_failed: ["rate<0.01"]
        """)
    out = tmp_path / "r.json"
    proc = cli("run", str(config), "--out", str(out), "--no-history", "--workers", "1")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 99, proc.stderr
    r = read_json(out)["requests"]
    for name, failures in (("extracted header", 2), ("extracted url", 2), ("row header", 1)):
        failed = r[name]["http_req_failed"]
        assert failed["byClass"] == {"template": failures}, name
        assert "control character" in failed["firstError"]["template"], name
    heads = [head for head, _ in raw.requests]
    assert sorted(h.split(b" ")[1] for h in heads) == [b"/r", b"/token", b"/token", b"/token", b"/token"]
    assert b"X-Row: clean\r\n" in next(h for h in heads if h.startswith(b"GET /r "))
    assert not any(b"Injected" in head for head in heads)


def test_data_row_in_a_header_fails_only_its_own_request(tmp_path, raw):
    (tmp_path / "rows.csv").write_bytes(b'v\r\nclean\r\n"bad\r\nInjected: 1"\r\nalso clean\r\n')
    config = write_config(tmp_path, f"""
        name: data row injection
        settings: {{baseUrl: "{raw.url}", transport: fast}}
        data: [{{name: rows, file: rows.csv, mode: sequential}}]
        scenarios:
          s:
            executor: per-vu-iterations
            vus: 1
            iterations: 3
            requests:
              - {{name: row header, url: "/r?q={{{{rows.v}}}}", headers: {{X-Row: "{{{{rows.v}}}}"}}}}
        thresholds:
          http_req_failed: ["rate<0.5"]
        """)
    out = tmp_path / "r.json"
    proc = cli("run", str(config), "--out", str(out), "--no-history", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    failed = read_json(out)["requests"]["row header"]["http_req_failed"]
    assert failed["byClass"] == {"template": 1}
    heads = sorted(head for head, _ in raw.requests)
    assert len(heads) == 2 and not any(b"Injected" in h for h in heads)
    assert any(b"X-Row: also clean\r\n" in h for h in heads)
    assert any(b"GET /r?q=also%20clean HTTP/1.1\r\n" in h for h in heads)   # a space is percent-encoded


ENCODER_CASES = {
    "CRLF in a value": ("GET", "http://h/", {"X-A": "v\r\nInjected: 1"}),
    "LF alone": ("GET", "http://h/", {"X-A": "v\nInjected: 1"}),
    "CR alone": ("GET", "http://h/", {"X-A": "v\rInjected: 1"}),
    "NUL": ("GET", "http://h/", {"X-A": "v\x00"}),
    "name with CRLF": ("GET", "http://h/", {"X\r\nInjected": "1"}),
    "CRLF in the URL": ("GET", "http://h/a\r\nInjected: 1", {}),
    "TAB in the URL": ("GET", "http://h/a\tb", {}),
    "space in the host": ("GET", "http://a b/", {}),
    "method": ("GET / HTTP/1.1\r\nInjected:", "http://h/", {}),
}


@pytest.mark.parametrize("case", list(ENCODER_CASES))
def test_the_fast_head_encoder_refuses_injection(case):
    from lunge_mp.worker.http1 import HeadRefused, _encode_head

    method, url, headers = ENCODER_CASES[case]
    for body in (None, b"x"):
        with pytest.raises(HeadRefused):
            _encode_head(method, url, headers, body, True)


def test_the_fast_head_encoder_keeps_clean_heads():
    from lunge_mp.worker.http1 import _encode_head

    _, head = _encode_head("POST", "http://h:8/a b?q=1 2", {"X-A": "v\tw", "Content-Type": "text/plain"}, b"x", True)
    assert head == (b"POST /a%20b?q=1%202 HTTP/1.1\r\nHost: h:8\r\nX-A: v\tw\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 1\r\n\r\n")
