"""The pre-run capacity check with remote workers (real processes on 127.0.0.1): this
machine's `lunge-mp selftest` figure is no claim about workers on other machines; a remote
worker's machine sends its own figure when it joins, and the coordinator warns with that."""

from __future__ import annotations

import pytest

from lunge_mp import capacity
from tests.integration.test_remote_workers import _config, _coordinator, _free_port, _stop, _worker
from tests.support import read_json

@pytest.fixture(autouse=True)
def _forget_the_figures():
    """This machine's figures are written into the session's store: gone after each test."""
    yield
    capacity.path().unlink(missing_ok=True)


FIGURES = {"measuredAt": "2026-12-06T00:00:00+00:00", "workers": 2, "closedRequestsPerSecondPerCore": 1000}


def test_remote_workers_are_judged_by_their_own_machines_figure_not_this_ones(tmp_path, fresh_target):
    capacity.save({**FIGURES, "openRateHeld": 100, "openRatePerWorker": 50})     # this machine: 50 a worker
    elsewhere = tmp_path / "elsewhere"          # the worker machine's own store: 60 a worker
    elsewhere.mkdir()
    (elsewhere / "selftest.json").write_text(
        '{"measuredAt": "2026-12-06T00:00:00+00:00", "openRateHeld": 120, "openRatePerWorker": 60}')
    port, out = _free_port(), tmp_path / "results.json"
    coordinator = _coordinator(_config(tmp_path, fresh_target.url, seconds=1, rate=150), out, port, 2, "--insecure")
    worker = _worker(port, "--insecure", "--workers", "2", "--id", "far",
                     env={"LUNGE_MP_STORE": str(elsewhere / "history.db")})     # its own machine's selftest
    try:
        coordinator.communicate(timeout=60)
        worker.communicate(timeout=20)
    finally:
        _stop(coordinator, worker)
    err = out.with_suffix(".err").read_text()
    assert coordinator.returncode == 0, err
    warnings = read_json(out)["warnings"]
    # 75 a worker asked: more than the worker machine's 60, said once for that machine
    theirs = [w for w in warnings if "on the machine of" in w]
    assert len(theirs) == 1 and "asks up to 75 iterations/s a worker" in theirs[0] and "measured 60 a worker" \
        in theirs[0], warnings
    # this machine's 50 is no claim about them
    assert "this machine holding" not in err + "\n".join(warnings)


def test_with_local_workers_too_this_machines_figure_speaks_for_them_only(tmp_path, fresh_target):
    capacity.save({**FIGURES, "openRateHeld": 100, "openRatePerWorker": 50})
    empty = tmp_path / "no-selftest"            # the worker machine never ran selftest: no claim
    empty.mkdir()
    port, out = _free_port(), tmp_path / "results.json"
    coordinator = _coordinator(_config(tmp_path, fresh_target.url, seconds=1, rate=150), out, port, 1,
                               "--local-workers", "1", "--insecure")
    worker = _worker(port, "--insecure", "--workers", "1", "--id", "far",
                     env={"LUNGE_MP_STORE": str(empty / "history.db")})     # its own machine's selftest
    try:
        coordinator.communicate(timeout=60)
        worker.communicate(timeout=20)
    finally:
        _stop(coordinator, worker)
    assert coordinator.returncode == 0, out.with_suffix(".err").read_text()
    warnings = read_json(out)["warnings"]
    mine = [w for w in warnings if "this machine holding" in w]
    assert len(mine) == 1 and "75 a worker over 2 worker(s)" in mine[0] and "its 1 local worker(s)" in mine[0], \
        warnings
    assert not any("on the machine of" in w for w in warnings)
