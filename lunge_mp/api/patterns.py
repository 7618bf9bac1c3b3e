"""Seed 004's pattern request (POST /api/v1/load-test/patterns/start) as a v2 config.

    {"pattern": {"type": "sine", "duration": "5m", "base_rate": 10, "amplitude": 50, "period": "1m"},
     "guardrails": {"max_rate": 100, "max_total_jobs": 5000, "max_duration": "10m"},
     "job_config": {"queue": "test-queue", "payload": {"test": true}, "priority": 1},
     "target": {"url": "http://127.0.0.1:8080/post", "method": "POST"},
     "save_profile": false, "profile_name": "daily-traffic-simulation"}

becomes one `pattern` scenario whose iteration is one request to `target.url` (required: the
seed names no target, and we never guess one), with `job_config.payload` as its JSON body and
`queue`/`priority` as the headers X-Lunge-Queue and X-Lunge-Priority. A `max_rate` in the
pattern of a type that has none (the seed's sine example) is a ceiling: it joins the
guardrails' maxRate (the lower wins). `max_total_jobs` is guardrails.maxTotalRequests.
`save_profile` with `profile_name` saves the test as the next version of that profile first
(admin only, as every profile change; the server needs its profile store, api/profiles.py).
"""

from __future__ import annotations

from lunge_mp.api.intake import Refused

_PATTERN_MAX_RATE = ("staircase", "chaos")   # pattern types whose own keys include maxRate
_GUARDRAIL_NAMES = {"max_total_jobs": "maxTotalRequests", "maxTotalJobs": "maxTotalRequests"}
KEYS = ("pattern", "guardrails", "job_config", "target", "save_profile", "profile_name", "name",
        "pre_allocated_vus", "max_vus")


def config_from_pattern_request(doc: object) -> dict:
    if not isinstance(doc, dict):
        raise Refused(400, ["(root): an object with pattern, guardrails, job_config and target"])
    problems = [f"{k}: unknown field (fields: {', '.join(KEYS)})" for k in doc if k not in KEYS]
    pattern = doc.get("pattern")
    if not isinstance(pattern, dict):
        problems.append("pattern: required, an object with type, duration and the type's rates")
        pattern = {}
    target = doc.get("target")
    if not isinstance(target, dict) or not isinstance(target.get("url"), str):
        problems.append("target.url: required, the URL each job is sent to, e.g. http://127.0.0.1:8080/post")
        target = {}
    guardrails = doc.get("guardrails") or {}
    if not isinstance(guardrails, dict):
        problems.append("guardrails: an object (max_rate, max_total_jobs, max_duration, ...)")
        guardrails = {}
    job = doc.get("job_config") or {}
    if not isinstance(job, dict):
        problems.append("job_config: an object (queue, payload, priority)")
        job = {}
    if problems:
        raise Refused(400, problems)
    pattern = dict(pattern)
    rails = {_GUARDRAIL_NAMES.get(k, k): v for k, v in guardrails.items()}
    ceiling = pattern.get("max_rate", pattern.get("maxRate"))
    if ceiling is not None and pattern.get("type") not in _PATTERN_MAX_RATE:
        pattern.pop("max_rate", None)
        pattern.pop("maxRate", None)
        given = rails.get("max_rate", rails.get("maxRate"))
        if isinstance(ceiling, (int, float)) and (not isinstance(given, (int, float)) or ceiling < given):
            rails.pop("maxRate", None)
            rails["max_rate"] = ceiling
    headers = {}
    if job.get("queue") is not None:
        headers["X-Lunge-Queue"] = str(job["queue"])
    if job.get("priority") is not None:
        headers["X-Lunge-Priority"] = str(job["priority"])
    request = {"name": "job", "url": target["url"], "method": target.get("method", "POST" if "payload" in job else "GET")}
    if headers:
        request["headers"] = headers
    if "payload" in job:
        request["body"] = job["payload"]
    scenario = {"executor": "pattern", "pattern": pattern, "requests": [request]}
    for key, name in (("pre_allocated_vus", "preAllocatedVUs"), ("max_vus", "maxVUs")):
        if key in doc:
            scenario[name] = doc[key]
    name = doc.get("name") or doc.get("profile_name") or f"{pattern.get('type', 'pattern')} pattern"
    config = {"name": str(name), "scenarios": {"pattern": scenario}}
    if rails:
        config["guardrails"] = rails
    return config
