"""The control plane: `lunge-mp serve` (REST API, WebSocket stream, live dashboard, Prometheus).

Modules by concept: app (the aiohttp application), auth (tokens and roles), intake (a
submitted config under the server's ceiling), patterns (seed 004's pattern request), runs
(the tests this server runs), child (one test's coordinator in a process of its own) and
relay (the server's side of it), feed (a run's per-second figures),
stream (the WebSocket messages), routes (REST handlers), dashboard (the page), prometheus
(/metrics), openapi (/api/v1/openapi.json), attach (`lunge-mp run --dashboard`).
"""

from lunge_mp.api.app import Settings, create_app

__all__ = ["Settings", "create_app"]
