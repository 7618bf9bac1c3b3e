"""Every report from a real run, from the config's output section, and re-rendered later."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

from tests.support import cli, read_json, write_config


def test_run_writes_every_report_and_report_rerenders_them(tmp_path, fresh_target):
    config = write_config(tmp_path, f"""
        name: reports
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          api: {{executor: constant-arrival-rate, rate: 20, duration: 2s, requests: [{{url: "/json"}}]}}
        thresholds:
          http_req_failed: ["rate < 0.01"]
          http_req_duration: ["p(99) < 1ms"]
        output:
          html: {{enabled: true, path: "{tmp_path}/from-config.html"}}
        """)
    paths = {k: tmp_path / f"r.{k}" for k in ("json", "csv", "xml")}
    proc = cli("run", str(config), "--out", str(paths["json"]), "--csv", str(paths["csv"]),
               "--junit", str(paths["xml"]), "--workers", "2")
    assert proc.returncode in (0, 99), proc.stderr
    for p in (*paths.values(), tmp_path / "from-config.html"):
        assert p.exists() and p.stat().st_size > 0, p
    results = read_json(paths["json"])
    rows = list(csv.DictReader(paths["csv"].open()))
    assert sum(int(r["requests"]) for r in rows) == results["metrics"]["http_reqs"]["count"] == 40
    suite = ET.parse(paths["xml"]).getroot().find("testsuite")
    assert len(suite.findall("testcase")) == 2
    assert "from-config.html" in proc.stdout

    again = tmp_path / "again.html"
    proc = cli("report", str(paths["json"]), "--html", str(again))
    assert proc.returncode == 0, proc.stderr
    assert again.stat().st_size > 100_000 and "reports" in proc.stdout


def test_report_refuses_a_file_that_is_not_results(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    proc = cli("report", str(bad), "--html", str(tmp_path / "x.html"))
    assert proc.returncode == 104 and "not a lunge-mp results file" in proc.stderr
    proc = cli("report", str(tmp_path / "missing.json"))
    assert proc.returncode == 104 and "cannot read" in proc.stderr


def test_unwritable_report_path_is_refused_before_any_traffic(tmp_path, fresh_target):
    config = write_config(tmp_path, f"""
        name: x
        scenarios:
          api: {{executor: constant-vus, vus: 1, duration: 1s, requests: [{{url: "{fresh_target.url}/"}}]}}
        """)
    proc = cli("run", str(config), "--html", "/nonexistent/dir/r.html")
    assert proc.returncode == 104 and "not a writable folder" in proc.stderr
    assert fresh_target.stats()["requests"] == 0
