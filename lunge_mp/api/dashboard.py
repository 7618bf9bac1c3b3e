"""The live dashboard: one HTML page and one script (api/static/), with Plotly served by this
server from the `plotly` package (the page works with no internet).

The page holds no data: everything comes from the API and the stream with the token the
user gives (kept in the tab's sessionStorage). A Content-Security-Policy lets it load
scripts and connect only to this server.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-cache"}


def _file(path: Path, content_type: str):
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={**HEADERS, "Content-Type": content_type})
    return handler


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", _file(STATIC / "index.html", "text/html; charset=utf-8"))
    app.router.add_get("/static/dashboard.js", _file(STATIC / "dashboard.js", "text/javascript; charset=utf-8"))
    app.router.add_get("/static/dashboard.css", _file(STATIC / "dashboard.css", "text/css; charset=utf-8"))
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_get("/static/plotly.min.js", _file(PLOTLY_JS, "text/javascript; charset=utf-8"))
