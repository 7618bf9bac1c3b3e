"""Shared fixtures: the embedded target as a real process."""

from __future__ import annotations

import pytest

from lunge_mp.target import start_target


@pytest.fixture(scope="session")
def target():
    """One embedded target for the session; tests reset its counters."""
    with start_target(port=0, workers=1) as t:
        yield t


@pytest.fixture
def fresh_target(target):
    target.reset()
    return target


@pytest.fixture(autouse=True)
def private_history_store(tmp_path_factory, monkeypatch):
    """Runs record their history here, never in the user's own store."""
    monkeypatch.setenv("LUNGE_MP_STORE", str(tmp_path_factory.getbasetemp() / "history.db"))
