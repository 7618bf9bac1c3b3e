"""GET /api/v1/openapi.json: the API described in OpenAPI 3.1 (a test checks it against the routes)."""

from __future__ import annotations

from aiohttp import web

from lunge_mp.api import keys

from lunge_mp import __version__

_ERR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_TEST = {"description": "the test", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Test"}}}}
_ID = [{"name": "test_id", "in": "path", "required": True, "schema": {"type": "string"}}]
_CONFIG = {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "a Lunge v2 config (docs/CONFIG.md)"}},
    "application/yaml": {"schema": {"type": "string", "description": "the same config as YAML"}}}}


def _op(summary: str, role: str, responses: dict, **extra) -> dict:
    codes = {"401": _ERR, "403": _ERR, **responses}
    return {"summary": summary, "x-role": role, "responses": codes, **extra}


def _steer(what: str) -> dict:
    return {"post": _op(f"{what} a running test", "operator", {"200": _TEST, "404": _ERR, "409": _ERR},
                        parameters=_ID)}


PATHS: dict[str, dict] = {
    "/api/v1/tests": {
        "get": _op("tests running and past (the history store)", "viewer", {"200": {"description": "tests"}}),
        "post": _op("start a test from a v2 config", "operator",
                    {"201": _TEST, "400": _ERR, "409": _ERR, "413": _ERR, "422": _ERR}, requestBody=_CONFIG)},
    "/api/v1/tests/{test_id}": {"get": _op("a test's state and live figures", "viewer",
                                           {"200": _TEST, "404": _ERR}, parameters=_ID)},
    "/api/v1/tests/{test_id}/stop": _steer("Stop"),
    "/api/v1/tests/{test_id}/pause": _steer("Pause"),
    "/api/v1/tests/{test_id}/resume": _steer("Resume"),
    "/api/v1/tests/{test_id}/scale": {"post": _op(
        "scale a scenario: {scenario, vus} closed model, {scenario, rate | factor} open model", "operator",
        {"200": _TEST, "400": _ERR, "404": _ERR, "409": _ERR, "422": _ERR}, parameters=_ID,
        requestBody={"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Scale"}}}})},
    "/api/v1/tests/{test_id}/results": {"get": _op("results.json (docs/RESULTS.md)", "viewer",
                                                   {"200": {"description": "results"}, "404": _ERR, "409": _ERR},
                                                   parameters=_ID)},
    "/api/v1/tests/{test_id}/report": {"get": _op("the HTML report", "viewer",
                                                  {"200": {"description": "text/html"}, "404": _ERR, "409": _ERR},
                                                  parameters=_ID)},
    "/api/v1/load-test/patterns/start": {"post": _op(
        "seed 004: start a patterned test", "operator",
        {"201": {"description": "test_id, status, pattern estimates, websocket_url"},
         "400": _ERR, "409": _ERR, "413": _ERR, "422": _ERR},
        requestBody={"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PatternStart"}}}})},
    "/api/v1/load-test/patterns/{test_id}/status": {"get": _op("seed 004: status", "viewer",
                                                               {"200": _TEST, "404": _ERR}, parameters=_ID)},
    "/api/v1/load-test/patterns/{test_id}/stop": _steer("Stop (seed 004)"),
    "/api/v1/load-test/patterns/{test_id}/metrics": {"get": _op(
        "seed 004: rate and latency history (at most 300 points a series)", "viewer",
        {"200": {"description": "series"}, "404": _ERR}, parameters=_ID)},
    "/api/v1/load-test/stream/{test_id}": {"get": _op(
        "WebSocket: history, then rate_update, metrics_update, violation, event, completion", "viewer",
        {"101": {"description": "switching protocols"}, "404": _ERR}, parameters=_ID)},
    "/api/v1/openapi.json": {"get": _op("this document", "viewer", {"200": {"description": "OpenAPI"}})},
    "/metrics": {"get": _op("Prometheus text format", "viewer", {"200": {"description": "metrics"}})},
}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string"}, "problems": {"type": "array", "items": {"type": "string"}}}},
    "Test": {"type": "object", "properties": {
        "id": {"type": "string"}, "runId": {"type": ["string", "null"]}, "name": {"type": "string"},
        "status": {"enum": ["running", "paused", "stopping", "passed", "failed", "aborted", "invalid", "error"]},
        "exitCode": {"type": ["integer", "null"]}, "paused": {"type": "boolean"},
        "pauses": {"type": "array"}, "events": {"type": "array"}, "live": {"type": ["object", "null"]},
        "links": {"type": "object"}}},
    "Scale": {"type": "object", "required": ["scenario"], "properties": {
        "scenario": {"type": "string"}, "vus": {"type": "integer", "minimum": 0},
        "rate": {"type": "number", "minimum": 0}, "factor": {"type": "number", "exclusiveMinimum": 0}}},
    "PatternStart": {"type": "object", "required": ["pattern", "target"], "properties": {
        "pattern": {"type": "object"}, "guardrails": {"type": "object"}, "job_config": {"type": "object"},
        "target": {"type": "object", "required": ["url"]}, "save_profile": {"type": "boolean"},
        "profile_name": {"type": "string"}}},
}


def document(extra_paths: dict | None = None) -> dict:
    return {"openapi": "3.1.0",
            "info": {"title": "lunge-mp control plane", "version": __version__,
                     "description": "Start, watch, steer and stop load tests. Every call needs "
                                    "`Authorization: Bearer <token>` unless the server runs on loopback "
                                    "without a token; x-role is the least role a call needs."},
            "components": {"schemas": SCHEMAS, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
            "paths": {**PATHS, **(extra_paths or {})}}


async def handler(request: web.Request) -> web.Response:
    return web.json_response(document(request.app.get(keys.OPENAPI_EXTRA)))
