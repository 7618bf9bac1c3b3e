"""Remote workers' clocks in the HTML report (report/html/clock.py): the Workers table's drift
and applied-offset cells, the uncertainty warning at the coordinator's own threshold, the
chart of each offset over the run with its band, the escaping of what remote machines sent,
and nothing of it for a run of local workers only.

The input is the real demo results document (tests/fixtures/results-demo.json) with its two
workers made remote the way report/results.py writes them."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from lunge_mp.protocol.clock import WARN_UNCERTAINTY_NS
from lunge_mp.report.html import chart_data, render_html
from lunge_mp.report.html.clock import WARN_MS
from tests.unit.test_reports import embedded, parse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HOSTILE = "<img src=x onerror=alert(1)>"
PLOTLY_STUB = "window.Plotly = {newPlot: function () {}};"


def demo() -> dict:
    return json.loads((FIXTURES / "results-demo.json").read_text(encoding="utf-8"))


def remote_results(base: dict | None = None) -> dict:
    """Two remote workers: 0 on a hostile host whose offset was re-measured twice and moved
    (drift known), 1 measured once with an uncertainty over the warning threshold."""
    r = copy.deepcopy(base or demo())
    w0, w1 = r["workers"]
    w0.update(host=HOSTILE, name="eu-1/0", remote=True, clockOffsetMs=12.5, clockUncertaintyMs=0.25,
              clockRttMs=0.5, clockHistory=[[0.0, 12.5, 0.25], [2.0, 12.75, 0.125], [4.0, 12.9, 0.1]],
              clockAppliedOffsetMs=12.8, clockDriftPpm=100.0)
    w1.update(host="box-b", name="us-1/0", remote=True, clockOffsetMs=-3.25, clockUncertaintyMs=2.5,
              clockRttMs=5.0, clockHistory=[[0.0, -3.25, 2.5]], clockAppliedOffsetMs=None, clockDriftPpm=None)
    return r


def local_results() -> dict:
    """The demo run's two local workers as results.py writes them now."""
    r = demo()
    for w in r["workers"]:
        w.update(host="coordinator-box", name="", remote=False, clockOffsetMs=0, clockUncertaintyMs=0,
                 clockRttMs=0, clockHistory=[], clockAppliedOffsetMs=None, clockDriftPpm=None)
    return r


def workers_table(page: str) -> tuple[list[str], list[list[str]]]:
    """The Workers table's header and rows, as the cells' inner HTML."""
    start = page.index('<h3 class="sub">Workers</h3>')
    table = page[start:page.index("</table>", start)]
    head = re.findall(r"<th[^>]*>(.*?)</th>", table)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)[1:]]
    return head, rows


def test_threshold_is_the_coordinators():
    assert WARN_MS * 1e6 == WARN_UNCERTAINTY_NS


def test_table_shows_drift_and_applied_offset_of_remote_workers():
    head, rows = workers_table(render_html(remote_results(), plotly_js=PLOTLY_STUB))
    assert head[-4:] == ["clock offset", "clock drift", "applied offset", "error"]
    cells = [dict(zip(head, row)) for row in rows]
    assert cells[0]["clock offset"] == "+12.500 ms ± 0.250 ms"
    assert cells[0]["clock drift"] == "+100.00 ppm" and cells[0]["applied offset"] == "+12.800 ms"
    assert cells[0]["host"] == "&lt;img src=x onerror=alert(1)&gt;"
    assert cells[1]["clock offset"] == "-3.250 ms ± 2.500 ms"
    assert cells[1]["clock drift"] == '<span class="muted">–</span>'
    assert cells[1]["applied offset"] == '<span class="muted">not moved</span>'
    # numbers right-aligned, the error column still text
    table = render_html(remote_results(), plotly_js=PLOTLY_STUB)
    assert '<th class="num">clock drift</th><th class="num">applied offset</th><th class="">error</th>' in table


def test_a_local_worker_beside_remote_ones_shares_the_clock():
    r = remote_results()
    r["workers"][1].update(remote=False, clockOffsetMs=0, clockUncertaintyMs=0, clockHistory=[])
    head, rows = workers_table(render_html(r, plotly_js=PLOTLY_STUB))
    local = dict(zip(head, rows[1]))
    assert local["clock offset"] == "same clock"
    assert local["clock drift"] == local["applied offset"] == '<span class="muted">same clock</span>'
    labels = [w["label"] for w in chart_data(r)["clock"]["workers"]]
    assert labels == ["worker 0 (eu-1/0 on &lt;img src=x onerror=alert(1)&gt;)"]


