"""Embedded HTTP/1.1 target for demos, tests and benchmarks.

uvloop + httptools, keep-alive, pipelining-safe, optional SO_REUSEPORT workers.
Routes: ``/``, ``/json``, ``/post``, ``/delay/<ms>``, ``/status/<code>``,
``/bytes/<n>``, ``/__stats``, ``/__reset`` (see :mod:`lunge_mp.target.routes`).
"""

from lunge_mp.target.process import TargetProcess, start_target
from lunge_mp.target.serving import run_target

__all__ = ["run_target", "start_target", "TargetProcess"]
