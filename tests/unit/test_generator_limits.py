"""The load generator's own limits: open files, and its failures kept apart from the target's."""

from __future__ import annotations

import resource

import pytest

from lunge_mp.analysis import generator_errors
from lunge_mp.config import plan_from_dict
from lunge_mp import oslimits
from lunge_mp.coordinator.health import exit_text


def _plan(max_vus: int, per_host: int = 100, urls: tuple[str, ...] = ("http://a/",)):
    return plan_from_dict({"name": "l", "settings": {"maxConnectionsPerHost": per_host}, "scenarios": {
        "s": {"executor": "constant-arrival-rate", "rate": 10, "duration": "1s", "maxVUs": max_vus,
              "preAllocatedVUs": 1, "requests": [{"url": u} for u in urls]}}})


@pytest.mark.parametrize("max_vus, per_host, urls, workers, expected", [
    (100, 100, ("http://a/",), 1, 100 + oslimits.FD_OVERHEAD),
    (10_000, 100, ("http://a/",), 2, 50 + oslimits.FD_OVERHEAD),                 # capped by the connection limit
    (10_000, 100, ("http://a/", "http://b/x"), 2, 100 + oslimits.FD_OVERHEAD),   # per host
    (10_000, 0, ("http://a/",), 4, 2500 + oslimits.FD_OVERHEAD),                 # 0 = unlimited connections
])
def test_fds_per_worker(max_vus, per_host, urls, workers, expected) -> None:
    assert oslimits.fds_per_worker(_plan(max_vus, per_host, urls), workers) == expected


def test_nofile_warning_only_when_too_low() -> None:
    plan = _plan(10_000, per_host=0)
    assert oslimits.nofile_warning(plan, 1, 1_000_000) is None
    text = oslimits.nofile_warning(plan, 1, 1024)
    assert text and "1,024" in text and "class 'generator'" in text


def test_raise_nofile_lifts_the_soft_limit_to_the_hard_one() -> None:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, before[1]), before[1]))
        soft, hard = oslimits.raise_nofile()
        assert hard == before[1]
        assert soft == (oslimits.NOFILE_CAP if hard == resource.RLIM_INFINITY else hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def _block(requests: int, failures: int, by_class: dict, first: dict) -> dict:
    return {"http_reqs": {"count": requests, "rate": 1.0},
            "http_req_failed": {"count": failures, "rate": failures / requests, "byClass": dict(by_class),
                                "firstError": dict(first)}}


def test_generator_errors_are_not_the_targets_failures() -> None:
    first = {"generator": "OSError: [Errno 24] Too many open files", "http_5xx": "HTTP 503"}
    results = {"metrics": _block(100, 30, {"generator": 20, "http_5xx": 10}, first),
               "scenarios": {"s": _block(100, 30, {"generator": 20, "http_5xx": 10}, first)},
               "requests": {"r": _block(50, 5, {"http_5xx": 5}, {"http_5xx": "HTTP 503"})}}
    warning = generator_errors.separate(results)
    failed = results["metrics"]["http_req_failed"]
    assert failed == {"count": 10, "rate": 0.1, "byClass": {"http_5xx": 10}, "firstError": {"http_5xx": "HTTP 503"}}
    assert results["metrics"]["generator_errors"] == {"count": 20, "firstError": first["generator"]}
    assert results["metrics"]["http_reqs"]["count"] == 100
    assert results["scenarios"]["s"]["http_req_failed"]["count"] == 10
    assert results["requests"]["r"]["generator_errors"] == {"count": 0, "firstError": None}
    assert warning and "20 request(s) failed in the load generator itself" in warning
    assert generator_errors.separate({"metrics": _block(1, 0, {}, {})}) is None


@pytest.mark.parametrize("code, text", [(3, "exited with code 3"), (-9, "killed by SIGKILL"),
                                        (-15, "killed by SIGTERM"), (-99, "killed by signal 99")])
def test_exit_text(code: int, text: str) -> None:
    assert exit_text(code) == text
