"""worker/remote.py: a remote worker's copy of the plan's data files, and its preflight."""

from __future__ import annotations

import asyncio
import os
import stat
import textwrap

from lunge_mp.config import load_plan
from lunge_mp.scenario.data import read_table
from lunge_mp.worker.remote import local_data, preflight


def _plan(tmp_path, base_url="http://127.0.0.1:1", guard=""):
    (tmp_path / "ids.csv").write_text("n\n1\n2\n")
    (tmp_path / "users.json").write_text('[{"u": "a"}]')
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent(f"""
        name: t
        settings: {{baseUrl: "{base_url}"}}{guard}
        data: [{{name: ids, file: ids.csv, mode: unique}}]
        scenarios:
          s:
            executor: constant-vus
            vus: 1
            duration: 1s
            data: [{{name: users, file: users.json}}]
            requests: [{{url: "/{{{{ids.n}}}}/{{{{users.u}}}}"}}]
        """))
    return load_plan(path, environ={})


def test_the_data_files_are_copied_privately_and_the_plan_points_there(tmp_path):
    plan = _plan(tmp_path)
    files = {d.path: open(d.path, "rb").read() for d in plan.data + plan.scenarios[0].data}
    moved = local_data(plan, files)
    ids, users = moved.data[0], moved.scenarios[0].data[0]
    for source, original in ((ids, plan.data[0]), (users, plan.scenarios[0].data[0])):
        assert source.path != original.path and os.path.dirname(source.path) != str(tmp_path)
        assert read_table(source.path) == read_table(original.path)
        assert stat.S_IMODE(os.stat(source.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(source.path)).st_mode) == 0o700
    assert users.path.endswith(".json")
    assert local_data(plan, {}) is plan


def test_preflight_refuses_an_unresolvable_host_and_one_outside_allowed_hosts(tmp_path):
    assert asyncio.run(preflight(_plan(tmp_path))) is None
    problem = asyncio.run(preflight(_plan(tmp_path, "http://no-such-host.invalid")))
    assert "cannot resolve the target host 'no-such-host.invalid'" in problem
    problem = asyncio.run(preflight(_plan(tmp_path, guard="\n        guardrails: {allowedHosts: [example.com]}")))
    assert "not in guardrails.allowedHosts" in problem
