"""Pure parts of issue 10 items 3, 7 and 9: request-head rules, secret renderings, the default
threshold. The end-to-end proofs are in tests/e2e (test_head_injection, test_secret_renderings,
test_body_encoding, test_default_threshold)."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from lunge_mp.redact import MASK, Redactor, label_secrets
from lunge_mp.scenario.request_head import (headers_problems, method_problem, name_problem,
                                            template_value_problems, url_text_problem, value_problem)


@pytest.mark.parametrize("name, ok", [
    ("X-Api-Key", True), ("x_y.z~1!#$%&'*+^`|", True),
    ("X A", False), ("X:A", False), ("X\r\nA", False), ("", False), ("Ä", False), ("X\x00", False),
])
def test_header_names_are_tokens(name, ok):
    assert (name_problem(name) is None) is ok


@pytest.mark.parametrize("value, ok", [
    ("Bearer abc", True), ("tab\tok", True), ("é€ obs-text", True), ("", True),
    ("a\rb", False), ("a\nb", False), ("a\x00", False), ("a\x7f", False), ("a\x1b[31m", False),
])
def test_header_values_hold_no_control_character_but_tab(value, ok):
    assert (value_problem(value) is None) is ok


def test_problems_name_the_field_and_never_show_the_value():
    assert headers_problems({"X-A": "sec\r\nret", "Bad Name": "v"}, "settings.headers") == [
        ("settings.headers.X-A", value_problem("sec\r\nret")),
        ("settings.headers", name_problem("Bad Name"))]
    assert "sec" not in value_problem("sec\r\nret") and "CR at character 4" in value_problem("sec\r\nret")
    assert url_text_problem("http://h/a b") is None                 # a space is percent-encoded later
    assert "a TAB" in url_text_problem("http://h/a\tb")
    assert method_problem("GET") is None and method_problem("GET /") is not None
    problems = template_value_problems(
        [("u", "url", "http://h/{{a}}"), ("h", "header", "x {{b}}"), ("d", "header", "{{vu}} {{b}}"),
         ("ok", "header", "{{c}}")],
        {"a": "x\ny", "b": "\x00", "c": "fine"}, secrets=["b"])
    assert problems == ["u: after substituting variable a: " + url_text_problem("http://h/x\ny"),
                        "h: after substituting secret variable b: " + value_problem("x \x00")]


SECRET = 'pa\\ss"wo/rd é&x=1'


@pytest.mark.parametrize("rendering", [
    SECRET, repr(SECRET)[1:-1], repr(repr(SECRET)[1:-1])[1:-1], json.dumps(SECRET)[1:-1],
    json.dumps(SECRET, ensure_ascii=False)[1:-1], json.dumps(json.dumps(SECRET)[1:-1])[1:-1],
    repr(json.dumps(SECRET)[1:-1])[1:-1], quote(SECRET, safe=""), quote(SECRET), quote_plus(SECRET),
    quote_plus(SECRET).lower(), repr(SECRET.encode())[2:-1], SECRET.encode().decode("latin-1"),
])
def test_every_rendering_of_a_secret_is_masked(rendering):
    assert Redactor([SECRET]).text(f"got <{rendering}> here") == f"got <{MASK}> here"


def test_a_cut_cannot_show_the_start_of_a_secret():
    r = Redactor(["Zq9SecretVal-77x"])
    assert r.text("got 'Zq9Secr...") == f"got '{MASK}..."
    assert r.text("got 'Zq9Secr\u2026") == f"got '{MASK}\u2026"
    assert r.text("got 'Zq9...") == "got 'Zq9..."         # shorter than MIN_SECRET: not a secret
    assert r.text("Zq9Secr and more") == "Zq9Secr and more"  # not cut: not a rendering


def test_config_errors_name_the_secret_variable():
    lines = ["settings.timeout: invalid duration 'Zq9SecretVal-77x'",
             "scenarios.s.vus: must be an integer, got 'Zq9SecretVal-7...' (a string)",
             "other: 'public-value'"]
    assert label_secrets(lines, {"tok": "Zq9SecretVal-77x", "pub": "public-value"}, ["tok"]) == [
        "settings.timeout: invalid duration '<secret variable tok>'",
        "scenarios.s.vus: must be an integer, got '<secret variable tok>...' (a string)",
        "other: 'public-value'"]


def test_the_default_threshold_is_added_replaced_or_turned_off():
    from lunge_mp.config import ConfigError, plan_from_dict

    base = {"name": "n", "scenarios": {"s": {"executor": "constant-vus", "vus": 1, "duration": "1s",
                                             "requests": [{"url": "http://h/"}]}}}
    [t] = plan_from_dict(base).thresholds
    assert (t.metric, t.expression, t.default) == ("http_req_failed", "rate<0.01", True)
    own = plan_from_dict({**base, "thresholds": {"http_req_failed": ["rate<0.5"]}}).thresholds
    assert [(t.expression, t.default) for t in own] == [("rate<0.5", False)]
    part = plan_from_dict({**base, "thresholds": {"s_failed": ["rate<0.5"], "http_req_duration": ["p95<1"]}})
    assert [t.default for t in part.thresholds] == [False, False, True]
    assert plan_from_dict({**base, "options": {"defaultThresholds": False}}).thresholds == ()
    with pytest.raises(ConfigError, match="options.defaultThresholds: must be"):
        plan_from_dict({**base, "options": {"defaultThresholds": "no"}})


def test_verdicts_the_default_passes_without_data_an_own_threshold_does_not():
    from lunge_mp.analysis.verdict import verdicts
    from lunge_mp.config.default_thresholds import with_defaults
    from lunge_mp.analysis.thresholds import parse_threshold

    own = parse_threshold("http_req_failed", "rate<0.5")
    [default] = with_defaults((), True)
    results = {"scenarios": {}, "requests": {}, "durationSeconds": 1.0,
               "metrics": {"http_reqs": {"count": 0}, "http_req_failed": {"count": 0, "rate": 0.0}}}
    got = verdicts((own, default), results, lambda *a: None)
    assert [(v["ok"], v.get("default", False)) for v in got] == [(False, False), (True, True)]