def test_chart_data_steps_bands_and_hold_to_the_end():
    r = remote_results()
    end = max(b["t"] for b in r["buckets"]) + 1           # 6: the demo's last bucket is second 5
    clock = chart_data(r)["clock"]
    w0, w1 = clock["workers"]
    assert w0["t"] == [0.0, 2.0, 4.0, end]                  # the last estimate held to the run's end
    assert w0["dy"] == [0.0, 0.25, 0.4, 0.4]                # the change since the first measurement
    assert w0["lo"] == [-0.25, 0.125, 0.3, 0.3] and w0["hi"] == [0.25, 0.375, 0.5, 0.5]
    assert w0["hover"] == [[12.5, 0.25], [12.75, 0.125], [12.9, 0.1], [12.9, 0.1]]
    assert w0["measured"] == 3 and w0["visible"] is True
    assert w1["t"] == [0.0, end] and w1["dy"] == [0.0, 0.0] and w1["lo"] == [-2.5, -2.5]
    assert w1["hover"][0] == [-3.25, 2.5] and w1["measured"] == 1
    assert w1["label"] == "worker 1 (us-1/0 on box-b)"
    assert w0["label"] == "worker 0 (eu-1/0 on &lt;img src=x onerror=alert(1)&gt;)"   # Plotly-safe


def test_page_embeds_the_chart_and_escapes_the_host():
    page = render_html(remote_results(), plotly_js=PLOTLY_STUB)
    m = parse(page)
    assert HOSTILE not in page and "<img" not in page and m.urls == []
    assert [t for t in m.tags if t == "script"] == ["script"] * 4
    assert embedded(m, "lunge-chart-data")["clock"] == chart_data(remote_results())["clock"]
    assert embedded(m, "lunge-results")["workers"][0]["host"] == HOSTILE    # the document, verbatim
    assert page.count('id="chart-clock"') == 1
    assert page.index('<h3 class="sub">Workers</h3>') < page.index('id="chart-clock"')


def test_warning_names_workers_over_the_threshold():
    r = remote_results()
    page = render_html(r, plotly_js=PLOTLY_STUB)
    warning = re.search(r'<div class="banner warn" id="clock-warning">(.*?)</div>', page).group(1)
    assert f"over ± {WARN_MS:g} ms" in warning
    assert "worker 1 (us-1/0 on box-b) ± 2.5 ms" in warning and "worker 0" not in warning
    # a re-measurement over the threshold counts as well as the handshake's
    r["workers"][1].update(clockUncertaintyMs=0.5, clockHistory=[[0.0, -3.25, 0.5]])
    r["workers"][0]["clockHistory"][1][2] = WARN_MS + 0.5
    warning = re.search(r'id="clock-warning">(.*?)</div>', render_html(r, plotly_js=PLOTLY_STUB)).group(1)
    assert "worker 0 (eu-1/0 on &lt;img src=x onerror=alert(1)&gt;) ± 2.5 ms" in warning
    assert "worker 1" not in warning
    # at the threshold itself: no warning (the coordinator warns only above it)
    r["workers"][0]["clockHistory"][1][2] = WARN_MS
    assert 'id="clock-warning"' not in render_html(r, plotly_js=PLOTLY_STUB)


def test_no_chart_when_no_offset_was_measured_twice():
    r = remote_results()
    r["workers"][0].update(clockHistory=[[0.0, 12.5, 0.25]], clockDriftPpm=None)
    page = render_html(r, plotly_js=PLOTLY_STUB)
    assert "clock" not in chart_data(r) and 'id="chart-clock"' not in page
    assert "clock offsets over the run" not in page
    assert ">clock drift<" in page                           # the table's cells stay


@pytest.mark.parametrize("results", [local_results(), demo()], ids=["local", "before-remote-fields"])
def test_local_workers_only_show_nothing_new(results):
    page = render_html(results, plotly_js=PLOTLY_STUB)
    head, rows = workers_table(page)
    assert head[-2:] == ["clock offset", "error"] and len(rows) == 2
    assert all(dict(zip(head, row))["clock offset"] == "same clock" for row in rows)
    assert "clock" not in chart_data(results)
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S)
    for text in ("clock drift", "applied offset", "chart-clock", "clock-warning", "clock offsets over the run"):
        assert text not in markup, text
