"""Response time from the scheduled instant covers waiting for a pooled connection, whatever the
transport's service time covers (coordinated omission: the queue behind one connection shows)."""

from __future__ import annotations

import pytest

from tests.support import run_config


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_waiting_for_the_only_connection_is_in_the_response_time(tmp_path, fresh_target, transport):
    # 40 arrivals in 1 s, each holding the one connection for 50 ms: 2 s of work queue up
    result, doc = run_config(tmp_path, f"""
        name: queued
        settings: {{baseUrl: "{fresh_target.url}", maxConnectionsPerHost: 1, transport: {transport}}}
        scenarios:
          api:
            executor: constant-arrival-rate
            rate: 40
            duration: 1s
            preAllocatedVUs: 50
            maxVUs: 50
            requests: [{{url: /delay/50}}]
        """, "-q", workers=1, history=True)
    assert result.returncode == 0, result.stderr
    metrics = doc["metrics"]
    assert metrics["http_reqs"]["count"] == 40
    service, response = metrics["http_req_duration"], metrics["http_req_response_time"]
    assert response["max"] > 600          # the last arrival waits ~1 s for the connection
    assert response["p50"] > 250          # half the arrivals wait ~0.5 s or more (aiohttp's service time too)
    assert response["max"] >= service["max"]
