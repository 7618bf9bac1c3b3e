"""The history store on a real SQLite file, and the history CLI end to end."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from lunge_mp.cli import main as cli
from lunge_mp.store import Store, StoreBusy, StoreError, default_store_path, record_after_run
from lunge_mp.store.history import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "compare_baseline.json"


@pytest.fixture
def doc() -> dict:
    return json.loads(FIXTURE.read_text())


def variant(doc: dict, run_id: str, latency: float = 1.0, error_rate: float | None = None,
            start: str | None = None) -> dict:
    """A copy with another runId, latencies × `latency`, every error rate set to `error_rate`."""
    out = copy.deepcopy(doc)
    out["runId"] = run_id
    if start:
        out["startTime"] = start
    for block in [out["metrics"], *out["scenarios"].values(), *out["requests"].values()]:
        d = block["http_req_duration"]
        for k, v in d.items():
            if k != "count" and v is not None:
                d[k] = v * latency
        if error_rate is not None:
            block["http_req_failed"]["rate"] = error_rate
    return out


# -- the store -------------------------------------------------------------------------------

def test_record_list_and_get(tmp_path, doc):
    db = tmp_path / "h.db"
    with Store(db) as store:
        first = store.record_run(variant(doc, "run-a", start="2026-01-01T03:00:00+00:00"))
        second = store.record_run(variant(doc, "run-b", latency=2.0, start="2026-01-02T03:00:00+00:00"))
        assert second != first
        runs = store.runs()
        assert [r["runId"] for r in runs] == ["run-b", "run-a"]            # newest first
        assert runs[0]["p95"] == pytest.approx(2 * doc["metrics"]["http_req_duration"]["p95"])
        assert runs[1] | {"recordedAt": None} == {
            "id": first, "runId": "run-a", "name": "Demo", "startTime": "2026-01-01T03:00:00+00:00",
            "status": "passed", "exitCode": 0, "durationSeconds": doc["durationSeconds"],
            "requests": doc["metrics"]["http_reqs"]["count"], "rate": doc["metrics"]["http_reqs"]["rate"],
            "errorRate": 0.0, "p50": doc["metrics"]["http_req_duration"]["p50"],
            "p95": doc["metrics"]["http_req_duration"]["p95"],
            "p99": doc["metrics"]["http_req_duration"]["p99"], "efficiency": 1.0,
            "profile": None, "profileVersion": None, "recordedAt": None}
        assert store.runs(limit=1)[0]["runId"] == "run-b"
        assert store.runs(name="Demo", limit=None) == runs
        assert store.runs(name="nope") == []
        got = store.get_run("run-a")
        assert got == variant(doc, "run-a", start="2026-01-01T03:00:00+00:00")
        assert store.get_run(first) == got                                  # row id works too
        assert store.get_run("no-such-run") is None
        with pytest.raises(StoreError, match="ambiguous"):
            store.resolve_run_id("run-")
        assert store.resolve_run_id("run-a") == "run-a"
        assert store.resolve_run_id(f"#{second}") == "run-b"


def test_histograms_are_not_stored_and_the_blob_is_compressed(tmp_path, doc):
    big = dict(doc, runId="with-hist", histograms={"x//http_req_duration": "H" * 200_000})
    with Store(tmp_path / "h.db") as store:
        store.record_run(big)
        assert "histograms" not in store.get_run("with-hist")
        (size,) = store._db.execute("SELECT length(results) FROM runs").fetchone()
    assert size < len(json.dumps(doc)) / 2


def test_recording_a_run_twice_stores_it_once(tmp_path, doc):
    with Store(tmp_path / "h.db") as store:
        assert store.record(doc) == (1, True)
        assert store.record(doc) == (1, False)
        assert store.record_run(copy.deepcopy(doc)) == 1
        assert len(store.runs()) == 1


def test_a_document_without_run_id_is_still_stored_once(tmp_path, doc):
    del doc["runId"]
    with Store(tmp_path / "h.db") as store:
        a, b = store.record_run(doc), store.record_run(copy.deepcopy(doc))
        assert a == b and store.runs()[0]["runId"].startswith("doc-")


def test_baselines_set_get_replace_delete(tmp_path, doc):
    with Store(tmp_path / "h.db") as store:
        assert store.get_baseline("nightly") is None and store.baselines() == []
        assert store.set_baseline("nightly", variant(doc, "one")) is None
        assert store.set_baseline("release", variant(doc, "two")) is None
        assert store.get_baseline("nightly")["runId"] == "one"
        assert store.set_baseline("nightly", variant(doc, "three")) == "one"     # replaced, says which
        assert [(b["name"], b["runId"], b["testName"]) for b in store.baselines()] == \
            [("nightly", "three", "Demo"), ("release", "two", "Demo")]
        assert store.delete_baseline("nightly") is True
        assert store.delete_baseline("nightly") is False
        assert store.get_baseline("nightly") is None
        assert store.runs() == []                      # a baseline is not a recorded run


@pytest.mark.parametrize("name,expected", [
    pytest.param("", "needs a name", id="empty"),
    pytest.param("   ", "needs a name", id="blank"),
    pytest.param("x" * 101, "keep it under", id="long"),
    pytest.param("a\nb", "control characters", id="newline"),
])
def test_bad_baseline_names(tmp_path, doc, name, expected):
    with Store(tmp_path / "h.db") as store, pytest.raises(StoreError, match=expected):
        store.set_baseline(name, doc)


def test_two_store_objects_on_one_file_see_each_other(tmp_path, doc):
    db = tmp_path / "h.db"
    a, b = Store(db), Store(db)
    try:
        a.record_run(variant(doc, "from-a"))
        b.record_run(variant(doc, "from-b"))
        b.record_run(variant(doc, "from-a"))                     # already there through a
        a.set_baseline("nightly", variant(doc, "from-a"))
        assert {r["runId"] for r in a.runs()} == {r["runId"] for r in b.runs()} == {"from-a", "from-b"}
        assert b.get_baseline("nightly")["runId"] == "from-a"
        assert b.delete_baseline("nightly") and a.get_baseline("nightly") is None
    finally:
        a.close()
        b.close()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_two_processes_writing_at_once(tmp_path, doc):
    """Each process records 30 runs of its own and the same shared one, and sets one baseline."""
    db = tmp_path / "h.db"
    src = tmp_path / "doc.json"
    src.write_text(json.dumps(doc))
    script = textwrap.dedent(f"""
        import json, sys
        from lunge_mp.store import Store
        doc = json.load(open({str(src)!r}))
        who = sys.argv[1]
        store = Store({str(db)!r})
        for i in range(30):
            store.record_run(dict(doc, runId=f"{{who}}-{{i}}"))
            store.record_run(dict(doc, runId="shared"))
            store.set_baseline("nightly", dict(doc, runId=f"{{who}}-{{i}}"))
            store.runs(limit=5)
        print("ok")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, who], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for who in ("a", "b")]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and out.strip() == "ok", err
    with Store(db) as store:
        ids = [r["runId"] for r in store.runs(limit=None)]
        assert len(ids) == len(set(ids)) == 61
        assert store.get_baseline("nightly")["runId"] in {"a-29", "b-29"}


