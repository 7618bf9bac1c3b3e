"""Did you mean: the known name closest to a mistyped one, for the messages of config fields,
template names and flags. A leaf: it imports nothing of lunge_mp.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(key: str, known: Iterable[str]) -> str | None:
    """The known key the user most likely meant: same letters ignoring case/_/-, else the one
    key it begins, else difflib's closest."""
    known = list(known)

    def squash(s: str) -> str:
        return s.lower().replace("_", "").replace("-", "")

    for k in known:
        if squash(k) == squash(key):
            return k
    # a word cut short (`base` for baseRate) is a likelier slip than a near spelling (`phase`)
    starts = [k for k in known if len(key) >= 3 and squash(k).startswith(squash(key))]
    if len(starts) == 1:
        return starts[0]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return close[0] if close else None
