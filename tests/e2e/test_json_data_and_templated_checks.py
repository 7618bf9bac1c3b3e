"""A JSON data file feeds templates, and an assertion's value compares with a data column and
with a value extracted earlier in the iteration: checks counted at the target's echo."""

from __future__ import annotations

import json

from tests.support import cli, write_config


def test_json_rows_and_templated_assertion_values(fresh_target, tmp_path):
    (tmp_path / "users.json").write_text(json.dumps(
        [{"name": "ann", "age": 31}, {"name": "bob", "age": 42}, {"name": "cy", "age": 7}]))
    config = write_config(tmp_path, f"""
        name: json data
        settings: {{baseUrl: "{fresh_target.url}"}}
        data: [{{name: users, file: users.json, mode: unique}}]
        scenarios:
          s:
            executor: shared-iterations
            vus: 1
            iterations: 3
            requests:
              - name: first
                url: /json
                extract: [{{name: firstId, source: body, path: "$.items.0.id"}}]
              - name: echo
                method: POST
                url: /post
                headers: {{Content-Type: application/json}}
                body: '{{"who": "{{{{users.name}}}}", "age": {{{{users.age}}}}, "first": {{{{firstId}}}}}}'
                assertions:
                  - {{type: body, path: $.json.who, condition: eq, value: "{{{{users.name}}}}"}}
                  - {{type: body, path: $.json.age, condition: eq, value: "{{{{users.age}}}}"}}
                  - {{type: body, path: $.json.first, condition: eq, value: "{{{{firstId}}}}"}}
                  - {{type: body, path: $.json.who, condition: matches, value: "^{{{{users.name}}}}$"}}
        """)
    out = tmp_path / "results.json"
    proc = cli("run", str(config), "-w", "1", "-q", "--no-history", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert doc["requests"]["echo"]["checks"] == {"passes": 12, "fails": 0, "rate": 1.0}
    assert fresh_target.stats()["byPath"] == {"/json": 3, "/post": 3}   # counted at the target


def test_unknown_name_in_an_assertion_value_is_refused(fresh_target, tmp_path):
    config = write_config(tmp_path, f"""
        name: bad
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          s:
            executor: shared-iterations
            vus: 1
            iterations: 1
            requests:
              - url: /json
                assertions: [{{type: body, path: $.id, condition: eq, value: "{{{{nobody}}}}"}}]
        """)
    proc = cli("validate", str(config))
    assert proc.returncode == 104
    assert "scenarios.s.requests[0].assertions[0].value: unknown template value '{{nobody}}'" in proc.stderr
