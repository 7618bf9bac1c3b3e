"""Which fields of a config are secret, their masks, and putting them back (pure)."""

from __future__ import annotations

import pytest

from lunge_mp.store import profile_secrets as ps

CONFIG = {
    "name": "Checkout",
    "settings": {"baseUrl": "https://admin:hunter22@api.example.com/v1",
                 "headers": {"Authorization": "Bearer tok-abcdef-123", "Accept": "application/json"}},
    "variables": {"api_key": {"value": "key-0987654321", "secret": True},
                  "region": "eu", "pin": {"value": 4321, "secret": True},
                  "shown": {"value": "not-secret", "secret": False}},
    "scenarios": {"browse": {"executor": "constant-vus", "vus": 1, "duration": "1s", "requests": [
        {"url": "/a", "headers": {"X-Api-Key": "{{api_key}}", "Cookie": "session=s3ss10n-v4lue"}},
        {"url": "/b", "method": "POST", "body": '{"token": "tok-abcdef-123"}',
         "headers": {"authorization": "Bearer {{api_key}}"}},
    ]}},
    "redis": {"password": "r3dis-pass"},
}


def test_every_kind_of_secret_is_found_and_nothing_else():
    found, _ = ps.find(CONFIG)
    assert {ps.field_name(p): v for p, v in found.items()} == {
        "variables.api_key.value": "key-0987654321",
        "variables.pin.value": 4321,
        "settings.baseUrl": "https://admin:hunter22@api.example.com/v1",
        "settings.headers.Authorization": "Bearer tok-abcdef-123",
        "scenarios.browse.requests[0].headers.Cookie": "session=s3ss10n-v4lue",
        "scenarios.browse.requests[1].body": '{"token": "tok-abcdef-123"}',   # the same token, pasted
        "redis.password": "r3dis-pass",
    }


@pytest.mark.parametrize("header", [
    pytest.param("{{api_key}}", id="template-only"),
    pytest.param("Bearer {{api_key}}", id="scheme-and-template"),
])
def test_a_header_of_templates_only_holds_no_secret(header):
    doc = {"settings": {"headers": {"Authorization": header}}}
    assert ps.find(doc)[0] == {}


def test_split_masks_keeps_the_rest_readable_and_restore_undoes_it():
    masked, clear = ps.split(CONFIG)
    assert masked["settings"]["baseUrl"] == "https://***@api.example.com/v1"
    assert masked["settings"]["headers"] == {"Authorization": "***", "Accept": "application/json"}
    assert masked["variables"]["api_key"] == {"value": "***", "secret": True}
    assert masked["variables"]["pin"]["value"] == "***"
    assert masked["variables"]["region"] == "eu"
    assert masked["scenarios"]["browse"]["requests"][1]["body"] == '{"token": "***"}'
    text = repr(masked)
    for value in ("hunter22", "tok-abcdef-123", "key-0987654321", "4321", "s3ss10n-v4lue", "r3dis-pass"):
        assert value not in text
    assert ps.restore(masked, clear) == CONFIG
    assert CONFIG["variables"]["api_key"]["value"] == "key-0987654321"      # the input is not changed


def test_a_config_without_secrets_is_returned_as_is():
    doc = {"name": "x", "scenarios": {}}
    assert ps.split(doc) == (doc, {})


@pytest.mark.parametrize("path, name", [
    (("scenarios", "a", "requests", 0, "headers", "Cookie"), "scenarios.a.requests[0].headers.Cookie"),
    (("variables", "k", "value"), "variables.k.value"),
    ((0, "x"), "[0].x"),
])
def test_field_names_read_like_config_errors(path, name):
    assert ps.field_name(path) == name


def test_paths_read_back_from_json_are_checked():
    assert ps.path_from_json(["a", 0, "b"]) == ("a", 0, "b")
    for bad in ([], "a.b", [True], [1.5], None):
        with pytest.raises(ValueError):
            ps.path_from_json(bad)


def test_set_at_refuses_a_path_the_document_does_not_have():
    with pytest.raises(KeyError, match="x\\[3\\]"):
        ps.set_at({"x": [1]}, ("x", 3), 0)


def test_values_keep_their_type_through_encoding():
    for value in ("text", 4321, 1.5, True):
        assert ps.decode_value(ps.encode_value(value)) == value
