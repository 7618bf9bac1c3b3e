"""`--http-debug[=full]` end to end: real workers against the embedded target print their first
exchanges to stderr (at most LIMIT per worker), bodies only with `=full`, an Authorization
header and a secret variable masked wherever they travel, and nothing without the flag."""

from __future__ import annotations

import re

from lunge_mp.redact import MASK
from lunge_mp.worker.http_debug import LIMIT
from tests.support import cli, write_config

SECRET = "sk-DEBUG-PLANTED-4b8e"
BLOCK = re.compile(r"^--- http-debug: worker (\d+) · scenario s · request echo · (\d+) of at most "
                   + str(LIMIT) + " ---$", re.M)


def _config(tmp_path, target, iterations: int, transport: str = "fast"):
    return write_config(tmp_path, f"""
        name: http debug
        settings: {{baseUrl: "{target.url}", transport: {transport}}}
        variables:
          tok: {{value: "{SECRET}", secret: true}}
        scenarios:
          s:
            executor: per-vu-iterations
            vus: 1
            iterations: {iterations}
            requests:
              - name: echo
                method: POST
                url: /post
                headers: {{Authorization: "Bearer {{{{tok}}}}", X-Trace: "t-{{{{tok}}}}", Content-Type: application/json}}
                body: '{{"token": "{{{{tok}}}}", "note": "debug-body-marker"}}'
        """)


def test_headers_for_the_first_requests_only_secrets_masked(tmp_path, fresh_target):
    config = _config(tmp_path, fresh_target, LIMIT + 5)
    # a bare --http-debug before CONFIG does not swallow it (k6's spelling)
    proc = cli("run", "--http-debug", str(config), "--workers", "1", "--no-history")
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    blocks = BLOCK.findall(err)
    assert [int(n) for _, n in blocks] == list(range(1, LIMIT + 1))      # LIMIT of the 15
    assert "no more" in err
    assert fresh_target.stats()["byPath"]["/post"] == LIMIT + 5           # every request was sent
    assert "POST /post HTTP/1.1" in err and f"Host: 127.0.0.1:{fresh_target.port}" in err
    assert f"Authorization: Bearer {MASK}" in err and f"X-Trace: t-{MASK}" in err
    assert "HTTP/1.1 200 OK" in err and "Content-Type: application/json" in err
    assert "debug-body-marker" not in err                                 # no bodies without =full
    assert SECRET not in err and SECRET not in proc.stdout
    assert "http-debug" not in proc.stdout                                # the summary stays clean


def test_full_shows_both_bodies_masked(tmp_path, fresh_target):
    config = _config(tmp_path, fresh_target, 2)
    proc = cli("run", str(config), "--http-debug=full", "--workers", "1", "--no-history")
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert len(BLOCK.findall(err)) == 2
    request_part, _, response_part = err.partition("Response:")
    assert f'{{"token": "{MASK}", "note": "debug-body-marker"}}' in request_part
    assert '"json":{"token":"' + MASK in response_part                    # the echo, masked too
    assert '"Authorization":"Bearer ' + MASK in response_part
    assert SECRET not in err and SECRET not in proc.stdout


def test_aiohttp_transport_and_two_workers_each_print_their_own(tmp_path, fresh_target):
    config = write_config(tmp_path, f"""
        name: http debug two
        settings: {{baseUrl: "{fresh_target.url}", transport: aiohttp}}
        scenarios:
          s:
            executor: shared-iterations
            vus: 4
            iterations: {4 * LIMIT}
            requests: [{{name: echo, url: /json}}]
        """)
    proc = cli("run", str(config), "--http-debug", "--workers", "2", "--no-history", "-q")
    assert proc.returncode == 0, proc.stderr
    per_worker: dict[str, int] = {}
    for worker, _ in BLOCK.findall(proc.stderr):
        per_worker[worker] = per_worker.get(worker, 0) + 1
    assert per_worker and all(n <= LIMIT for n in per_worker.values())
    assert "GET /json HTTP/1.1" in proc.stderr and "HTTP/1.1 200 OK" in proc.stderr


def test_perf_quick_mode_masks_a_header_given_on_the_command_line(tmp_path, fresh_target):
    proc = cli("perf", "--url", f"{fresh_target.url}/post", "-X", "POST", "--body", '{"a": "quick-body"}',
               "-H", f"Authorization: Bearer {SECRET}", "--iterations", "3", "--http-debug=full",
               "--workers", "1", "--no-history")
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert err.count("--- http-debug: worker 0 · scenario quick") == 3
    assert f"Authorization: Bearer {MASK}" in err and '{"a": "quick-body"}' in err
    assert SECRET not in err and SECRET not in proc.stdout


def test_nothing_is_printed_without_the_flag(tmp_path, fresh_target):
    config = _config(tmp_path, fresh_target, 3)
    proc = cli("run", str(config), "--workers", "1", "--no-history")
    assert proc.returncode == 0, proc.stderr
    assert "http-debug" not in proc.stderr and "Request:" not in proc.stderr
    assert "http-debug" not in proc.stdout


def test_an_unknown_mode_is_refused_before_any_traffic(tmp_path, fresh_target):
    config = _config(tmp_path, fresh_target, 3)
    proc = cli("run", str(config), "--http-debug=bodies", "--no-history")
    assert proc.returncode == 104
    assert "--http-debug" in proc.stderr and "'headers', 'full'" in proc.stderr
