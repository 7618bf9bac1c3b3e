"""The fast transport's redirect policy (worker/redirects.py), without sockets: where each hop
goes and with which method, headers and body."""

from __future__ import annotations

import pytest

from lunge_mp.worker.http1 import TooManyRedirects
from lunge_mp.worker.redirects import MAX_REDIRECTS, REDIRECTS, Hop, location, next_hop
from lunge_mp.worker.transport import RedirectRefused

URL = "http://a.test/x/y?q=1"
CREDS = {"Authorization": "Bearer t", "Proxy-Authorization": "p", "Cookie": "s=1",
         "Host": "a.test", "X-Keep": "yes"}


def test_the_redirect_statuses():
    assert REDIRECTS == {301, 302, 303, 307, 308}


def test_location_prefers_location_then_uri():
    assert location({"Location": "/a", "URI": "/b"}) == "/a"
    assert location({"uri": "/b"}) == "/b"
    assert location({"Content-Type": "text/plain"}) is None


@pytest.mark.parametrize("loc, target", [
    ("/z", "http://a.test/z"),
    ("../c", "http://a.test/c"),
    ("d?x=1", "http://a.test/x/d?x=1"),
    ("  http://a.test/full  ", "http://a.test/full"),
])
def test_location_is_resolved_against_the_current_url(loc, target):
    assert next_hop(302, loc, "GET", URL, {}, None, 1) == Hop("GET", target, {}, None)


def test_no_location_means_this_3xx_is_the_response():
    assert next_hop(302, None, "GET", URL, {}, None, 1) is None


@pytest.mark.parametrize("status", [301, 302, 303])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_301_302_303_turn_other_methods_into_a_bodyless_get(status, method):
    hop = next_hop(status, "/next", method, URL, {"Content-Length": "3", "X-Keep": "yes"}, b"abc", 1)
    assert hop == Hop("GET", "http://a.test/next", {"X-Keep": "yes"}, None)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_get_and_head_keep_their_method(status):
    for method in ("GET", "HEAD"):
        assert next_hop(status, "/n", method, URL, {}, None, 1).method == method


@pytest.mark.parametrize("status", [307, 308])
def test_307_308_keep_method_and_body(status):
    hop = next_hop(status, "/n", "PUT", URL, {"Content-Length": "3"}, b"abc", 1)
    assert hop == Hop("PUT", "http://a.test/n", {"Content-Length": "3"}, b"abc")


def test_another_origin_drops_credentials_and_host():
    for other in ("http://b.test/", "https://a.test/", "http://a.test:8080/"):
        assert next_hop(302, other, "GET", URL, CREDS, None, 1).headers == {"X-Keep": "yes"}
    assert next_hop(302, "/same", "GET", URL, CREDS, None, 1).headers == CREDS


def test_allow_url_is_asked_with_the_resolved_target():
    asked = []
    def allow(url):
        asked.append(url)
        return url.startswith("http://a.test/")
    assert next_hop(302, "/ok", "GET", URL, {}, None, 1, allow).url == "http://a.test/ok"
    with pytest.raises(RedirectRefused, match="http://evil.test/ refused"):
        next_hop(302, "http://evil.test/", "GET", URL, {}, None, 1, allow)
    assert asked == ["http://a.test/ok", "http://evil.test/"]


def test_the_tenth_redirect_response_is_an_error_like_aiohttps():
    assert next_hop(302, "/n", "GET", URL, {}, None, MAX_REDIRECTS - 1) is not None
    with pytest.raises(TooManyRedirects, match="10 redirects, the last to http://a.test/n"):
        next_hop(302, "/n", "GET", URL, {}, None, MAX_REDIRECTS)
    with pytest.raises(TooManyRedirects):       # counted even without a Location
        next_hop(302, None, "GET", URL, {}, None, MAX_REDIRECTS)


def test_a_location_that_is_no_url_raises_value_error():
    with pytest.raises(ValueError):
        next_hop(302, "http://[::1", "GET", URL, {}, None, 1)
