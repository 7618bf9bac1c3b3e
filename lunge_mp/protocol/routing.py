"""The routing id a local worker connects with: `w<i>.` and a digest of the run's ipc endpoint.

One ROUTER serves the local workers (ipc://) and, with `run --listen`, the remote ones (tcp://
with Curve), and it hands a routing id over to the newest connection that claims it
(ROUTER_HANDOVER: a remote worker's rejoin needs it). Were a local worker's id predictable
(`w0`), anyone holding an authorized worker key could claim it over tcp and receive that
worker's messages. The endpoint's file name holds 64 random bits (coordinator/pool.py) in a randomly named
directory only this user can list, so the digest is known only to the coordinator and the
workers it started. Remote workers pick random ids of their own (worker/remote.py).
"""

from __future__ import annotations

import hashlib


def local_identity(endpoint: str, worker: int) -> bytes:
    """Local worker `worker`'s routing id on the ipc endpoint `endpoint`."""
    return b"w%d." % worker + hashlib.blake2b(endpoint.encode(), digest_size=16).hexdigest().encode()
