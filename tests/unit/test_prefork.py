"""The fork server's hole filling (api/prefork.py): it reads pymalloc's free blocks and fills them."""

import os
import sys

import pytest

from lunge_mp.api import prefork

pymalloc = pytest.mark.skipif(sys.implementation.name != "cpython" or not prefork._pymalloc_free_blocks(),
                              reason="needs CPython with pymalloc (sys._debugmallocstats)")


@pymalloc
def test_free_blocks_are_read_per_size_class():
    free = prefork._pymalloc_free_blocks()
    assert sorted(free)[:3] == [16, 32, 48] and all(n >= 0 for n in free.values())


@pymalloc
def test_filling_leaves_few_free_blocks():
    garbage = [[bytes(i % 400 + 20)] for i in range(20_000)]
    del garbage[::3]        # holes in pools among live objects
    before = sum(n for size, n in prefork._pymalloc_free_blocks().items() if size >= 32)
    ballast = prefork.fill_holes()
    after = sum(n for size, n in prefork._pymalloc_free_blocks().items() if size >= 32)
    assert ballast and after < before / 4
    del garbage, ballast


def test_stderr_is_given_back(capfd):
    prefork._pymalloc_free_blocks()
    os.write(2, b"still here")
    assert capfd.readouterr().err.endswith("still here")


def test_settle_fills_and_keeps_the_interpreter_working():
    ballast = prefork.settle()
    assert isinstance(ballast, list)
    assert "x".join(["a", "b"]) == "axb" and [].append is not None   # type lookups after the cache is cleared
