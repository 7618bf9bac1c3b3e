"""The control plane: `lunge-mp serve` (REST API, WebSocket stream, live dashboard, Prometheus).

Modules by concept: app (the aiohttp application), auth (tokens and roles), intake (a
submitted config under the server's ceiling), patterns (seed 004's pattern request), runs
(the tests this server runs), child (one test's coordinator in a process of its own) and
relay (the server's side of it), feed (a run's per-second figures),
stream (the WebSocket messages), routes (REST handlers), dashboard (the page), prometheus
(/metrics), openapi (/api/v1/openapi.json), attach (`lunge-mp run --dashboard`).
"""

__all__ = ["Settings", "create_app"]


def __getattr__(name: str):
    """`Settings` and `create_app` load aiohttp and the app only when asked for: a test's own
    process (api/child.py) imports this package too, and needs neither."""
    if name in __all__:
        from lunge_mp.api import app
        return getattr(app, name)
    raise AttributeError(f"module 'lunge_mp.api' has no attribute {name!r}")
