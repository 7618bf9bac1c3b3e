"""The remote workers' clock chart in a real browser (Debian's headless Chromium, as in
test_html_browser.py): drawn with its bands and markers beside every other chart, nothing on
the console, and a hostile host name shown as text, never run."""

from __future__ import annotations

import re

import pytest

from lunge_mp.report.html import CHARTS, write_html
from tests.integration.test_html_browser import chart, chromium, count, load_page  # noqa: F401 (fixture)
from tests.unit.test_report_clock import remote_results

pytestmark = pytest.mark.timeout(300)

PWN = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\">"


def test_clock_chart_draws_without_console_errors(chromium, tmp_path):
    results = remote_results()
    results["workers"][0]["host"] = PWN
    page = tmp_path / "clock.html"
    write_html(results, str(page))
    dom, console = load_page(chromium, page, tmp_path)
    assert console == [], "console output while loading the report:\n" + "\n".join(console)
    assert '<div id="js-errors" role="alert"></div>' in dom and 'class="chart-error"' not in dom
    for cid in [c for c, _, _ in CHARTS] + ["chart-clock"]:
        assert re.search(rf'<div class="chart js-plotly-plot" id="{cid}"><div class="plot-container plotly"'
                         rf'.*?<svg class="main-svg"', dom, re.S), f"chart {cid} was not drawn"
    assert count(dom, r'class="plot-container plotly"') == len(CHARTS) + 1
    clock = chart(dom, "chart-clock")
    # one band a worker (offset ± uncertainty, filled), a marker at each measurement (4) and
    # none where the last estimate is held to the run's end (2)
    assert count(clock, r'<path class="js-fill" d="M') == 2
    assert count(clock, r'<path class="point[^>]* d="M3,0A3,3') == 4
    assert count(clock, r'<path class="point[^>]* d="M0,0A0,0') == 2
    assert 'data-unformatted="worker 1 (us-1/0 on box-b)"' in clock
    assert 'data-unformatted="worker 0 (eu-1/0 on &amp;lt;img src=x onerror=' in clock   # as text
    assert "data-pwned" not in dom.split("<head>", 1)[0] and "<img" not in dom
    assert 'id="clock-warning"' in dom
