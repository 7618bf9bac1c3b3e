"""Names and labels in a config hold no control or bidirectional-override characters.

Whatever a config names is printed to a terminal sooner or later: scenario and request names,
tags, check names, threshold expressions, stage and phase names, data source names and files,
and every key of every mapping. A NUL, BEL, ESC or U+202E in one of them is never meant and can
garble or disguise what a person reads (lunge_mp.textsafe), so it is a config error at load,
with the field named. Request bodies, forms and headers are data sent on the wire, not names
(header values are checked where headers are parsed), and are not walked here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from lunge_mp.config.errors import Errors, index, join
from lunge_mp.textsafe import escape, unsafe_problem

#: string values that are names or labels (by the key that holds them)
NAME_KEYS = frozenset(("name", "check", "description", "file", "threshold", "executor", "type"))
#: subtrees whose strings are all labels
LABEL_TREES = frozenset(("tags", "thresholds"))
#: subtrees that are data for the wire, not names
DATA_TREES = frozenset(("body", "form", "headers"))


def check_names(doc: object, errs: Errors) -> None:
    """Record an error for each key, name or label in `doc` that holds an unsafe character."""
    queue: deque[tuple[Any, str, bool]] = deque([(doc, "", False)])   # in file order
    while queue:
        value, path, labels = queue.popleft()
        if isinstance(value, Mapping):
            for key, item in value.items():
                at = join(path, escape(key) if isinstance(key, str) else key)
                if isinstance(key, str):
                    problem = unsafe_problem(key)
                    if problem:
                        errs.add(at, f"this name {problem}")
                    if key in DATA_TREES:
                        continue
                if isinstance(item, str):
                    if labels or key in NAME_KEYS:
                        _check(item, at, errs)
                else:
                    queue.append((item, at, labels or key in LABEL_TREES))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    if labels:
                        _check(item, index(path, i), errs)
                else:
                    queue.append((item, index(path, i), labels))


def _check(text: str, path: str, errs: Errors) -> None:
    problem = unsafe_problem(text)
    if problem:
        errs.add(path, problem)
