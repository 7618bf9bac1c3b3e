"""Config text → a document in bounded time and memory, whatever the text holds.

A YAML document can be far larger than its file: an alias (`*a`) repeats a whole anchored
subtree, so nine levels of nine aliases ("billion laughs") stand for 9⁹ values, and merge keys
(`<<: [*a, *a]`) copy mappings while the document is built. Composing a YAML node also costs
about 4 µs and a few hundred bytes, so even a plain file of many values is slow to build.

So before anything is built, one pass over libyaml's event stream (cheap: no nodes) counts
what the document would expand to, every alias standing for its whole anchored subtree,
and stops at the first limit passed (limits.py): values (NODES), characters in scalars
(EXPANDED_CHARS) and nesting (DEPTH). An alias to a node that contains it (a recursive
document) is refused too. Only then is the document built, by libyaml's C loader when PyYAML
has it (CSafeLoader), with duplicate keys refused. JSON has no aliases: it is parsed, then
walked for the same limits. Each limit error says what was found and the bound.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from lunge_mp import limits

#: libyaml's parser and composer when PyYAML was built with it (pure Python otherwise)
BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_STR = "tag:yaml.org,2002:str"


class TooLarge(ValueError):
    """A document over one of the limits; the message names the limit."""


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class UniqueKeyLoader(BaseLoader):  # type: ignore[misc,valid-type]
    """A safe loader that refuses a scalar key given twice in one mapping (merge keys excepted).

    PyYAML would keep the last one silently, and a duplicated scenario name would quietly drop
    a scenario."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            # a plain string key is its own text: no need to build it twice
            key = key_node.value if key_node.tag == _STR else self.construct_object(key_node)
            try:
                duplicate = key in seen
            except TypeError:
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}; each key may appear once", key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


class _Tally:
    """Running totals of the expanded document; raises TooLarge at the first limit passed."""

    def __init__(self) -> None:
        self.nodes = 0
        self.chars = 0

    def add(self, nodes: int, chars: int) -> None:
        self.nodes += nodes
        self.chars += chars
        if self.nodes > limits.NODES:
            raise TooLarge(f"more than {limits.NODES:,} values (counting every alias as the values "
                           f"it repeats); split the config or use fewer aliases")
        if self.chars > limits.EXPANDED_CHARS:
            raise TooLarge(f"more than {limits.EXPANDED_CHARS:,} characters of text (counting every "
                           f"alias as the text it repeats)")

    @staticmethod
    def depth(depth: int) -> None:
        if depth > limits.DEPTH:
            raise TooLarge(f"nested more than {limits.DEPTH} levels deep")


def check_yaml(text: str) -> None:
    """Raise TooLarge if the YAML in `text` expands past a limit (or aliases itself); a syntax
    error is raised as yaml.YAMLError, as the loader would."""
    parser = BaseLoader(text)
    tally = _Tally()
    anchors: dict[str, tuple[int, int]] = {}        # anchor → (values, chars) it expands to
    open_nodes: list[tuple[str | None, int, int]] = []   # (anchor, nodes, chars) at its start
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.ScalarEvent):
                tally.add(1, len(event.value))
                if event.anchor:
                    anchors[event.anchor] = (1, len(event.value))
            elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                open_nodes.append((event.anchor, tally.nodes, tally.chars))
                tally.depth(len(open_nodes))
                tally.add(1, 0)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                anchor, nodes, chars = open_nodes.pop()
                if anchor:
                    anchors[anchor] = (tally.nodes - nodes, tally.chars - chars)
            elif isinstance(event, yaml.AliasEvent):
                if any(anchor == event.anchor for anchor, _, _ in open_nodes):
                    raise TooLarge(f"the alias *{event.anchor} is inside the node &{event.anchor} it "
                                   f"repeats, which would make it endless")
                tally.add(*anchors.get(event.anchor, (1, 0)))   # undefined: the loader says so
    finally:
        parser.dispose()


def load_yaml(text: str) -> Any:
    """The YAML document in `text`, checked by check_yaml before it is built."""
    check_yaml(text)
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader


def load_json(text: str) -> Any:
    """The JSON document in `text`: duplicate keys refused (DuplicateKey), then the limits."""
    doc = json.loads(text, object_pairs_hook=_unique_pairs)
    if isinstance(doc, (dict, list)):
        check_tree(doc)
    return doc


def check_tree(doc: Any) -> None:
    """Raise TooLarge if a parsed document (a tree: JSON has no aliases) passes a limit. Each
    value is counted before it is visited, so a huge list is refused without a copy of it."""
    tally = _Tally()
    tally.add(1, 0)
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        tally.depth(depth)
        items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
        for key, item in items:
            tally.add(1 if key is None else 2, _chars(key) + _chars(item))
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))


def _chars(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out