def test_a_lock_held_too_long_is_store_busy_and_exit_1(tmp_path, doc, monkeypatch):
    import lunge_mp.store.history as history

    db = tmp_path / "h.db"
    Store(db).close()
    monkeypatch.setattr(history, "BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")            # another process mid-write, and stuck
    try:
        with Store(db) as store:
            assert store.runs() == []            # WAL: reading is not blocked
            with pytest.raises(StoreBusy, match="stayed locked by another process"):
                store.record_run(doc)
        src = tmp_path / "r.json"
        src.write_text(json.dumps(doc))
        r = CliRunner().invoke(cli, ["record", str(src), "--store", str(db)])
        assert r.exit_code == 1 and r.stderr.startswith("error: ") and "stayed locked" in r.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Store(db) as store:
        assert store.record_run(doc) == 1


def test_schema_version_and_refusing_a_newer_file(tmp_path):
    db = tmp_path / "h.db"
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
    with Store(db) as store:                        # opening again migrates nothing
        assert store.schema_version() == SCHEMA_VERSION
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer than this lunge_mp understands"):
        Store(db)


def test_a_file_that_is_not_a_database(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not SQLite\n" * 100)
    with pytest.raises(StoreError, match="not a usable lunge_mp history store"):
        Store(bad)


def test_default_path_follows_env_and_xdg(tmp_path):
    assert default_store_path({"LUNGE_MP_STORE": "/x/y.db", "XDG_DATA_HOME": "/d"}) == Path("/x/y.db")
    assert default_store_path({"XDG_DATA_HOME": "/d", "HOME": "/h"}) == Path("/d/lunge_mp/history.db")
    assert default_store_path({"XDG_DATA_HOME": "relative", "HOME": "/h"}) == \
        Path("/h/.local/share/lunge_mp/history.db")
    assert default_store_path({"HOME": "/h"}) == Path("/h/.local/share/lunge_mp/history.db")


def test_record_after_run_never_fails_the_run(tmp_path, doc, capsys):
    assert record_after_run(doc, tmp_path / "h.db") == 1
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert record_after_run(doc, blocker / "sub" / "h.db") is None     # parent is a file
    assert "warning: run not added to the history store" in capsys.readouterr().err


# -- the CLI ---------------------------------------------------------------------------------

@pytest.fixture
def run_cli(tmp_path):
    """`lunge-mp <history command>` through click, with the store in tmp_path via the env var."""
    runner = CliRunner()
    env = {"LUNGE_MP_STORE": str(tmp_path / "cli.db")}

    def invoke(*args: str):
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)
    return invoke


