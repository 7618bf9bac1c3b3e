"""The embedded target's route table (target/routes.py): which handler a path reaches."""

from __future__ import annotations

import pytest

from lunge_mp.target import routes


@pytest.mark.parametrize("path, handler, tail", [
    (b"/", routes.ok, b""),
    (b"/json", routes.json, b""),
    (b"/post", routes.post, b""),
    (b"/__stats", routes.stats, b""),
    (b"/__reset", routes.reset, b""),
    (b"/delay/50", routes.delay, b"50"),
    (b"/status/503", routes.status, b"503"),
    (b"/bytes/10", routes.bytes_, b"10"),
    (b"/delay/5/6", routes.delay, b"5/6"),      # the handler finds no number: 404
    (b"/delay", routes.not_found, b""),
    (b"/delayed/5", routes.not_found, b""),
    (b"/nope", routes.not_found, b""),
    (b"", routes.not_found, b""),
])
def test_route(path, handler, tail):
    assert routes.route(path) == (handler, tail)
