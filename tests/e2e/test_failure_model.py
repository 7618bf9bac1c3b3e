"""What a failed request is, as k6 users read it: a transport error or a status outside
`expectedStatuses` (default 200-399). A failed check is counted by `checks`, by name, and
fails its request only when `settings.checksFailRequests` says so."""

from __future__ import annotations

import pytest

from tests.support import cli, read_json, write_config


def run(tmp_path, text: str) -> tuple[dict, str]:
    out = tmp_path / "r.json"
    html = tmp_path / "r.html"
    proc = cli("run", str(write_config(tmp_path, text)), "-w", "1", "--out", str(out), "--html", str(html),
               "--no-history")
    assert "Traceback" not in proc.stderr, proc.stderr
    return read_json(out), html.read_text()


CONFIG = """
name: failure model
settings: {{baseUrl: "{url}"{extra}}}
scenarios:
  s:
    executor: shared-iterations
    vus: 1
    iterations: 4
    requests:
      - name: gone
        url: /status/404
        expectedStatuses: [200, 404]
        assertions: [{{type: status, value: 404, check: "the page is gone"}}]
      - name: created
        url: /status/201
        expectedStatuses: "200-200"
      - name: home
        url: /json
        assertions:
          - {{type: body, path: "$.id", condition: eq, value: "7", check: "id is 7"}}
          - {{type: status, value: 200}}
"""


@pytest.mark.parametrize("fail_requests", [False, True])
def test_expected_statuses_and_named_checks(tmp_path, fresh_target, fail_requests):
    extra = ", checksFailRequests: true" if fail_requests else ""
    r, html = run(tmp_path, CONFIG.format(url=fresh_target.url, extra=extra))
    assert fresh_target.stats()["requests"] == 12
    gone, created, home = (r["requests"][n]["http_req_failed"] for n in ("gone", "created", "home"))
    assert gone["count"] == 0                                   # 404 was expected
    assert created["byClass"] == {"unexpected_status": 4}       # 201 was not
    if fail_requests:
        assert home["byClass"] == {"check": 4} and "id is 7" not in home["firstError"]["check"]
    else:
        assert home["count"] == 0                               # its checks failed, not the request
    checks = {(c["request"], c["check"]): (c["passes"], c["fails"]) for c in r["checkResults"]}
    assert checks == {("gone", "the page is gone"): (4, 0), ("home", "id is 7"): (0, 4),
                      ("home", "status eq 200"): (4, 0)}
    assert r["metrics"]["checks"] == {"passes": 8, "fails": 4, "rate": 0.666667}
    assert 'id="checks"' in html and "id is 7" in html and "the page is gone" in html


@pytest.mark.parametrize("value, expected", [
    ("[99]", "settings.expectedStatuses[0]: 99-99: statuses run from 100 to 599"),
    ('"300-200"', "300-200: statuses run from 100 to 599, low to high"),
    ("[ok]", "'ok' (a string) is not a status or range"),
    ("[]", "must not be empty"),
])
def test_bad_expected_statuses_are_refused(tmp_path, fresh_target, value, expected):
    path = write_config(tmp_path, f"""
name: bad
settings: {{baseUrl: "{fresh_target.url}", expectedStatuses: {value}}}
scenarios:
  s: {{executor: shared-iterations, vus: 1, iterations: 1, requests: [{{url: /}}]}}
""")
    proc = cli("validate", str(path))
    assert proc.returncode == 104 and expected in proc.stderr, proc.stderr