@pytest.fixture
def files(tmp_path, doc):
    """Results files: the baseline, a better run, a worse one (p95 +30%, errors 5%)."""
    out = {}
    for name, d in (("base", variant(doc, "base-run")), ("better", variant(doc, "better-run", latency=0.8)),
                    ("worse", variant(doc, "worse-run", latency=1.3, error_rate=0.05))):
        out[name] = tmp_path / f"{name}.json"
        out[name].write_text(json.dumps(d))
    return out


def test_cli_round_trip(run_cli, files, tmp_path):
    r = run_cli("baseline", "set", "nightly", str(files["base"]))
    assert r.exit_code == 0 and "baseline 'nightly' set: run base-run" in r.output

    r = run_cli("compare", str(files["better"]), "--baseline", "nightly")
    assert r.exit_code == 0, r.output
    assert "no regression" in r.output and "improved:  p95" in r.output

    out = tmp_path / "cmp.json"
    r = run_cli("compare", str(files["worse"]), "--baseline", "nightly", "--json", str(out))
    assert r.exit_code == 99, r.output
    assert "REGRESSED: p95" in r.output and "error_rate" in r.output
    data = json.loads(out.read_text())
    assert data["verdict"] == "regressed" and "p95" in data["regressed"]

    r = run_cli("compare", str(files["worse"]), "-b", "nightly", "--max-regression", "p95=50%", "--scope", "overall")
    assert r.exit_code == 0, r.output

    r = run_cli("compare", str(files["worse"]), "-b", "nightly", "--json", "-")
    assert r.exit_code == 99 and json.loads(r.stdout)["verdict"] == "regressed"

    r = run_cli("baseline", "list")
    assert r.exit_code == 0 and "nightly" in r.output and "base-run" in r.output
    assert json.loads(run_cli("baseline", "list", "--json").stdout)[0]["name"] == "nightly"
    r = run_cli("baseline", "show", "nightly")
    assert r.exit_code == 0 and "request GET /json" in r.output
    assert json.loads(run_cli("baseline", "show", "nightly", "--json").stdout)["runId"] == "base-run"

    r = run_cli("baseline", "delete", "nightly")
    assert r.exit_code == 0 and "deleted" in r.output
    r = run_cli("compare", str(files["better"]), "--baseline", "nightly")
    assert r.exit_code == 104 and "no baseline named 'nightly'" in r.output


