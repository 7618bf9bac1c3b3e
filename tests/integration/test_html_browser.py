"""report.html in a real browser: headless Chromium loads the file offline, the charts draw
and nothing is written to the console.

How errors are seen: `chromium --headless --enable-logging=stderr --dump-dom` prints every
console message (console.log/warn/error, uncaught exceptions, Content-Security-Policy
violations such as a blocked network fetch) to stderr as `...:CONSOLE...] "message",
source: ...`, and the dumped DOM shows what the page built. A successful report logs
nothing, so any console line fails the test. `test_detector_sees_errors` proves on broken
pages that this detection works, so a silent pass means something.

Chromium is Debian's `chromium` package, installed by `make system-deps` (which `make test`
runs first); when it is missing the tests skip saying which package to install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lunge_mp.report.html import CHARTS, chart_data, write_html

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CHROMIUM = "/usr/bin/chromium"
CONSOLE = re.compile(r":CONSOLE[^\]]*\]\s*(.*)")
EVIL = "</script><script>alert(1)</script>"


@pytest.fixture(scope="session")
def chromium() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        pytest.skip("!!! HEADLESS CHROMIUM UNAVAILABLE — HTML report NOT checked in a browser. "
                    "Install Debian's package `chromium` (make system-deps, as root) !!!")
    return path


def load_page(chromium: str, page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """(the DOM after load, the console messages) of a local file in headless Chromium."""
    profile = tmp_path / f"profile-{page.stem}"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--window-size=1400,3000", "--dump-dom", page.resolve().as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"chromium exited {r.returncode}:\n{r.stderr[-3000:]}"
    console = [m.group(1) for line in r.stderr.splitlines() if (m := CONSOLE.search(line))]
    return r.stdout, console


def count(dom: str, pattern: str) -> int:
    return len(re.findall(pattern, dom))


def test_detector_sees_errors(chromium, tmp_path):
    """The method itself: an uncaught exception, console.error and a blocked external fetch
    are all seen; a clean page yields nothing."""
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><div id=ok>rendered</div>"
                      "<script>undefinedFunction();</script></body></html>")
    dom, console = load_page(chromium, broken, tmp_path)
    assert 'id="ok"' in dom
    assert any("Uncaught ReferenceError" in c and "undefinedFunction" in c for c in console), console

    noisy = tmp_path / "noisy.html"
    noisy.write_text("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                     "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
                     "<img src=\"https://example.invalid/x.png\">"
                     "<script>console.error('chart failed');</script></body></html>")
    _, console = load_page(chromium, noisy, tmp_path)
    assert any("chart failed" in c for c in console), console
    assert any("Content Security Policy" in c and "example.invalid" in c for c in console), console

    clean = tmp_path / "clean.html"
    clean.write_text("<!DOCTYPE html><html><body><p>fine</p><script>var x = 1;</script></body></html>")
    _, console = load_page(chromium, clean, tmp_path)
    assert console == []


def check_report(dom: str, console: list[str]) -> None:
    assert console == [], "console output while loading the report:\n" + "\n".join(console)
    for cid, _, _ in CHARTS:                     # every chart div became a Plotly plot with SVG
        m = re.search(rf'<div class="chart js-plotly-plot" id="{cid}"><div class="plot-container plotly"'
                      rf'.*?<svg class="main-svg"', dom, re.S)
        assert m, f"chart {cid} was not drawn"
    assert count(dom, r'class="plot-container plotly"') == len(CHARTS)
    assert count(dom, r'<svg class="main-svg"') >= 2 * len(CHARTS)
    assert '<div id="js-errors" role="alert"></div>' in dom      # nothing reported by the page
    assert 'class="chart-error"' not in dom


def chart(dom: str, cid: str) -> str:
    """The DOM of one drawn chart (up to the next chart)."""
    start = dom.index(f'<div class="chart js-plotly-plot" id="{cid}">')
    end = dom.find('<div class="chart js-plotly-plot"', start + 1)
    return dom[start:end if end > 0 else len(dom)]


def shapes(dom: str, cid: str) -> int:
    """Plotly layout shapes drawn in a chart (phase shading, anomaly spans and lines, ...)."""
    return count(chart(dom, cid), r'<path data-index="\d+" fill-rule="evenodd"')


TIME_CHARTS = [cid for cid, _, _ in CHARTS if cid != "chart-dist"]


def expected_shapes(results: dict, phases: int) -> dict[str, int]:
    """Phases shaded in every time chart; anomalies on the latency chart (the knee also on
    the rate chart); saturated seconds on the latency and load generator charts, the latter
    with its 90% CPU line."""
    data = chart_data(results)
    want = {cid: phases for cid in TIME_CHARTS}
    want["chart-dist"] = 0
    want["chart-latency"] += len(data["anomalies"])
    want["chart-rate"] += sum(a["kind"] == "knee" for a in data["anomalies"])
    want["chart-latency"] += len(data["loadgen"]["spans"])             # a strip on the axis
    want["chart-loadgen"] += 1 + 2 * len(data["loadgen"]["spans"])     # 90% line; shade + strip
    return want


def test_demo_report_draws_every_chart(chromium, tmp_path):
    results = json.loads((FIXTURES / "results-demo.json").read_text(encoding="utf-8"))
    page = tmp_path / "demo.html"
    write_html(results, str(page))
    dom, console = load_page(chromium, page, tmp_path)
    check_report(dom, console)
    assert count(dom, r'class="trace scatter') >= 20
    # 2 phases (steady, idle) shaded in each time chart, no anomalies, no saturation
    assert {cid: shapes(dom, cid) for cid, _, _ in CHARTS} == expected_shapes(results, 2)
    assert expected_shapes(results, 2)["chart-loadgen"] == 3
    assert '<h1 id="run-name">Demo</h1>' in dom and "PASSED" in dom
    loadgen = chart(dom, "chart-loadgen")
    for name in ("coordinator CPU %", "worker 0 CPU %", "worker 1 RSS MB", "box CPU %"):
        assert f'data-unformatted="{name}"' in loadgen, name
    assert 'id="saturation-note"' not in dom


def test_rich_report_marks_anomalies_and_saturation(chromium, tmp_path):
    """Warmup, a ramp with its knee, an error burst, a latency spike, a saturated worker,
    windowed thresholds: all drawn, nothing on the console."""
    results = json.loads((FIXTURES / "results-rich.json").read_text(encoding="utf-8"))
    page = tmp_path / "rich.html"
    write_html(results, str(page))
    dom, console = load_page(chromium, page, tmp_path)
    check_report(dom, console)
    want = expected_shapes(results, 5)       # warmup, ramp-up, steady, ramp-down, idle
    assert (want["chart-latency"], want["chart-rate"], want["chart-loadgen"]) == (5 + 3 + 1, 5 + 1, 5 + 1 + 2)
    assert {cid: shapes(dom, cid) for cid, _, _ in CHARTS} == want
    latency = chart(dom, "chart-latency")
    for label in ("latency spike", "error burst", "knee"):
        assert f'data-unformatted="{label}"' in latency, label
    assert 'data-unformatted="knee"' in chart(dom, "chart-rate")
    assert 'data-unformatted="worker 0 CPU %"' in chart(dom, "chart-loadgen")
    assert 'data-unformatted="load generator saturated"' in latency
    assert 'id="saturation-note"' in dom and "worker 0 was near a full core" in dom
    assert '<span id="transport">fast</span>' in dom


def test_failing_report_with_phases_and_hostile_names(chromium, tmp_path):
    results = json.loads((FIXTURES / "results-failing.json").read_text(encoding="utf-8"))
    pwn = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\">"
    script = "</script><script>document.documentElement.setAttribute('data-pwned','2')</script>"
    results["name"] = EVIL + pwn + script
    results["warnings"] = [pwn, script]
    results["metrics"]["http_req_failed"]["firstError"]["timeout"] = script
    results["transport"] = pwn
    results["anomalies"] = [{"kind": pwn, "start": 4, "end": 5, "detail": script},
                            {"kind": "knee", "start": 6, "end": 6, "detail": pwn}]
    for sample in results["resources"]:
        sample["workers"][pwn] = sample["workers"].pop("1")
    for b in results["buckets"]:
        b["errors"][pwn] = 1
        if b["phase"] == "steady":
            b["phase"] = script
    page = tmp_path / "failing.html"
    write_html(results, str(page))
    dom, console = load_page(chromium, page, tmp_path)
    check_report(dom, console)
    assert "data-pwned" not in dom.split("<head>", 1)[0]          # neither payload ran
    assert "<img" not in dom
    assert count(dom, r'class="trace bars') == 4     # http_5xx, timeout, the hostile class; dropped
    # warmup, ramp-up, steady (renamed), ramp-down, idle in each time chart; the 2 anomalies;
    # worker 0's late event loop
    want = expected_shapes(results, 5)
    assert (want["chart-latency"], want["chart-rate"], want["chart-loadgen"]) == (5 + 2 + 1, 5 + 1, 5 + 1 + 2)
    assert {cid: shapes(dom, cid) for cid, _, _ in CHARTS} == want
    assert ("<h1 id=\"run-name\">&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x"
            in dom)                                                  # shown as text
    assert "worker 0's event loop ran" in dom


def test_results_from_before_resources_and_anomalies(chromium, tmp_path):
    """`lunge-mp report` re-renders old results files: no `resources`, `anomalies` or
    `transport` still draws every chart, saying what is missing."""
    results = json.loads((FIXTURES / "results-demo.json").read_text(encoding="utf-8"))
    for key in ("resources", "anomalies", "transport", "scenarioWindows", "measuredFrom", "wallSeconds"):
        del results[key]
    page = tmp_path / "old.html"
    write_html(results, str(page))
    dom, console = load_page(chromium, page, tmp_path)
    check_report(dom, console)
    assert "no resource samples in this results file" in chart(dom, "chart-loadgen")
    assert "does not record anomalies" in dom and "not recorded in this results file" in dom


def _checks_and_generator_results(tmp_path: Path, target) -> dict:
    """A real run with assertions that hold and fail, a template error and a unique data file
    that runs out (checks, dataExhausted in the buckets); load generator errors (out of
    sockets) cannot be caused cheaply, so a few are added the way results.py writes them."""
    from tests.support import run_config

    (tmp_path / "users.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(4)))
    proc, results = run_config(tmp_path, f"""
        name: checks and generator errors
        settings: {{baseUrl: "{target.url}"}}
        data: [{{name: users, file: users.csv, mode: unique}}]
        scenarios:
          api:
            executor: constant-arrival-rate
            rate: 20
            duration: 2s
            requests:
              - name: home
                url: "/?u={{{{users.id}}}}"
                assertions: [{{type: status, condition: eq, value: 200}}]
              - name: down
                url: /status/503
                assertions: [{{type: status, condition: eq, value: 200}}]
          steady:
            executor: constant-vus
            vus: 1
            duration: 2s
            requests:
              - {{name: fetch, url: /json, extract: [{{name: tok, source: body, path: $.nope}}]}}
              - {{name: use, url: "/?t={{{{tok}}}}"}}
        """, "-q", workers=1)
    assert proc.returncode == 99, proc.stderr    # failing on purpose: the default http_req_failed threshold
    assert results["metrics"]["checks"]["fails"] == 4 and results["metrics"]["checks"]["passes"] == 4
    assert sum(b.get("dataExhausted", 0) for b in results["buckets"]) > 0
    busy = [b for b in results["buckets"] if b["requests"]][:2]
    for b in busy:
        b["generatorErrors"] = 3
        b["byScenario"]["steady"]["generatorErrors"] = 3
    for block in (results["metrics"], results["scenarios"]["steady"], results["requests"]["fetch"]):
        block["generator_errors"] = {"count": 6, "firstError": "[Errno 24] Too many open files"}
    return results


def test_checks_and_load_generator_errors_are_shown(chromium, tmp_path, target):
    target.reset()
    results = _checks_and_generator_results(tmp_path, target)
    page = tmp_path / "new.html"
    write_html(results, str(page))
    dom, console = load_page(chromium, page, tmp_path)
    check_report(dom, console)
    errors = chart(dom, "chart-errors")
    assert 'data-unformatted="load generator errors"' in errors
    assert 'data-unformatted="template"' in errors                    # a failed request's class
    assert 'data-unformatted="of which: unique data ran out"' in chart(dom, "chart-dropped")
    # checks per run (a card), per scenario and per request (the tables)
    cards = dom[dom.index('id="cards"'):]
    assert re.search(r'<div class="card-k">Checks</div><div class="card-v">50\.00%</div>'
                     r'<div class="card-s">4 passed, 4 failed</div>', cards), cards[:2000]
    scenarios = dom[dom.index('<table class="scenarios">'):]
    scenarios = scenarios[:scenarios.index("</table>")]
    assert "checks passed" in scenarios and "load generator errors" in scenarios
    assert '<span class="checks bad">50.00%</span>' in scenarios and "4 / 8 passed" in scenarios
    assert '<span class="muted">none</span>' in scenarios           # `steady` has no assertions
    requests = dom[dom.index('<table class="requests">'):]
    requests = requests[:requests.index("</table>")]
    assert '<span class="checks ok">100.00%</span>' in requests       # home
    assert '<span class="checks bad">0.00%</span>' in requests        # down
    assert 'id="generator-errors"' in dom and "Too many open files" in dom
    assert "not sent: a {{name}} had no value" in dom


def test_results_from_before_checks_and_generator_errors(chromium, tmp_path, target):
    """A results file from before `checks`, `generator_errors` and the new bucket fields still
    renders, saying what it does not record."""
    target.reset()
    results = _checks_and_generator_results(tmp_path, target)
    for group in (results["scenarios"], results["requests"]):
        for block in group.values():
            block.pop("checks", None)
            block.pop("generator_errors", None)
    del results["metrics"]["checks"], results["metrics"]["generator_errors"]
    for b in results["buckets"]:
        for key in ("generatorErrors", "checksPassed", "checksFailed", "dataExhausted"):
            b.pop(key, None)
            for s in b["byScenario"].values():
                s.pop(key, None)
    page = tmp_path / "old-checks.html"
    write_html(results, str(page))
    dom, console = load_page(chromium, page, tmp_path)
    check_report(dom, console)
    assert "not recorded in this results file" in dom[dom.index('id="cards"'):]
    assert 'data-unformatted="load generator errors"' not in chart(dom, "chart-errors")
    assert 'id="generator-errors"' not in dom
