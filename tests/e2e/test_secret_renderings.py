"""A secret never shows in any output in any rendering (issue 10 item 7): raw, repr-escaped,
JSON-escaped, percent- and form-encoded, read back as latin-1, or cut short by a truncation;
and a config error or `validate` names a secret variable instead of printing its value.

The secret holds a backslash, a quote, a slash, non-ASCII, `&`, `=`, a space and `+`, so each
encoding changes it. It travels in a header, a JSON body and a form body to the embedded
target's /post echo, whose answer comes back into failed checks' messages (with repr, and cut
at 80 characters), and in a URL to a closed port."""

from __future__ import annotations

import json
import socket
from urllib.parse import quote, quote_plus

from tests.support import cli, read_json, write_config

SECRET = 'Zq9Se\\cr"et/é&x=1 +w0rd77x'
YAML_SECRET = 'Zq9Se\\\\cr\\"et/é&x=1 +w0rd77x'      # inside a double-quoted YAML string
HEAD, TAIL = "Zq9Se", "w0rd77x"      # any rendering of the secret, whole or cut, holds one


def _renderings(s: str) -> set[str]:
    """Written out independently of lunge_mp.redact: what a leak would look like."""
    forms = {s, quote(s, safe=""), quote(s), quote_plus(s), s.encode().decode("latin-1")}
    forms |= {f.lower() for f in forms if "%" in f}
    out = set(forms)
    for f in forms:
        for once in (repr(f)[1:-1], json.dumps(f)[1:-1], json.dumps(f, ensure_ascii=False)[1:-1]):
            out |= {once, repr(once)[1:-1], json.dumps(once)[1:-1]}
    return out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_rendering_of_a_secret_in_any_output(tmp_path, fresh_target, monkeypatch):
    store = tmp_path / "history.db"
    monkeypatch.setenv("LUNGE_MP_STORE", str(store))
    config = write_config(tmp_path, f"""
        name: 'renderings {{{{tok}}}} ${{TOK}}'
        settings: {{baseUrl: "{fresh_target.url}", transport: fast, checksFailRequests: true}}
        variables:
          tok: {{value: "{YAML_SECRET}", secret: true}}
        scenarios:
          s:
            executor: per-vu-iterations
            vus: 1
            iterations: 2
            requests:
              - name: json
                method: POST
                url: /post
                headers: {{X-Token: "{{{{tok}}}}"}}
                body: {{tok: "{{{{tok}}}}"}}
                assertions:
                  - {{type: body, condition: contains, value: nope}}
              - name: header echo
                method: POST
                url: /post
                headers: {{X-Token: "{{{{tok}}}}"}}
                assertions:
                  - {{type: body, path: "$.headers.X-Token", condition: eq, value: nope}}
              - name: json echo
                method: POST
                url: /post
                body: {{tok: "{{{{tok}}}}"}}
                assertions:
                  - {{type: body, path: "$.body", condition: eq, value: nope}}
              - name: form echo
                method: POST
                url: /post
                form: {{tok: "{{{{tok}}}}"}}
                assertions:
                  - {{type: body, path: "$.body", condition: eq, value: nope}}
              - name: closed
                url: "http://127.0.0.1:{_closed_port()}/x?k={{{{tok}}}}"
        thresholds:
          http_req_failed: ["rate < 0.01"]
        """)
    paths = {"json": tmp_path / "r.json", "html": tmp_path / "r.html", "csv": tmp_path / "r.csv",
             "junit": tmp_path / "r.xml"}
    proc = cli("run", str(config), "--out", str(paths["json"]), "--html", str(paths["html"]),
               "--csv", str(paths["csv"]), "--junit", str(paths["junit"]), "--workers", "1",
               env={"TOK": SECRET, "LUNGE_MP_STORE": str(store)})
    assert proc.returncode == 99, proc.stderr
    results = read_json(paths["json"])
    # the secret did travel back in every form: the messages had to be masked
    first = {name: r["http_req_failed"]["firstError"] for name, r in results["requests"].items()}
    assert "***" in first["json"]["check"] and "***" in first["header echo"]["check"], first
    assert "***" in first["json echo"]["check"] and "***" in first["form echo"]["check"], first
    assert results["name"] == "renderings {{tok}} ***"
    artifacts = {"stdout": proc.stdout, "stderr": proc.stderr,
                 **{k: p.read_text(errors="replace") for k, p in paths.items()},
                 "store": store.read_bytes().decode("utf-8", "replace")}
    assert "renderings" in artifacts["store"]
    leaks = {(name, form) for name, text in artifacts.items()
             for form in _renderings(SECRET) | {HEAD, TAIL} if form in text}
    assert not leaks, leaks


def test_config_errors_and_validate_name_a_secret_variable_never_print_it(tmp_path):
    bad = write_config(tmp_path, """
        name: errors
        settings: {baseUrl: "http://127.0.0.1:9", timeout: "${TOK}"}
        variables:
          tok: {value: "${TOK}", secret: true}
        scenarios:
          s: {executor: constant-vus, vus: "${TOK}", duration: 1s, requests: [{url: /}]}
        """, "bad.yaml")
    good = write_config(tmp_path, """
        name: "run ${TOK}"
        settings: {baseUrl: "http://127.0.0.1:9"}
        variables:
          tok: {value: "${TOK}", secret: true}
        scenarios:
          s: {executor: constant-vus, vus: 1, duration: 1s, requests: [{url: /}]}
        """, "good.yaml")
    token = "Zq9SecretVal-77x-a-long-value-that-a-message-will-cut-short"
    for command in ("validate", "run"):
        proc = cli(command, str(bad), env={"TOK": token})
        assert proc.returncode == 104, proc.stderr
        assert "settings.timeout: invalid duration '<secret variable tok>" in proc.stderr, proc.stderr
        assert "scenarios.s.vus" in proc.stderr and "<secret variable tok>" in proc.stderr
        assert "Zq9S" not in proc.stderr + proc.stdout and "cut-short" not in proc.stderr + proc.stdout
    proc = cli("validate", str(good), env={"TOK": token})
    assert proc.returncode == 0, proc.stderr
    assert "run <secret variable tok>" in proc.stdout and "Zq9S" not in proc.stdout + proc.stderr
