"""PURE metrics: HDR wrappers (hdr), worker-side Recorder, coordinator-side Aggregate.

No asyncio, zmq or aiohttp here; see DESIGN.md "Metrics".
"""

from lunge_mp.metrics.aggregate import Aggregate
from lunge_mp.metrics.recorder import Recorder

__all__ = ["Aggregate", "Recorder"]
