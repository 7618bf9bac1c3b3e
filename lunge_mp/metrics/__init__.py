"""PURE metrics: HDR wrappers (hdr), worker-side Recorder, coordinator-side Aggregate.

No asyncio, zmq or aiohttp here; see DESIGN.md "Metrics".
"""


def __getattr__(name: str):
    """`Aggregate` and `Recorder` on first use: a worker imports only the Recorder."""
    if name == "Aggregate":
        from lunge_mp.metrics.aggregate import Aggregate
        return Aggregate
    if name == "Recorder":
        from lunge_mp.metrics.recorder import Recorder
        return Recorder
    raise AttributeError(name)


__all__ = ["Aggregate", "Recorder"]
