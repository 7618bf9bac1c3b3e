"""Templates in a structured body are filled leaf by leaf and JSON-encoded; a form body is
URL-encoded after substitution; a raw string body is sent as it is (issue 10 item 8).

A raw server keeps each body it receives; the test parses it as the target would and must get
every value back exactly: quotes, backslashes, non-ASCII, control characters, from a variable,
a data file and an extracted value."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from tests.raw_server import RawServer
from tests.support import cli, read_json, write_config

# what each source holds: quotes, a backslash, non-ASCII, NUL and other control characters,
# JSON and form syntax
VALUE = 'Ab"c\\dé€9xyz\x00\x1f\n\t\u2028"},{"x":1&a=b+c%20'
YAML_VALUE = 'Ab\\"c\\\\dé€9xyz\\0\\x1f\\n\\t\\u2028\\"},{\\"x\\":1&a=b+c%20'     # a double-quoted YAML string
CSV_VALUE = 'Q"uo\\te, é€ {"y": [1]}'
EXTRACTED = 'tok"en\\é€\x01'


@pytest.mark.parametrize("transport", ["fast", "aiohttp"])
def test_template_values_arrive_exactly_in_json_and_form_bodies(tmp_path, transport):
    (tmp_path / "rows.csv").write_text('v\n"' + CSV_VALUE.replace('"', '""') + '"\n', encoding="utf-8")
    with RawServer() as raw:
        raw.bodies[b"/token"] = EXTRACTED.encode()
        config = write_config(tmp_path, f"""
            name: bodies
            settings: {{baseUrl: "{raw.url}", transport: {transport}}}
            variables:
              tok: "{YAML_VALUE}"
              secret_tok: {{value: "{YAML_VALUE}", secret: true}}
            data: [{{name: rows, file: rows.csv}}]
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 1
                requests:
                  - name: token
                    url: /token
                    extract: [{{name: ex, source: body, regex: "(?s)(.*)"}}]
                  - name: json
                    method: POST
                    url: /json
                    body:
                      secret: "{{{{tok}}}}"
                      hidden: "{{{{secret_tok}}}}"
                      row: "{{{{rows.v}}}}"
                      extracted: "{{{{ex}}}}"
                      mixed: "<{{{{ex}}}}|{{{{rows.v}}}}>"
                      "{{{{rows.v}}}}": key
                      nested: {{list: ["{{{{tok}}}}", 1, 2.5, true, null]}}
                  - name: form
                    method: POST
                    url: /form
                    form: {{secret: "{{{{tok}}}}", row: "{{{{rows.v}}}}", extracted: "{{{{ex}}}}"}}
                  - name: raw
                    method: POST
                    url: /raw
                    body: 'raw {{{{ex}}}} stays "raw"'
            """)
        out = tmp_path / "r.json"
        proc = cli("run", str(config), "--out", str(out), "--no-history", "--workers", "1")
        bodies = {head.split(b" ")[1]: body for head, body in raw.requests}
    assert proc.returncode == 0, proc.stderr
    assert read_json(out)["metrics"]["http_req_failed"]["count"] == 0
    sent = json.loads(bodies[b"/json"])
    assert sent == {
        "secret": VALUE, "hidden": VALUE, "row": CSV_VALUE, "extracted": EXTRACTED,
        "mixed": f"<{EXTRACTED}|{CSV_VALUE}>", CSV_VALUE: "key",
        "nested": {"list": [VALUE, 1, 2.5, True, None]},
    }
    assert dict(parse_qsl(bodies[b"/form"].decode(), keep_blank_values=True, strict_parsing=True)) == {
        "secret": VALUE, "row": CSV_VALUE, "extracted": EXTRACTED}
    assert bodies[b"/raw"] == f'raw {EXTRACTED} stays "raw"'.encode()


def test_json_template_unit():
    from lunge_mp.scenario.bodies import JsonTemplate
    from lunge_mp.scenario.template import TemplateError

    t = JsonTemplate({"a": "{{v}}", "n": 10 ** 30, "l": [None, False, "x"]})
    assert not t.static and [x.source for x in t.templates()] == ["{{v}}"]
    assert json.loads(t.render({"v": VALUE})) == {"a": VALUE, "n": 10 ** 30, "l": [None, False, "x"]}
    assert JsonTemplate({"a": [1, {}]}).render({}) == b'{"a":[1,{}]}'
    assert JsonTemplate.from_text('{"k":"{{v}}"}').render({"v": '"'}) == b'{"k":"\\""}'
    with pytest.raises(TemplateError):
        t.render({"v": "\ud800"})
    for bad in (float("nan"), {1: "a"}, {"d": {1, 2}}):
        with pytest.raises((TypeError, ValueError)):
            JsonTemplate(bad)
