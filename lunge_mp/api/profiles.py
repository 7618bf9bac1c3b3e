"""Seed 004's profile endpoints on the control plane (`lunge-mp serve`).

    GET    /api/v1/load-test/profiles[?tag=T]             list (latest versions; damaged rows with `error`)
    POST   /api/v1/load-test/profiles                     create: {name, description, tags, metadata, config}
    GET    /api/v1/load-test/profiles/{profileId}[?version=N]   one profile, its versions
    PUT    /api/v1/load-test/profiles/{profileId}         save the next version (fields left out are kept)
    DELETE /api/v1/load-test/profiles/{profileId}         delete it and all its versions
    POST   /api/v1/load-test/profiles/{profileId}/run     run it: optional {version, variables}

`profileId` is a profile's id or its name. The server's middleware authenticates and enforces
roles (admin to change, viewer to read) and sets `request[keys.IDENTITY]`; this module records
who did what in the audit log. Answers: 400 malformed JSON or query, 404 unknown profile or
version, 409 a name already taken, 413 a body over 1 MB, 422 an invalid profile or config
(`errors`: one `field.path: problem` line each; nothing stored) or secrets that cannot be read
(nothing started). Secrets are masked in every answer: the stored config holds only their
masks, and error lines are redacted.

Store calls run off the event loop, in one thread that keeps one connection to the store open
for the app's life: opening and closing a WAL store costs fsyncs (a checkpoint at the last
close), 15-30 ms on a busy disk, against about 1 ms for the save itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from lunge_mp.api import keys

from lunge_mp.config.errors import ConfigError
from lunge_mp.profile_ops import (MAX_CONFIG_BYTES, absolute_data_paths, audit as audit_line, check_config,
                                  config_for_run)
from lunge_mp.store.audit import AuditLog
from lunge_mp.store.history import StoreBusy, StoreError, default_store_path
from lunge_mp.store.profile_crypto import KeyRing
from lunge_mp.store.profiles import (ProfileDamaged, ProfileExists, ProfileInvalid, ProfileNotFound,
                                     ProfileStore, SecretUnreadable, check_name)

BASE = "/api/v1/load-test/profiles"
MAX_BODY = MAX_CONFIG_BYTES
BODY_KEYS = ("name", "description", "tags", "metadata", "config")
# what GET answers besides BODY_KEYS: accepted in a PUT (so a GET can be edited and sent back), ignored
READ_ONLY_KEYS = ("id", "version", "latest_version", "created_at", "updated_at", "created_by",
                  "updated_by", "secrets", "versions")
SEED_PATTERN_KEYS = ("pattern", "guardrails", "job_config")

StartTest = Callable[..., Awaitable[web.StreamResponse]]
log = logging.getLogger(__name__)


def _error(status: int, message: str, errors: list[str] | None = None, **extra: Any) -> web.Response:
    body = {"error": message, **({"errors": errors} if errors is not None else {}), **extra}
    return web.json_response(body, status=status)


class _Answer(Exception):
    """An error answer, raised from anywhere in a handler."""

    def __init__(self, response: web.Response) -> None:
        self.response = response


def _store_answer(exc: StoreError) -> web.Response:
    if isinstance(exc, SecretUnreadable):
        return _error(422, f"{exc.head}; nothing was started", exc.fields, hint=exc.hint)
    if isinstance(exc, ProfileNotFound):
        return _error(404, str(exc))
    if isinstance(exc, ProfileExists):
        return _error(409, str(exc))
    if isinstance(exc, ProfileInvalid):
        return _error(422, "invalid profile; nothing was stored", [str(exc)])
    if isinstance(exc, StoreBusy):
        return _error(503, str(exc))
    if isinstance(exc, ProfileDamaged):
        return _error(500, str(exc))
    return _error(500, f"profile store: {exc}")


async def _json_body(request: web.Request, required: bool = True) -> Mapping[str, Any]:
    """The request's JSON object, read up to MAX_BODY bytes (413 beyond, 400 if malformed)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _Answer(_error(413, f"request body is {request.content_length} bytes; at most {MAX_BODY}"))
    data = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        data += chunk
        if len(data) > MAX_BODY:
            raise _Answer(_error(413, f"request body is over {MAX_BODY} bytes"))
    if not data.strip() and not required:
        return {}
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Answer(_error(400, f"request body is not JSON: {exc}")) from None
    except RecursionError:
        raise _Answer(_error(400, "request body is nested too deeply")) from None
    if not isinstance(doc, Mapping):
        raise _Answer(_error(400, "request body must be a JSON object"))
    return doc


