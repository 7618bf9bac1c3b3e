"""The HTML report leads with the verdict, laid out by a real browser (Debian's headless
Chromium): the reason a run failed is in the first screen, and the widest table fits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lunge_mp.report.html import render_html
from tests.integration.test_html_browser import FIXTURES, chromium, load_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(300)

FIRST_SCREEN_PX = 900          # a laptop's first screen at 1,400 px wide
# appended to a copy of the report: the layout figures, written into the DOM for --dump-dom
PROBE = """<script>
const v = document.getElementById("verdict").getBoundingClientRect();
const wraps = [...document.querySelectorAll(".table-wrap")].map(w => w.scrollWidth - w.clientWidth);
const out = document.createElement("pre");
out.id = "probe";
out.textContent = JSON.stringify({verdictTop: v.top, verdictBottom: v.bottom, overflow: wraps,
                                  width: document.documentElement.clientWidth});
document.body.appendChild(out);
</script>"""


def layout(chromium: str, results: dict, tmp_path: Path) -> tuple[dict, str]:
    page = tmp_path / "report.html"
    page.write_text(render_html(results).replace("</body>", PROBE + "</body>"))
    dom, console = load_page(chromium, page, tmp_path)
    assert console == [], console
    probe = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert probe, "the layout probe did not run"
    return json.loads(probe.group(1)), dom


def test_a_failed_run_says_why_in_the_first_screen(chromium, tmp_path):
    failing = json.loads((FIXTURES / "results-failing.json").read_text())
    figures, dom = layout(chromium, failing, tmp_path)
    assert figures["verdictBottom"] <= FIRST_SCREEN_PX, figures
    verdict = dom[dom.index('id="verdict"'):dom.index('id="cards"')]
    assert "1 of 3 thresholds failed" in verdict
    assert "http_req_failed" in verdict and "observed 0.5 (50.00%)" in verdict
    assert "ran its event loop over 50 ms late" in verdict             # the warning, quoted


def test_an_invalid_run_and_its_reason_lead_the_page(chromium, tmp_path):
    rich = json.loads((FIXTURES / "results-rich.json").read_text())
    rich.update(status="invalid", exitCode=113)
    rich["warnings"] = ["run invalid: the load generator started 50.00% of the scheduled iterations, "
                        "below options.minEfficiency 90%; the target was not tested at the asked load"]
    figures, dom = layout(chromium, rich, tmp_path)
    assert figures["verdictBottom"] <= FIRST_SCREEN_PX, figures
    verdict = dom[dom.index('id="verdict"'):dom.index('id="cards"')]
    assert "INVALID" in verdict and "started 50.00% of the scheduled iterations" in verdict


def test_no_table_overflows_at_1400_px(chromium, tmp_path):
    rich = json.loads((FIXTURES / "results-rich.json").read_text())
    figures, _ = layout(chromium, rich, tmp_path)
    assert figures["width"] >= 1300
    assert figures["overflow"] and max(figures["overflow"]) <= 0, figures     # every table fits
