"""A warmup copy is marked in the plan (`warmup_of`), not by parsing its name: what the
coordinator, the queue monitor and the redis_* metrics know of it comes from the worker plan."""

from __future__ import annotations

from lunge_mp.config.validate import plan_from_dict
from lunge_mp.metrics.queue import targets
from lunge_mp.report.redis_metrics import redis_request_keys
from lunge_mp import warmup


def _plan(warm: dict | None = None):
    doc = {"name": "w", "scenarios": {
        "api": {"executor": "constant-arrival-rate", "rate": 10, "duration": "2s",
                "requests": [{"name": "get", "url": "http://127.0.0.1:9/"}]},
        "jobs": {"executor": "constant-vus", "vus": 2, "duration": "2s",
                 "requests": [{"name": "push", "redis": {"key": "q", "payload": "x"}}]}}}
    if warm is not None:
        doc["options"] = {"warmup": warm}
    return plan_from_dict(doc)


def test_each_copy_names_the_scenario_it_warms_up() -> None:
    plan = _plan({"duration": "1s", "rate": 20})
    worker_plan = warmup.with_warmup(plan)
    copies = [s for s in worker_plan.scenarios if s.warmup_of]
    assert [(s.name, s.warmup_of) for s in copies] == [("warmup:api", "api"), ("warmup:jobs", "jobs")]
    assert all(not s.warmup_of for s in plan.scenarios)
    assert warmup.names(worker_plan) == {"warmup:api", "warmup:jobs"}
    assert warmup.names(plan) == frozenset() and warmup.offset(plan) == 2.0


def test_without_a_warmup_the_worker_plan_is_the_plan() -> None:
    plan = _plan()
    assert warmup.with_warmup(plan) is plan and warmup.names(plan) == frozenset()


def test_redis_keys_and_queue_targets_of_the_worker_plan_include_the_copies() -> None:
    worker_plan = warmup.with_warmup(_plan({"duration": "1s", "vus": 2}))
    assert redis_request_keys(worker_plan) == {("jobs", "push"), ("warmup:jobs", "push")}
    t = targets(worker_plan)
    assert t.keys == {"q": "list"}
    assert t.requests == {("jobs", "push"): "q", ("warmup:jobs", "push"): "q"}
