"""Persistent state on the load box: run history and named baselines (SQLite)."""

from lunge_mp.store.history import (
    ENV_VAR,
    SCHEMA_VERSION,
    Store,
    StoreBusy,
    StoreError,
    default_store_path,
    record_after_run,
)

__all__ = ["ENV_VAR", "SCHEMA_VERSION", "Store", "StoreBusy", "StoreError", "default_store_path", "record_after_run"]
