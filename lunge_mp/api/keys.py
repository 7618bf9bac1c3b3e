"""The application's shared objects (aiohttp AppKeys) and what a request carries (RequestKeys):
one place, no imports of the rest."""

from __future__ import annotations

from aiohttp import web

REGISTRY = web.AppKey("registry", object)        # api/runs.py Registry
CEILING = web.AppKey("ceiling", object)          # api/intake.py Ceiling
STORE_PATH = web.AppKey("store_path", object)    # the history store's path
AUDIT = web.AppKey("audit", object)              # store/audit.py AuditLog
SETTINGS = web.AppKey("settings", object)        # api/app.py Settings
OPENAPI_EXTRA = web.AppKey("openapi_extra", dict)   # paths other modules add to the description
PROFILES = web.AppKey("profiles", bool)          # the profile routes are mounted (api/profiles.py)
IDENTITY = web.RequestKey("identity", object)    # who sent the request (api/auth.py Identity)
