"""The REST handlers: tests (any v2 config) and seed 004's pattern endpoints.

Errors are JSON `{"error": text, "problems": [field-path messages]}`: 400 malformed body or
config, 404 unknown test, 409 a state change that does not apply (or the test limit),
413 a body over 1 MB (aiohttp's client_max_size), 422 over the server's ceiling.
Every start, stop, pause, resume and scale goes to the audit log with its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os

from aiohttp import web

from lunge_mp.api import keys

from lunge_mp.api.intake import Refused, YAML_TYPES, estimate, masked_config, parse_document, plan_from_document
from lunge_mp.api.patterns import config_from_pattern_request
from lunge_mp.api.runs import Busy, ServedTest
from lunge_mp.report.html import render_html
from lunge_mp.schedule.capped_rate import peak_rate
from lunge_mp.store import Store, StoreError

CONTROL_TIMEOUT_S = 5.0
# a report is shown in a sandbox (an origin of its own: it cannot read the dashboard's token)
# and may fetch nothing
REPORT_HEADERS = {"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff",
                  "Content-Security-Policy": "sandbox allow-scripts allow-popups; default-src 'none'; "
                                             "script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
                                             "img-src data: blob:; font-src data:; connect-src 'none'"}


def error(status: int, text: str, problems: list[str] | None = None) -> web.Response:
    body = {"error": text}
    if problems:
        body["problems"] = problems
    return web.json_response(body, status=status)


def _audit(request: web.Request, action: str, outcome: str, test_id: str | None = None, **fields) -> None:
    identity = request.get(keys.IDENTITY)
    request.app[keys.AUDIT].record(action, identity=identity.name if identity else "unknown",
                                client=request.remote or "unknown", outcome=outcome, test_id=test_id, **fields)


def _test(request: web.Request) -> ServedTest | None:
    return request.app[keys.REGISTRY].get(request.match_info["test_id"])


# --- starting ------------------------------------------------------------------------------
async def _document(request: web.Request) -> object:
    body = await request.read()          # over client_max_size: aiohttp answers 413
    if not body.strip():
        raise Refused(400, ["(body): empty; send a v2 config as JSON or YAML"])
    return parse_document(body, request.content_type)


async def start_test(request: web.Request, config: dict, *, profile: tuple[str, int] | None = None,
                     action: str = "start") -> web.Response:
    """Start a run from a config document exactly as POST /api/v1/tests does (also used by the
    profile routes: `profile` is (name, version))."""
    registry = request.app[keys.REGISTRY]
    try:
        plan = plan_from_document(config, request.app[keys.CEILING])
    except Refused as exc:
        _audit(request, action, "refused", reason=exc.problems[0][:200], status=exc.status)
        text = "the config is invalid" if exc.status == 400 else "over the server's ceiling: nothing was sent"
        return error(exc.status, text, exc.problems)
    identity = request[keys.IDENTITY].name
    try:
        test = registry.start(plan, masked_config(config, plan), identity, profile=profile)
    except Busy as exc:
        _audit(request, action, "refused", reason="busy")
        return error(409, f"the server runs at most {registry.max_concurrent} test(s) at a time; running: "
                          f"{', '.join(exc.running)}")
    _audit(request, action, "ok", test_id=test.id, name=plan.name,
           **({"profile": profile[0], "version": profile[1]} if profile else {}))
    body = test.view()
    body["estimated"] = estimate(plan)
    body["websocket_url"] = _ws_url(request, test.id)
    if len(registry.running()) > 1:
        body["note"] = (f"{len(registry.running())} tests run at once on this box and share its "
                        f"{os.cpu_count()} cores: each one's figures include the others' load")
    return web.json_response(body, status=201)


def _ws_url(request: web.Request, test_id: str) -> str:
    scheme = "wss" if request.scheme == "https" else "ws"
    return f"{scheme}://{request.host}/api/v1/load-test/stream/{test_id}"


async def post_test(request: web.Request) -> web.Response:
    try:
        doc = await _document(request)
    except Refused as exc:
        _audit(request, "start", "refused", reason=exc.problems[0][:200], status=exc.status)
        return error(exc.status, "the body is not a config", exc.problems)
    return await start_test(request, doc)


async def post_pattern(request: web.Request) -> web.Response:
    """Seed 004: POST /api/v1/load-test/patterns/start."""
    try:
        doc = await _document(request)
        config = config_from_pattern_request(doc)
    except Refused as exc:
        _audit(request, "start", "refused", reason=exc.problems[0][:200], status=exc.status)
        return error(exc.status, "the pattern request is invalid", exc.problems)
    saved = None
    if doc.get("save_profile"):
        saved = await _save_profile(request, doc, config)
        if isinstance(saved, web.Response):
            return saved
    response = await start_test(request, config, profile=saved)
    if response.status != 201:
        return response
    view = json.loads(response.body)
    pattern = doc["pattern"] if isinstance(doc, dict) else {}
    return web.json_response({**({"profile": {"name": saved[0], "version": saved[1]}} if saved else {}),
        "test_id": view["id"], "status": view["status"],
        "pattern": {"type": pattern.get("type"),
                    "estimated_duration": f"{view['estimated']['duration']:g}s",
                    "estimated_jobs": view["estimated"]["jobs"]},
        "websocket_url": view["websocket_url"]}, status=201)


async def _save_profile(request: web.Request, doc: dict, config: dict) -> tuple[str, int] | web.Response:
    """seed 004's save_profile: the test as the next version of profile `profile_name` (admin only,
    as every profile change; checked first, so nothing is saved for a test that cannot start)."""
    identity = request[keys.IDENTITY]
    if not request.app.get(keys.PROFILES):
        return error(422, "save_profile: this server has no profile store")
    if not identity.can("admin"):
        return error(403, f"save_profile: token '{identity.name}' has role {identity.role}; saving a profile "
                          f"needs admin")
    name = doc.get("profile_name")
    if not isinstance(name, str) or not name.strip():
        return error(400, "the pattern request is invalid", ["profile_name: required with save_profile"])
    try:
        plan_from_document(config, request.app[keys.CEILING])
    except Refused as exc:
        return error(exc.status, "the config is invalid", exc.problems)
    from lunge_mp.store.history import StoreError as ProfileStoreError
    from lunge_mp.store.profile_crypto import KeyRing
    from lunge_mp.store.profiles import ProfileStore
    store_path = request.app[keys.STORE_PATH]

    def save():
        with contextlib.closing(ProfileStore(store_path)) as store:
            return store.save(name, config, by=identity.name, keys=KeyRing(store_path))
    try:
        saved = await asyncio.to_thread(save)
    except (ProfileStoreError, ValueError) as exc:
        _audit(request, "profile.save", "refused", name=name, reason=str(exc)[:200])
        return error(422, f"save_profile: {exc}")
    _audit(request, "profile.save", "ok", name=saved.name, version=saved.version, profile_id=saved.id)
    return saved.name, saved.version


# --- reading -------------------------------------------------------------------------------
async def list_tests(request: web.Request) -> web.Response:
    registry = request.app[keys.REGISTRY]
    live = [t.view() for t in sorted(registry.tests.values(), key=lambda t: t.created, reverse=True)]
    seen = {t["runId"] for t in live if t["runId"]}
    try:
        limit = min(200, max(1, int(request.query.get("limit", "50"))))
    except ValueError:
        return error(400, "limit: a whole number from 1 to 200")
    past = []
    try:
        with Store(request.app[keys.STORE_PATH]) as store:
            past = [{"id": r["runId"], "runId": r["runId"], "name": r["name"], "status": r.get("status"),
                     "exitCode": r.get("exit_code"), "created": r["startTime"], "p95": r.get("p95_ms"),
                     "requests": r.get("requests")}
                    for r in store.runs(limit=limit) if r["runId"] not in seen]
    except (StoreError, OSError):
        pass
    return web.json_response({"running": [t for t in live if t["status"] in ("running", "paused", "stopping")],
                              "tests": live + past, "maxConcurrent": registry.max_concurrent,
                              "profiles": request.app.get(keys.PROFILES, False)})


async def get_test(request: web.Request) -> web.Response:
    test = _test(request)
    if test is not None:
        return web.json_response(test.view())
    doc = _stored(request)
    if doc is None:
        return error(404, f"no test '{request.match_info['test_id']}'")
    return web.json_response({"id": doc.get("runId"), "runId": doc.get("runId"), "name": doc.get("name"),
                              "status": doc.get("status"), "exitCode": doc.get("exitCode"),
                              "created": doc.get("startTime"), "links": {
                                  "results": f"/api/v1/tests/{doc.get('runId')}/results",
                                  "report": f"/api/v1/tests/{doc.get('runId')}/report"}})


def _stored(request: web.Request) -> dict | None:
    try:
        with Store(request.app[keys.STORE_PATH]) as store:
            run_id = store.resolve_run_id(request.match_info["test_id"])
            return store.get_run(run_id) if run_id else None
    except (StoreError, OSError):
        return None


async def get_results(request: web.Request) -> web.Response:
    test = _test(request)
    if test is not None:
        if not test.final:
            return error(409, f"test {test.id} is {test.status}: its results are written when it ends")
        if test.results_path is not None and test.results_path.exists():
            return web.FileResponse(test.results_path, headers={"Content-Type": "application/json"})
        return error(404, f"test {test.id} wrote no results" + (f": {test.error}" if test.error else ""))
    doc = _stored(request)
    return web.json_response(doc) if doc is not None else error(404, f"no test '{request.match_info['test_id']}'")


async def get_report(request: web.Request) -> web.Response:
    test = _test(request)
    if test is not None:
        if not test.final:
            return error(409, f"test {test.id} is {test.status}: its report is written when it ends")
        if test.report_path is not None and test.report_path.exists():
            return web.FileResponse(test.report_path, headers=REPORT_HEADERS)
        return error(404, f"test {test.id} wrote no report")
    doc = _stored(request)
    if doc is None:
        return error(404, f"no test '{request.match_info['test_id']}'")
    html = await asyncio.get_running_loop().run_in_executor(None, render_html, doc)
    return web.Response(body=html.encode(), headers=REPORT_HEADERS)


async def pattern_status(request: web.Request) -> web.Response:
    """Seed 004: GET .../patterns/{testId}/status (the test's view, seed field names first)."""
    test = _test(request)
    if test is None:
        return await get_test(request)
    view = test.view()
    live = view["live"] or {}
    return web.json_response({"test_id": test.id, "status": test.status, "exit_code": test.exit_code,
                              "current_target_rate": live.get("target"), "current_actual_rate": live.get("actual"),
                              "total_requests": (live.get("totals") or {}).get("requests", 0), **view})


async def pattern_metrics(request: web.Request) -> web.Response:
    """Seed 004: GET .../patterns/{testId}/metrics: the rate and latency history (≤ 300 points)."""
    test = _test(request)
    if test is None:
        return error(404, f"no running or recent test '{request.match_info['test_id']}'; "
                          f"see GET /api/v1/tests/{{id}}/results for past ones")
    history = json.loads(test.channel.history())
    return web.json_response({"test_id": test.id, "status": test.status, "series": history["series"],
                              "violations": history["violations"], "events": history["events"],
                              "latest": test.channel.last})


# --- steering ------------------------------------------------------------------------------
async def _steer(request: web.Request, action: str, allowed: tuple[str, ...], **args) -> web.Response:
    test = _test(request)
    if test is None:
        _audit(request, action, "refused", test_id=request.match_info["test_id"], reason="unknown test")
        return error(404, f"no running test '{request.match_info['test_id']}'")
    if test.status not in allowed:
        _audit(request, action, "refused", test_id=test.id, reason=f"test is {test.status}")
        return error(409, f"cannot {action} test {test.id}: it is {test.status}")
    future = getattr(test.control, action)(**args)
    try:
        answer = await asyncio.wait_for(asyncio.wrap_future(future), CONTROL_TIMEOUT_S)
    except asyncio.TimeoutError:
        answer = "the run did not take the command in time (it may be ending)"
    if answer != "ok":
        _audit(request, action, "refused", test_id=test.id, reason=answer[:200], **args)
        return error(409, f"cannot {action} test {test.id}: {answer}")
    if action == "stop":
        test.status = "stopping"
    elif action in ("pause", "resume"):
        test.status = "paused" if action == "pause" else "running"
    _audit(request, action, "ok", test_id=test.id, **args)
    return web.json_response(test.view())


async def stop_test(request: web.Request) -> web.Response:
    who = request[keys.IDENTITY].name
    return await _steer(request, "stop", ("running", "paused"), reason=f"stopped over the API by {who}")


async def pause_test(request: web.Request) -> web.Response:
    return await _steer(request, "pause", ("running",))


async def resume_test(request: web.Request) -> web.Response:
    return await _steer(request, "resume", ("paused",))


async def scale_test(request: web.Request) -> web.Response:
    """Body: {"scenario": name, "vus": N} (closed model) or {"scenario": name, "rate": R |
    "factor": F} (open model: R is the new rate now, F multiplies the rate from now on)."""
    try:
        doc = await _document(request)
    except Refused as exc:
        return error(exc.status, "the body is not JSON", exc.problems)
    problems = []
    if not isinstance(doc, dict):
        return error(400, "the body must be an object", ["(root): {\"scenario\": name, \"vus\" | \"rate\" | \"factor\": number}"])
    scenario = doc.get("scenario")
    if not isinstance(scenario, str):
        problems.append("scenario: required, the name of a scenario of the test")
    given = [k for k in ("vus", "rate", "factor") if k in doc]
    if len(given) != 1:
        problems.append("vus | rate | factor: give exactly one")
    for k in given:
        v = doc[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (k == "vus" and v != int(v)):
            problems.append(f"{k}: a non-negative {'whole ' if k == 'vus' else ''}number")
    if problems:
        return error(400, "the scale request is invalid", problems)
    test = _test(request)
    if test is not None and ("rate" in doc or "factor" in doc):
        over = _scale_over_ceiling(request, test, scenario, doc)
        if over:
            _audit(request, "scale", "refused", test_id=test.id if test else None, reason=over)
            return error(422, "over the server's ceiling: nothing changed", [over])
    args = {"scenario": scenario, **{k: (int(doc[k]) if k == "vus" else float(doc[k])) if k in doc else None
                                     for k in ("vus", "factor", "rate")}}
    return await _steer(request, "scale", ("running", "paused"), **args)


def _scale_over_ceiling(request: web.Request, test: ServedTest | None, scenario, doc: dict) -> str | None:
    """A scale over the server's --max-rate: a rate above it, or a factor that would take the
    scenario's peak (times the factors it already has) above it."""
    ceiling = request.app[keys.CEILING]
    s = next((s for s in test.plan.scenarios if s.name == scenario), None) if test else None
    if not ceiling.max_rate or s is None or not s.is_open:
        return None
    per = max(1, len(s.requests))
    if "rate" in doc:
        new, what = float(doc["rate"]) * per, "rate"
    else:
        already = test.control.scale_factors.get(scenario, 1.0)
        new, what = peak_rate(s.target_fn()) * already * float(doc["factor"]) * per, "factor"
    if new > ceiling.max_rate * (1 + 1e-9):
        return f"{what}: up to {new:,.6g} requests/s, over the server's --max-rate {ceiling.max_rate:,.6g}"
    return None


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/tests", post_test)
    r.add_get("/api/v1/tests", list_tests)
    r.add_get("/api/v1/tests/{test_id}", get_test)
    r.add_post("/api/v1/tests/{test_id}/stop", stop_test)
    r.add_post("/api/v1/tests/{test_id}/pause", pause_test)
    r.add_post("/api/v1/tests/{test_id}/resume", resume_test)
    r.add_post("/api/v1/tests/{test_id}/scale", scale_test)
    r.add_get("/api/v1/tests/{test_id}/results", get_results)
    r.add_get("/api/v1/tests/{test_id}/report", get_report)
    r.add_post("/api/v1/load-test/patterns/start", post_pattern)
    r.add_get("/api/v1/load-test/patterns/{test_id}/status", pattern_status)
    r.add_post("/api/v1/load-test/patterns/{test_id}/stop", stop_test)
    r.add_get("/api/v1/load-test/patterns/{test_id}/metrics", pattern_metrics)


__all__ = ["YAML_TYPES", "add_routes", "error", "start_test"]
