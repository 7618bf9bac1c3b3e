"""limits.py: the bounds Fields checks, and docs/CONFIG.md showing each of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from lunge_mp import limits
from lunge_mp.config import ConfigError, plan_from_dict
from lunge_mp.config.errors import Errors
from lunge_mp.config.fields import Fields
from lunge_mp.config.safe_load import TooLarge, check_tree, check_yaml, load_yaml

DOCS = (Path(__file__).parent.parent.parent / "docs" / "CONFIG.md").read_text()


def _scenario(**fields) -> dict:
    return {"name": "t", "scenarios": {"a": {"executor": "constant-vus", "vus": 1, "duration": "1s",
                                              "requests": [{"url": "http://127.0.0.1:1/"}], **fields}}}


def test_fields_refuse_numbers_over_their_bound_and_keep_the_default():
    errs = Errors()
    f = Fields(errs, {"vus": 10**30, "n": 10**13, "d": 10**9, "ok": 5}, "s")
    assert f.int("vus", 7, bound=limits.VUS) == 7
    assert f.number("n", 1.0) == 1.0                   # any number meets limits.NUMBER
    assert f.duration("d", 2.0) == 2.0                 # any duration meets limits.DURATION
    assert f.int("ok", bound=limits.VUS) == 5
    assert [e.split(":")[0] for e in errs.items] == ["s.vus", "s.n", "s.d"]
    assert "must be at most 100,000 (VUs in one scenario" in errs.items[0]


def test_a_huge_integer_duration_is_an_error_not_an_overflow():
    with pytest.raises(ConfigError, match="scenarios.a.duration: invalid duration: a number of seconds too"):
        plan_from_dict(_scenario(duration=10**400))
    with pytest.raises(ConfigError, match="scenarios.a.duration: must be at most 2,592,000s"):
        plan_from_dict(_scenario(duration=10**30))


def test_errors_past_the_shown_limit_are_counted():
    with pytest.raises(ConfigError) as info:
        plan_from_dict({**_scenario(), **{f"k{i}": i for i in range(500)}})
    assert len(info.value.errors) == limits.ERRORS_SHOWN + 1
    assert info.value.errors[-1].startswith("... and 400 more problems")


def test_yaml_expansion_is_counted_before_anything_is_built():
    check_yaml("a: &a [1, 2]\nb: [*a, *a]\n")
    bomb = "a: &a [" + ",".join(["x"] * 10) + "]\n"
    for i in range(1, 6):
        bomb += f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}" if i > 1 else "*a"] * 10) + "]\n"
    with pytest.raises(TooLarge, match="values"):
        check_yaml(bomb)
    with pytest.raises(TooLarge, match="endless"):
        check_yaml("a: &x {b: *x}")
    with pytest.raises(TooLarge, match="levels"):
        check_yaml("a: " + "[" * (limits.DEPTH + 1) + "]" * (limits.DEPTH + 1))
    with pytest.raises(TooLarge, match="characters"):
        check_yaml("a: &s '" + "x" * 1_000_000 + "'\nb: [" + ",".join(["*s"] * 20) + "]")
    assert load_yaml("a: &a {x: 1}\nb: {<<: *a, y: 2}") == {"a": {"x": 1}, "b": {"x": 1, "y": 2}}


def test_json_trees_meet_the_same_limits():
    check_tree({"a": [1, 2, {"b": "c"}]})
    with pytest.raises(TooLarge, match="values"):
        check_tree(list(range(limits.NODES + 1)))
    deep: list = []
    for _ in range(limits.DEPTH + 1):
        deep = [deep]
    with pytest.raises(TooLarge, match="levels"):
        check_tree(deep)


def test_docs_state_every_bound():
    for bound in set(limits.TABLE.values()):
        assert limits.show(bound.value) in DOCS, bound
    for text in ("4 MiB", "50,000 values", "16,777,216 characters", "64 levels", "100 MiB", "131,072"):
        assert text in DOCS, text
    assert f"{limits.CONFIG_BYTES:,}" in DOCS and limits.NODES == 50_000 and limits.DATA_FILE_BYTES == 100 * 2**20
