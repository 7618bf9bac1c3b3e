"""No planted secret survives into any artifact of a run: stdout, stderr, results.json, HTML, CSV,
JUnit and the history store. The run is built so that each secret really travels: the secret
variable goes out in an Authorization header, a body and a query string, and the target's /post
echo brings it back into a failed check's message; URL credentials sit in a request's URL (and
so in its default name and its failure message)."""

from __future__ import annotations

import socket

from lunge_mp.redact import MASK, Redactor, RedactingStream, mask_url_credentials
from tests.support import cli, read_json, write_config

SECRET = "sk-PLANTED-7f3a9c1e"
PASSWORD = "pa55w0rd-PLANTED"
MARKERS = ("PLANTED", "7f3a9c1e", "pa55w0rd")


def test_no_artifact_shows_a_secret(tmp_path, fresh_target, monkeypatch):
    store = tmp_path / "history.db"
    monkeypatch.setenv("LUNGE_MP_STORE", str(store))
    with socket.socket() as s:   # a port nobody listens on: its connect error names the host
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    config = write_config(tmp_path, f"""
        name: secrets
        settings: {{baseUrl: "{fresh_target.url}", transport: aiohttp}}
        variables:
          api_key: {{value: "{SECRET}", secret: true}}
        scenarios:
          s:
            executor: per-vu-iterations
            vus: 1
            iterations: 3
            requests:
              - name: echo
                method: POST
                url: "/post?key={{{{api_key}}}}"
                headers: {{Authorization: "Bearer {{{{api_key}}}}"}}
                body: '{{"token": "{{{{api_key}}}}"}}'
                assertions: [{{type: body, path: "$.headers.Authorization", condition: eq, value: "nope"}}]
              - url: "http://leaky:{PASSWORD}@127.0.0.1:{fresh_target.port}/status/500?key={{{{api_key}}}}"
              - url: "http://leaky:{PASSWORD}@127.0.0.1:{closed}/x?key={{{{api_key}}}}"
        thresholds:
          http_req_failed: ["rate < 0.5"]
        """)
    paths = {"json": tmp_path / "r.json", "html": tmp_path / "r.html", "csv": tmp_path / "r.csv",
             "junit": tmp_path / "r.xml"}
    proc = cli("run", str(config), "--out", str(paths["json"]), "--html", str(paths["html"]),
               "--csv", str(paths["csv"]), "--junit", str(paths["junit"]), "--workers", "1")
    assert proc.returncode == 99, proc.stderr            # two of every three requests failed, on purpose
    results = read_json(paths["json"])
    # the secrets did travel: the echo's failure message had to be masked
    [check] = [c for c in results["checkResults"] if c["request"] == "echo"]
    assert check["fails"] == 3 and f"Bearer {MASK}" in check["firstFailure"]
    assert any(f"http://{MASK}@127.0.0.1" in name for name in results["requests"])
    artifacts = {"stdout": proc.stdout, "stderr": proc.stderr,
                 **{k: p.read_text(errors="replace") for k, p in paths.items()},
                 "store": store.read_bytes().decode("latin-1")}
    assert store.stat().st_size > 0 and "secrets" in artifacts["store"]
    for name, text in artifacts.items():
        for marker in MARKERS:
            assert marker not in text, f"{marker!r} leaked into {name}"
    assert MASK in artifacts["stdout"] and MASK in artifacts["json"]


def test_redactor_masks_values_encodings_headers_and_url_credentials():
    from lunge_mp.config import plan_from_dict

    plan = plan_from_dict({
        "name": "r", "variables": {"k": {"value": "top secret!", "secret": True}, "short": {"value": "ab", "secret": True},
                                   "public": "hello"},
        "settings": {"baseUrl": "http://u:basepass@h", "headers": {"Cookie": "session=abc123def"}},
        "scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "1s", "requests": [
            {"url": "/x", "headers": {"Authorization": "Basic dXNlcjpwYXNz", "X-Api-Key": "{{k}}"}}]}}})
    r = Redactor.for_plan(plan)
    cases = {
        "top secret!": MASK,
        "GET /x?q=top%20secret%21 failed": f"GET /x?q={MASK} failed",
        "q=top+secret%21": f"q={MASK}",
        "got 'Basic dXNlcjpwYXNz'": f"got '{MASK}'",
        "token dXNlcjpwYXNz": f"token {MASK}",
        "Cookie: session=abc123def": f"Cookie: {MASK}",
        "ab": MASK,
        "tab stop": "tab stop",                           # short secrets only as a whole string
        "hello": "hello",
        "http://u:basepass@h/x and basepass": f"http://{MASK}@h/x and {MASK}",
        "see https://user@example.com/a": f"see https://{MASK}@example.com/a",
        "mail me: someone@example.com": "mail me: someone@example.com",
    }
    for text, expected in cases.items():
        assert r.text(text) == expected, text
    doc = r.doc({"top secret!": ["x top secret!"], "n": 5, "histograms": {"k top secret!": "top secret!"}})
    assert doc == {MASK: [f"x {MASK}"], "n": 5, "histograms": {f"k {MASK}": "top secret!"}}
    assert mask_url_credentials("ftp://a:b@c") == f"ftp://{MASK}@c"


def test_redacting_stream_masks_whole_lines():
    import io
    inner = io.StringIO()
    stream = RedactingStream(inner, Redactor(["hunter22"]))
    stream.write("pass=hun")
    stream.write("ter22\nnext ")
    stream.write("hunter22")
    stream.flush()
    assert inner.getvalue() == f"pass={MASK}\nnext {MASK}"
