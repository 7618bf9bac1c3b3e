"""The live dashboard in a real browser: Debian's headless Chromium driven by Playwright (no
browser is downloaded), `lunge-mp serve` as a real process, a real run against the embedded
target. The test starts a test from the page's form, sees the charts gain points, pauses and
resumes, stops it with the button, sees the completion, and saves screenshots in its tmp dir.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update"]


@pytest.fixture()
def browser():
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        pytest.skip("!!! chromium is missing: the dashboard is NOT checked in a browser. "
                    "Install Debian's package `chromium` (make system-deps) !!!")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the Python package playwright is missing (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def server(tmp_path):
    env = dict(os.environ, LUNGE_MP_STORE=str(tmp_path / "history.db"), PYTHONUNBUFFERED="1")
    err = open(tmp_path / "serve.err", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "serve", "--port", "0", "--workers", "1",
                             "--data-dir", str(tmp_path / "runs")], stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None:
            err.seek(0)
            found = re.search(r"on (http://127\.0\.0\.1:\d+/)", err.read())
            url = found.group(1) if found else None
            if url is None:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.05)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()


def _wait(page, expression: str, timeout: int) -> None:
    """Poll a JS expression with page.evaluate (CDP evaluation: the page's CSP forbids the
    eval that wait_for_function would need) until it is true; fail after `timeout` ms."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(50)


def test_dashboard_starts_watches_pauses_and_stops_a_run(browser, server, fresh_target, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server)
    page.fill("#config", f"name: browser run\nscenarios:\n  load:\n    executor: constant-arrival-rate\n"
                         f"    rate: 30\n    duration: 60s\n    preAllocatedVUs: 4\n"
                         f"    requests:\n      - url: {fresh_target.url}/\n")
    page.click("#start")
    _wait(page, "document.getElementById('status').dataset.status === 'running'", timeout=20_000)
    _wait(page, "document.getElementById('chart-rate').data[1].x.length >= 4", timeout=30_000)
    _wait(page, "document.getElementById('chart-latency').data[1].y.some(v => v > 0)", timeout=10_000)
    page.screenshot(path=str(tmp_path / "dashboard-running.png"))
    # no failure yet: the failures chart says so, on the run's time axis like the others
    _wait(page, "document.getElementById('chart-failures').layout.xaxis.range[1] === 60", timeout=10_000)
    assert page.evaluate("document.getElementById('chart-failures').layout.xaxis.range[0]") == 0
    assert "no failures" in page.text_content("#chart-failures")

    page.click("#pause")
    _wait(page, "document.getElementById('status').dataset.status === 'paused'", timeout=10_000)
    _wait(page, "window.lungeDash.paused.length >= 2", timeout=15_000)     # paused seconds are shaded
    page.click("#resume")
    _wait(page, "document.getElementById('status').dataset.status === 'running'", timeout=10_000)
    points = page.evaluate("document.getElementById('chart-rate').data[1].x.length")
    _wait(page, f"document.getElementById('chart-rate').data[1].x.length > {points + 2}", timeout=15_000)

    # a background tab draws nothing (animation frames wait there) but keeps every point,
    # and draws them when shown again
    page.evaluate("Object.defineProperty(document, 'hidden', {value: true, configurable: true})")
    points = page.evaluate("document.getElementById('chart-rate').data[1].x.length")
    _wait(page, f"document.getElementById('chart-rate').data[1].x.length > {points + 1}", timeout=15_000)
    page.evaluate("delete document.hidden; document.dispatchEvent(new Event('visibilitychange'))")
    drawn = page.evaluate("document.getElementById('chart-rate').calcdata[1].length")   # what Plotly drew
    assert drawn >= points + 2, (drawn, points)

    page.click("#stop")
    _wait(page, "document.getElementById('status').textContent.startsWith('completed')", timeout=60_000)
    assert "aborted (exit 105)" in page.text_content("#status")
    assert "/report" in page.text_content("#message")
    page.screenshot(path=str(tmp_path / "dashboard-done.png"), full_page=True)
    assert (tmp_path / "dashboard-done.png").stat().st_size > 10_000
    assert page.evaluate("window.lungeDash.messages") >= 8
    listed = page.text_content("#tests")
    assert "browser run" in listed
    assert not problems, problems
    shots = os.environ.get("LUNGE_MP_SCREENSHOT_DIR")    # to refresh docs/dashboard.png by hand
    if shots:
        shutil.copy(tmp_path / "dashboard-done.png", Path(shots) / "dashboard.png")
