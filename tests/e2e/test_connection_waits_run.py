"""Issue 12, finding 1: 200 VUs must not silently run as 100. Without maxConnectionsPerHost the
connections follow the VUs; with a cap, the requests that wait for a connection are counted
(http_req_queued), timed (http_req_blocked) and named in a live and a results warning."""

from __future__ import annotations

from tests.support import cli, read_json, write_config

VUS, DELAY_MS, SECONDS = 200, 100, 3
# at most 100 requests at once, each holding its connection DELAY_MS: the most a cap of 100 allows
# (the iterations running at the end finish after the duration: two more rounds)
CAP_BOUND = 100 * (SECONDS * 1000 // DELAY_MS + 2)


def _config(tmp_path, url: str, cap: str = "") -> str:
    return str(write_config(tmp_path, f"""
        name: waits
        settings: {{baseUrl: "{url}"{cap}}}
        scenarios:
          s:
            executor: constant-vus
            vus: {VUS}
            duration: {SECONDS}s
            requests: [{{name: slow, url: /delay/{DELAY_MS}}}]
        """))


def test_200_vus_send_200_at_once_by_default(tmp_path, fresh_target):
    out = tmp_path / "results.json"
    result = cli("run", _config(tmp_path, fresh_target.url), "--workers", "2", "-q", "--out", str(out))
    assert result.returncode == 0, result.stderr
    seen = fresh_target.stats()["byPath"].get(f"/delay/{DELAY_MS}", 0)
    # the server counts more than a cap of 100 connections could ever let through
    assert seen > 1.2 * CAP_BOUND, (seen, CAP_BOUND)
    metrics = read_json(out)["metrics"]
    assert metrics["http_req_queued"]["count"] == 0
    assert metrics["http_req_blocked"]["count"] == metrics["http_req_duration"]["count"]
    assert metrics["http_req_connecting"]["max"] > 0        # every VU opened its own connection
    assert not [w for w in read_json(out)["warnings"] if "maxConnectionsPerHost" in w]


def test_a_configured_cap_is_kept_and_its_waits_are_said(tmp_path, fresh_target):
    out = tmp_path / "results.json"
    config = _config(tmp_path, fresh_target.url, cap=", maxConnectionsPerHost: 100")
    result = cli("run", config, "--workers", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert fresh_target.stats()["byPath"].get(f"/delay/{DELAY_MS}", 0) <= CAP_BOUND
    doc = read_json(out)
    queued = doc["metrics"]["http_req_queued"]
    assert queued["rate"] > 0.3                # about half the VUs wait at any time
    assert doc["metrics"]["http_req_blocked"]["p50"] > DELAY_MS / 4
    said = [w for w in doc["warnings"] if "settings.maxConnectionsPerHost is 100" in w]
    assert said and f"{queued['rate']:.1%} of requests" in said[0]
    assert "so far waited for a connection" in result.stderr        # the live warning
