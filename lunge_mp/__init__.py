"""lunge_mp: a multi-process HTTP load-testing engine."""

__version__ = "0.1.0"