def test_cli_record_and_history(run_cli, files):
    r = run_cli("record", str(files["base"]), str(files["worse"]))
    assert r.exit_code == 0 and r.output.count("recorded as #") == 2
    r = run_cli("record", str(files["base"]))
    assert r.exit_code == 0 and "already recorded as #1" in r.output
    r = run_cli("history")
    assert r.exit_code == 0 and "worse-run" in r.output and "base-run" in r.output
    rows = json.loads(run_cli("history", "--json", "--limit", "1").stdout)
    assert len(rows) == 1
    assert "no recorded test has a name containing 'nope'" in run_cli("history", "--name", "nope").output
    r = run_cli("baseline", "set", "from-history", "--run", "worse")     # a unique prefix
    assert r.exit_code == 0 and "run worse-run" in r.output
    r = run_cli("baseline", "set", "x", "--run", "nope")
    assert r.exit_code == 104 and "no recorded run 'nope'" in r.output


@pytest.mark.parametrize("args,expected", [
    pytest.param(("compare", "{base}", "-b", "unknown"), "no baseline named 'unknown'", id="unknown-baseline"),
    pytest.param(("compare", "{missing}", "-b", "nightly"), "cannot read results file", id="missing-file"),
    pytest.param(("compare", "{notjson}", "-b", "nightly"), "is not JSON", id="not-json"),
    pytest.param(("compare", "{notresults}", "-b", "nightly"), "not a lunge-mp results document", id="not-results"),
    pytest.param(("compare", "{base}", "-b", "nightly", "-r", "p95=-10%"), "--max-regression: 'p95=-10%'",
                 id="bad-rules"),
    pytest.param(("compare", "{base}"), "Missing option", id="no-baseline-option"),
    pytest.param(("baseline", "show", "nope"), "no baseline named 'nope'", id="show-unknown"),
    pytest.param(("baseline", "delete", "nope"), "(known: nightly)", id="delete-unknown"),
    pytest.param(("baseline", "set", "x"), "either a results file or --run", id="set-nothing"),
    pytest.param(("record", "{notresults}"), "not a lunge-mp results document", id="record-bad"),
    pytest.param(("history", "--store", "{notjson}"), "not a usable lunge_mp history store", id="bad-store"),
])
def test_cli_bad_input_exits_104_with_one_line(run_cli, files, tmp_path, args, expected):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    run_cli("baseline", "set", "nightly", str(files["base"]))
    paths = {"base": files["base"], "missing": tmp_path / "nope.json", "notjson": tmp_path / "bad.json",
             "notresults": tmp_path / "other.json"}
    r = run_cli(*(a.format(**paths) for a in args))
    assert r.exit_code == 104, r.output
    assert expected in r.stderr
    assert "Traceback" not in r.output


def test_cli_as_a_real_process_with_store_flag(tmp_path, files):
    """`python -m lunge_mp.cli`, the store given by --store, exit codes from the process."""
    env = {k: v for k, v in os.environ.items() if k != "LUNGE_MP_STORE"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "lunge_mp.cli", *args, "--store",
                               str(tmp_path / "p.db")], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
    assert run("baseline", "set", "nightly", str(files["base"])).returncode == 0
    assert run("compare", str(files["better"]), "--baseline", "nightly").returncode == 0
    worse = run("compare", str(files["worse"]), "--baseline", "nightly")
    assert worse.returncode == 99 and "REGRESSED: p95" in worse.stdout
    unknown = run("compare", str(files["worse"]), "--baseline", "nope")
    assert unknown.returncode == 104 and unknown.stderr.startswith("error: no baseline named 'nope'")
    assert "Traceback" not in unknown.stderr
    assert (tmp_path / "p.db").exists()


def test_help_explains_itself():
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"]).output
    for word in ("baseline", "compare", "history", "record"):
        assert word in top
    text = runner.invoke(cli, ["compare", "--help"]).output
    for word in ("--baseline", "--max-regression", "p95=10%", "pp", "99", "104", "LUNGE_MP_STORE"):
        assert word in text