def _profile_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """name, description, tags, metadata, config from a body; 422 naming what is wrong."""
    if "config" not in body and any(k in body for k in SEED_PATTERN_KEYS):
        # seed 004's pattern body (pattern, guardrails, job_config, target): stored as the v2
        # config it runs as, the same one `POST .../patterns/start` builds
        from lunge_mp.api.intake import Refused
        from lunge_mp.api.patterns import KEYS as PATTERN_KEYS, config_from_pattern_request

        request = {k: v for k, v in body.items() if k in PATTERN_KEYS and k not in
                   ("name", "save_profile", "profile_name")}
        try:
            config = config_from_pattern_request(request)
        except Refused as exc:
            raise _Answer(_error(422, "invalid profile; nothing was stored", exc.problems)) from None
        body = {**{k: v for k, v in body.items() if k not in PATTERN_KEYS or k == "name"}, "config": config}
    unknown = [k for k in body if k not in BODY_KEYS + READ_ONLY_KEYS]
    if unknown:
        raise _Answer(_error(422, "invalid profile; nothing was stored",
                             [f"{k}: unknown field; known: {', '.join(BODY_KEYS)}" for k in unknown]))
    return {k: body.get(k) for k in BODY_KEYS}


class _Profiles:
    def __init__(self, store_path: Any, audit: AuditLog | None, start_test: StartTest) -> None:
        self.store_path = default_store_path() if store_path is None else store_path
        self.audit = audit
        self.start_test = start_test
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="profile-store")
        self._store: ProfileStore | None = None       # opened, used and closed in that thread only

    async def _in_store(self, work: Callable[[ProfileStore, KeyRing], Any]) -> Any:
        def job() -> Any:
            if self._store is None:
                self._store = ProfileStore(self.store_path)
            return work(self._store, KeyRing(self.store_path))
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, job)
        except StoreError as exc:
            raise _Answer(_store_answer(exc)) from None

    async def close(self, _app: web.Application | None = None) -> None:
        def job() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None
        await asyncio.get_running_loop().run_in_executor(self._thread, job)
        self._thread.shutdown(wait=False)

    def _record(self, request: web.Request, action: str, outcome: str = "ok", **fields: Any) -> None:
        warning = audit_line(self.audit, action, identity=getattr(request.get(keys.IDENTITY), "name", "local"),
                             client=request.remote or "unknown", outcome=outcome, **fields)
        if warning:
            log.warning(warning)

    # -- handlers ------------------------------------------------------------------------------

    async def list(self, request: web.Request) -> web.Response:
        tag = request.query.get("tag")
        rows = await self._in_store(lambda store, _: store.profiles(tag=tag))
        return web.json_response({"profiles": rows})

    async def get(self, request: web.Request) -> web.Response:
        ref = request.match_info["profileId"]
        version = request.query.get("version")
        if version is not None and not (version.isdigit() and int(version) >= 1):
            return _error(400, f"version must be a whole number from 1, got {version!r}")

        def work(store: ProfileStore, _: KeyRing) -> dict[str, Any]:
            found = store.get(ref, None if version is None else int(version))
            return {**found.to_dict(), "versions": store.versions(found.id)}
        return web.json_response(await self._in_store(work))

    async def create(self, request: web.Request) -> web.Response:
        return await self._save(request, None)

    async def update(self, request: web.Request) -> web.Response:
        return await self._save(request, request.match_info["profileId"])

    async def _save(self, request: web.Request, ref: str | None) -> web.Response:
        fields = _profile_fields(await _json_body(request))
        who = getattr(request.get(keys.IDENTITY), "name", "local")
        if ref is None:
            try:
                name = check_name(fields["name"])
            except StoreError as exc:
                return _store_answer(exc)
            if fields["config"] is None:
                return _error(422, "invalid profile; nothing was stored",
                              ["config: required: the test, as a Lunge v2 config object"])
        else:
            name = (await self._in_store(lambda store, _: store.get(ref))).name
            if fields["name"] not in (None, name):
                return _error(422, "invalid profile; nothing was stored",
                              [f"name: a profile cannot be renamed (it is '{name}'); export it and "
                               f"import it under the new name"])
        config = fields["config"]
        if config is not None:
            config = absolute_data_paths(config, Path.cwd())     # as `profile save` stores them
            try:
                await asyncio.to_thread(check_config, config, f"profile {name}")
            except ConfigError as exc:
                self._record(request, "profile.save", outcome="refused", name=name)
                return _error(422, "invalid config; nothing was stored", exc.errors)

        def work(store: ProfileStore, keys: KeyRing):
            doc = config if config is not None else store.get(name).config   # fields only: same test
            return store.save(name, doc, by=who, keys=keys, description=fields["description"],
                              tags=fields["tags"], metadata=fields["metadata"],
                              mode="create" if ref is None else "update")
        saved = await self._in_store(work)
        self._record(request, "profile.save", name=saved.name, version=saved.version,
                     profile_id=saved.id, secrets=len(saved.secrets))
        return web.json_response(saved.to_dict(), status=201 if ref is None else 200,
                                 headers={"Location": f"{BASE}/{saved.id}"})

    async def delete(self, request: web.Request) -> web.Response:
        ref = request.match_info["profileId"]
        name, count = await self._in_store(lambda store, _: store.delete(ref))
        self._record(request, "profile.delete", name=name, versions=count)
        return web.json_response({"deleted": name, "versions": count})

    async def run(self, request: web.Request) -> web.StreamResponse:
        ref = request.match_info["profileId"]
        body = await _json_body(request, required=False)
        unknown = [k for k in body if k not in ("version", "variables")]
        version, variables = body.get("version"), body.get("variables") or {}
        problems = [f"{k}: unknown field; known: version, variables" for k in unknown]
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            problems.append("version: must be a whole number from 1")
        if not isinstance(variables, Mapping) or not all(
                isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
                for k, v in variables.items()):
            problems.append("variables: must map variable names to strings or numbers")
        if problems:
            return _error(422, "invalid run request; nothing was started", problems)
        overrides = {k: str(v) for k, v in variables.items()}

        def work(store: ProfileStore, keys: KeyRing):
            found = store.get(ref, version)
            try:
                doc, _ = config_for_run(found, keys, overrides)
            except (StoreError, ConfigError) as exc:
                return found, None, exc
            return found, doc, None
        found, doc, problem = await self._in_store(work)
        if problem is not None:
            self._record(request, "profile.run", outcome="refused", name=found.name,
                         version=found.version, profile_id=found.id)
            if isinstance(problem, ConfigError):
                return _error(422, "the profile's config cannot run; nothing was started", problem.errors)
            return _store_answer(problem)
        self._record(request, "profile.run", name=found.name, version=found.version, profile_id=found.id)
        return await self.start_test(request, doc, profile=(found.name, found.version))


def add_profile_routes(app: web.Application, *, store_path: Any, audit: AuditLog | None,
                       start_test: StartTest) -> None:
    """Add the profile endpoints to `app`.

    `start_test(request, config, *, profile=(name, version))` is the server's: it starts a run
    of the (decrypted) config as `POST /api/v1/tests` does and returns its answer.
    """
    handlers = _Profiles(store_path, audit, start_test)
    app.on_cleanup.append(handlers.close)

    def answering(handler):
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except _Answer as answer:
                return answer.response
        return wrapped

    app.router.add_get(BASE, answering(handlers.list))
    app.router.add_post(BASE, answering(handlers.create))
    app.router.add_get(BASE + "/{profileId}", answering(handlers.get))
    app.router.add_put(BASE + "/{profileId}", answering(handlers.update))
    app.router.add_delete(BASE + "/{profileId}", answering(handlers.delete))
    app.router.add_post(BASE + "/{profileId}/run", answering(handlers.run))
