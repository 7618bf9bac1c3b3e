"""Nothing lunge-mp writes can replace a FIFO, a link or a kernel file (issue: "writing a report
can replace a device or a link"). Real CLI runs against the embedded target, which counts what
it received: every refusal comes before any traffic. No test here goes near a real device node;
FIFOs made with os.mkfifo stand in for them, and /proc and /sys paths are refused by path
before anything is opened."""

from __future__ import annotations

import json
import os
import stat

import pytest

from lunge_mp.safe_output import Refused, output_problem, write_atomic
from lunge_mp.store.audit import AuditLog
from tests.support import cli, read_json, write_config

FLAGS = ("--out", "--html", "--csv", "--junit")


def _config(tmp_path, target, output: str = "") -> str:
    return str(write_config(tmp_path, f"""
        name: outputs
        settings: {{baseUrl: "{target.url}"}}
        scenarios:
          api: {{executor: constant-arrival-rate, rate: 10, duration: 1s, requests: [{{url: /}}]}}
        {output}
        """))


def _is_fifo(path) -> bool:
    return stat.S_ISFIFO(os.lstat(path).st_mode)


@pytest.mark.parametrize("flag", FLAGS)
def test_a_fifo_given_as_a_report_is_refused_before_the_run(tmp_path, fresh_target, flag):
    fifo = tmp_path / "report.out"
    os.mkfifo(fifo)
    proc = cli("run", _config(tmp_path, fresh_target), flag, str(fifo), "--workers", "1", timeout=60)
    assert proc.returncode == 104, proc.stderr
    assert f"{flag}: " in proc.stderr and "FIFO" in proc.stderr and "Traceback" not in proc.stderr
    assert _is_fifo(fifo)
    assert fresh_target.stats()["requests"] == 0


def test_a_fifo_in_the_config_output_section_is_refused_naming_the_field(tmp_path, fresh_target):
    fifo = tmp_path / "r.html"
    os.mkfifo(fifo)
    config = _config(tmp_path, fresh_target, f'output: {{html: {{path: "{fifo}"}}}}')
    proc = cli("run", config, "--workers", "1", timeout=60)
    assert proc.returncode == 104 and "output.html.path: " in proc.stderr, proc.stderr
    assert _is_fifo(fifo) and fresh_target.stats()["requests"] == 0


@pytest.mark.parametrize("path", ["/proc/self/oom_score_adj", "/proc/self/fd/1", "/sys/kernel/lunge-test.json"])
def test_kernel_files_are_refused_before_any_traffic(tmp_path, fresh_target, path):
    proc = cli("run", _config(tmp_path, fresh_target), "--out", path, "--workers", "1", timeout=60)
    assert proc.returncode == 104, proc.stderr
    assert "--out: " in proc.stderr and "kernel file system" in proc.stderr
    assert fresh_target.stats()["requests"] == 0


def test_a_link_to_a_regular_file_is_followed_and_stays_a_link(tmp_path, fresh_target):
    real = tmp_path / "kept" / "results.json"
    real.parent.mkdir()
    real.write_text("{}")
    os.chmod(real, 0o640)
    link = tmp_path / "results-link.json"
    link.symlink_to(real)
    proc = cli("run", _config(tmp_path, fresh_target), "--out", str(link), "--workers", "1", timeout=120)
    assert proc.returncode in (0, 99), proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert read_json(real)["metrics"]["http_reqs"]["count"] == 10
    assert stat.S_IMODE(real.stat().st_mode) == 0o640                 # the file's mode is kept
    assert sorted(p.name for p in real.parent.iterdir()) == ["results.json"]   # no temp file left


def test_a_link_to_nothing_is_refused_not_replaced(tmp_path, fresh_target):
    link = tmp_path / "dangling.json"
    link.symlink_to(tmp_path / "nowhere" / "x.json")
    proc = cli("run", _config(tmp_path, fresh_target), "--out", str(link), "--workers", "1", timeout=60)
    assert proc.returncode == 104 and "link to nothing" in proc.stderr, proc.stderr
    assert link.is_symlink() and fresh_target.stats()["requests"] == 0


def test_a_link_placed_at_the_old_temporary_name_is_never_written_through(tmp_path, fresh_target):
    """Writers used to write FILE.tmp, then rename it: a link planted at FILE.tmp redirected the
    write to any file the user can write."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "results.json"
    (tmp_path / "results.json.tmp").symlink_to(victim)
    proc = cli("run", _config(tmp_path, fresh_target), "--out", str(out), "--workers", "1", timeout=120)
    assert proc.returncode in (0, 99), proc.stderr
    assert victim.read_text() == "precious"
    assert read_json(out)["metrics"]["http_reqs"]["count"] == 10


def test_the_report_and_compare_commands_refuse_a_fifo(tmp_path):
    results = os.path.join(os.path.dirname(__file__), "..", "fixtures", "results-demo.json")
    for flag in ("--html", "--csv", "--junit"):
        fifo = tmp_path / f"r{flag.strip('-')}"
        os.mkfifo(fifo)
        proc = cli("report", results, flag, str(fifo), "-q", timeout=60)
        assert proc.returncode == 104 and f"{flag}: " in proc.stderr and _is_fifo(fifo), proc.stderr
    store = tmp_path / "h.db"
    assert cli("baseline", "set", "b", results, "--store", str(store)).returncode == 0
    fifo = tmp_path / "cmp.json"
    os.mkfifo(fifo)
    proc = cli("compare", results, "-b", "b", "--json", str(fifo), "--store", str(store), timeout=60)
    assert proc.returncode == 104 and "--json: " in proc.stderr and _is_fifo(fifo), proc.stderr


def test_a_fifo_as_the_history_store_is_refused_before_the_run(tmp_path, fresh_target):
    fifo = tmp_path / "history.db"
    os.mkfifo(fifo)
    config = _config(tmp_path, fresh_target)
    proc = cli("run", config, "--workers", "1", env={"LUNGE_MP_STORE": str(fifo)}, timeout=60)
    assert proc.returncode == 104 and "history store" in proc.stderr and "--no-history" in proc.stderr
    assert fresh_target.stats()["requests"] == 0
    proc = cli("history", "--store", str(fifo), timeout=60)
    assert proc.returncode == 104 and "FIFO" in proc.stderr and _is_fifo(fifo)
    proc = cli("run", config, "--workers", "1", "--no-history", env={"LUNGE_MP_STORE": str(fifo)}, timeout=120)
    assert proc.returncode in (0, 99), proc.stderr


# -- the module itself -------------------------------------------------------------------------

def test_write_atomic_refuses_what_output_problem_refuses(tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    with pytest.raises(Refused, match="FIFO"):
        write_atomic(fifo, b"x")
    assert output_problem(tmp_path, "--out").startswith("--out: ") and "folder" in output_problem(tmp_path)
    assert "kernel file system" in output_problem("/proc/self/environ")
    assert output_problem(tmp_path / "new.json") is None
    write_atomic(tmp_path / "new.json", json.dumps({"a": 1}).encode())
    assert read_json(tmp_path / "new.json") == {"a": 1}


def test_the_audit_log_never_writes_into_a_fifo(tmp_path):
    fifo = tmp_path / "audit.log"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        AuditLog(fifo).record("start")
    assert _is_fifo(fifo)
