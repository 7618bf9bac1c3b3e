"""The report of a run with settings.timings: detailed, in headless Chromium: the latency table
shows the sending / waiting / receiving rows, and the page loads without a console message."""

from __future__ import annotations

import re

from tests.integration.test_html_browser import check_report, chromium, load_page  # noqa: F401
from tests.support import cli, read_json, write_config


def test_detailed_timings_rows_in_the_browser(chromium, tmp_path, target):  # noqa: F811
    target.reset()
    config = write_config(tmp_path, f"""
        name: phases in the browser
        settings: {{baseUrl: "{target.url}", timings: detailed}}
        scenarios:
          s:
            executor: constant-vus
            vus: 2
            duration: 2s
            requests: [{{name: slow, url: /delay/50}}]
        """)
    out, page = tmp_path / "results.json", tmp_path / "report.html"
    result = cli("run", str(config), "--workers", "1", "-q", "--out", str(out), "--html", str(page))
    assert result.returncode == 0, result.stderr
    count = read_json(out)["metrics"]["http_req_waiting"]["count"]
    dom, console = load_page(chromium, page, tmp_path)
    check_report(dom, console)
    for label in ("TLS handshaking", "sending", "waiting (time to first byte)", "receiving"):
        row = re.search(rf"<tr><td[^>]*>{re.escape(label)}</td><td[^>]*>([^<]*)</td>", dom)
        assert row, label
        assert row.group(1).replace(",", "") == str(count), (label, row.group(1))
