"""report/csv_report, report/junit, report/html (and per-second failure classes in buckets).

Inputs are real results documents saved from real runs against the embedded target
(tests/fixtures; regenerate them when the results document grows):
- results-demo.json: `scripts/demo.py` (configs/demo.yaml): passed, phases steady + idle.
- results-failing.json: a 2 s warmup, then an arrival-rate ramp next to a ramping-vus
  scenario, half the requests failing (http_5xx, timeout), one threshold failed (exit 99);
  phases warmup, ramp-up, steady, ramp-down, idle; buckets carry `errors: {class: n}`;
  worker 0's event loop ran late once (a `lag` saturation warning).
- results-rich.json: one worker (`-w 1`), a 2 s warmup at 30 it/s, then
  browse: ramping-arrival-rate 20 → 500 it/s over 8 s, hold 2 s, down to 50 in 2 s,
    GET /delay/50 with maxVUs 12 (it cannot keep up: the knee, dropped iterations);
  flaky: 100 it/s of GET /status/503 for 1 s from 5 s (an error burst);
  slowpoke: 30 VUs of GET /delay/300 for 2 s from 9 s (a latency spike);
  hammer: 6000 it/s of GET /json for 3 s from 1 s (worker 0 near a full core);
  thresholds `rate < 0.01`, `rate < 0.05 over 2s`, `p(95) < 500`, `p95 < 120ms over 3s`,
  `count > 100 over 2s` on iterations. Exit 113 (efficiency under the floor).
"""

from __future__ import annotations

import copy
import csv
import html
import io
import json
import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lunge_mp.metrics.buckets import Bucket
from lunge_mp.report import csv_report, html as html_report, junit
from lunge_mp.report.csv_report import write_csv
from lunge_mp.report.html import render_html, write_html
from lunge_mp.report.junit import write_junit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EVIL = "</script><script>alert(1)</script>"
FAILING_PHASES = [("warmup", 0, 3), ("ramp-up", 3, 5), ("steady", 5, 8), ("ramp-down", 8, 9),
                  ("idle", 9, 10)]


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"results-{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def demo() -> dict:
    return load("demo")


@pytest.fixture
def failing() -> dict:
    return load("failing")


@pytest.fixture
def rich() -> dict:
    return load("rich")


@pytest.fixture(scope="module")
def plotly_stub() -> str:
    """A tiny stand-in for the 4.8 MB bundle where a test only inspects the markup."""
    return "window.Plotly = {newPlot: function () {}};"


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return reader.fieldnames or [], rows


# ---- buckets: failure classes per second --------------------------------------------

def test_bucket_errors_by_class_open_and_sealed():
    b = Bucket(3)
    b.add_errors("a", {"timeout": 2, "http_5xx": 1})
    b.add_errors("b", {"timeout": 1})
    b.add_errors("a", {})
    b.seal()
    b.add_errors("a", {"timeout": 1})          # a late report still counts
    d = b.as_dict()
    assert d["errors"] == {"http_5xx": 1, "timeout": 4}
    assert list(d["errors"]) == sorted(d["errors"])
    assert d["byScenario"]["a"]["errors"] == {"http_5xx": 1, "timeout": 3}
    assert d["byScenario"]["b"]["errors"] == {"timeout": 1}
    assert Bucket(0).as_dict()["errors"] == {}


def test_failing_fixture_error_classes_add_up(failing):
    for b in failing["buckets"]:
        assert sum(b["errors"].values()) == b["failures"]
    totals = {}
    for b in failing["buckets"]:
        if b["phase"] == "warmup":                 # the warmup is not in the run totals
            continue
        for cls, n in b["errors"].items():
            totals[cls] = totals.get(cls, 0) + n
    assert totals == failing["metrics"]["http_req_failed"]["byClass"]


# ---- CSV -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["demo", "failing"])
def test_csv_round_trip(tmp_path, name):
    results = load(name)
    path = tmp_path / "results.csv"
    write_csv(results, str(path))
    header, rows = read_csv(path)
    assert header == csv_report.columns(results)
    assert len(rows) == len(results["buckets"])
    assert path.read_bytes().count(b"\r\n") == len(rows) + 1          # RFC 4180 line ends
    for row, b in zip(rows, results["buckets"]):
        assert int(row["t"]) == b["t"]
        for col in ("requests", "failures", "iterations", "scheduled", "dropped", "activeVUs", "vus",
                    "targetVUs"):
            assert int(row[col]) == b[col], col
        assert float(row["targetRate"]) == b["targetRate"]
        for col, key in (("p50_ms", "p50"), ("p99_ms", "p99"), ("rt_p95_ms", "rtP95"), ("lag_p99_ms", "lagP99")):
            assert (row[col] == "") if b[key] is None else (float(row[col]) == b[key]), col
    assert rows[0]["time"].startswith(results["startTime"][:19])


def test_csv_columns_are_stable_and_ordered(demo, failing):
    a, b = csv_report.columns(demo), csv_report.columns(failing)
    assert a == b                      # documented error classes always present, same order
    assert a[:5] == ["t", "time", "phase", "requests", "failures"]
    assert a.index("errors_timeout") < a.index("errors_http_5xx") < a.index("iterations")
    assert a[-3:] == ["activeVUs", "vus", "targetVUs"]
    for b in demo["buckets"]:
        del b["phase"]
    assert "phase" not in csv_report.columns(demo)


def test_csv_error_columns(tmp_path, demo, failing):
    write_csv(failing, str(tmp_path / "f.csv"))
    _, rows = read_csv(tmp_path / "f.csv")
    for row, b in zip(rows, failing["buckets"]):
        err = {k[len("errors_"):]: int(v) for k, v in row.items() if k.startswith("errors_")}
        assert sum(err.values()) == b["failures"]
        assert err["http_5xx"] == b["errors"].get("http_5xx", 0)
    write_csv(demo, str(tmp_path / "d.csv"))
    _, rows = read_csv(tmp_path / "d.csv")
    assert all(v == "0" for row in rows for k, v in row.items() if k.startswith("errors_"))
    # results written before buckets carried classes: empty cells, not zeros
    for b in demo["buckets"]:
        del b["errors"]
    write_csv(demo, str(tmp_path / "d.csv"))
    _, rows = read_csv(tmp_path / "d.csv")
    assert all(v == "" for row in rows for k, v in row.items() if k.startswith("errors_"))


def test_csv_phase_unknown_class_and_quoting(tmp_path, failing):
    phases = [b["phase"] for b in failing["buckets"]]
    failing["buckets"][0]["phase"] = 'warm, "up"\nline'
    failing["buckets"][1]["errors"]["weird,class"] = 0
    write_csv(failing, str(tmp_path / "p.csv"))
    header, rows = read_csv(tmp_path / "p.csv")
    assert header[2] == "phase"
    assert header[header.index("errors_other") + 1] == "errors_weird,class"
    assert [r["phase"] for r in rows][1:] == phases[1:]
    assert rows[0]["phase"] == 'warm, "up"\nline'
    assert rows[1]["errors_weird,class"] == "0" and rows[2]["errors_weird,class"] == "0"
    assert len(rows) == len(failing["buckets"])


def test_csv_without_buckets(tmp_path, demo):
    demo["buckets"] = []
    write_csv(demo, str(tmp_path / "e.csv"))
    header, rows = read_csv(tmp_path / "e.csv")
    assert rows == [] and header[0] == "t"


# ---- JUnit -------------------------------------------------------------------------------

def parse_junit(path: Path) -> tuple[ET.Element, ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return root, suites[0]


def props(suite: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in suite.find("properties")}


def test_junit_passed(tmp_path, demo):
    write_junit(demo, str(tmp_path / "j.xml"))
    root, suite = parse_junit(tmp_path / "j.xml")
    cases = suite.findall("testcase")
    assert suite.get("name") == "Demo"
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("http_req_failed", "rate < 0.01"), ("http_req_duration", "p(95) < 500")]
    assert not suite.findall(".//failure")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "0")
    assert root.get("tests") == "2" and root.get("failures") == "0"
    p = props(suite)
    assert (p["runId"], p["exitCode"], p["status"]) == (demo["runId"], "0", "passed")
    assert float(suite.get("time")) == demo["durationSeconds"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp"))


def test_junit_failed_threshold(tmp_path, failing):
    write_junit(failing, str(tmp_path / "j.xml"))
    _, suite = parse_junit(tmp_path / "j.xml")
    cases = suite.findall("testcase")
    assert len(cases) == len(failing["thresholds"]) == 3
    failed = [c for c in cases if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [("http_req_failed", "rate < 0.01")]
    f = failed[0].find("failure")
    assert "observed 0.5" in f.get("message") and "rate < 0.01" in f.get("message")
    assert suite.get("failures") == "1" and suite.get("tests") == "3"
    assert suite.get("name") == failing["name"]                     # '<', '&', '"' round-trip
    assert props(suite)["exitCode"] == "99" and props(suite)["status"] == "failed"


@pytest.mark.parametrize("status,code,fails", [("passed", 0, False), ("aborted", 108, True),
                                               ("invalid", 104, True)])
def test_junit_without_thresholds(tmp_path, demo, status, code, fails):
    demo.update(thresholds=[], status=status, exitCode=code,
                abortReason=None if status == "passed" else "interrupted by SIGINT")
    write_junit(demo, str(tmp_path / "j.xml"))
    _, suite = parse_junit(tmp_path / "j.xml")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [junit.RUN_CASE]
    failure = cases[0].find("failure")
    assert (failure is not None) == fails
    if fails:
        assert "interrupted by SIGINT" in failure.get("message")
    assert suite.get("failures") == ("1" if fails else "0")


def test_junit_aborted_run_with_passing_thresholds_is_not_green(tmp_path, demo):
    demo.update(status="aborted", exitCode=108, abortReason="coordinator lost 2 workers")
    write_junit(demo, str(tmp_path / "j.xml"))
    _, suite = parse_junit(tmp_path / "j.xml")
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["rate < 0.01", "p(95) < 500", junit.RUN_CASE]
    assert suite.get("failures") == "1"


def test_junit_no_data_and_hostile_text(tmp_path, demo):
    demo["name"] = "bad \x00\x1b[31m name " + EVIL
    demo["thresholds"][0].update(ok=False, observed=None, metric="http_req_failed{request:\x07x}")
    write_junit(demo, str(tmp_path / "j.xml"))
    _, suite = parse_junit(tmp_path / "j.xml")               # still well-formed XML
    assert suite.get("name").startswith("bad \ufffd\ufffd[31m name </script>")
    f = suite.find(".//failure")
    assert "no data" in f.get("message")


# ---- HTML: helpers -----------------------------------------------------------------------

class Markup(HTMLParser):
    """Collects tags, URL-bearing attributes and the text of <script> elements."""

    URL_ATTRS = {"src", "href", "action", "formaction", "data", "poster", "srcset", "xlink:href",
                 "background", "manifest", "ping"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []
        self.scripts: list[tuple[dict, str]] = []
        self.tags: list[str] = []
        self._script: dict | None = None
        self._text: list[str] = []
        self.h1: list[str] = []
        self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        for k, v in attrs:
            if k in self.URL_ATTRS or k.startswith("on"):
                self.urls.append((tag, k, v or ""))
        if tag == "script":
            self._script, self._text = a, []
        if tag == "h1":
            self._in_h1 = True

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data):
        if self._script is not None:
            self._text.append(data)
        if self._in_h1:
            self.h1.append(data)


def parse(page: str) -> Markup:
    m = Markup()
    m.feed(page)
    m.close()
    return m


def embedded(m: Markup, element_id: str) -> dict:
    for attrs, text in m.scripts:
        if attrs.get("id") == element_id:
            assert attrs.get("type") == "application/json"
            return json.loads(text)
    raise AssertionError(f"no script#{element_id}")


# ---- HTML --------------------------------------------------------------------------------

def test_html_is_self_contained(tmp_path, demo):
    path = tmp_path / "report.html"
    write_html(demo, str(path))
    page = path.read_text(encoding="utf-8")
    m = parse(page)
    assert m.urls == []                          # no src/href/on* attribute anywhere
    for tag in ("link", "img", "iframe", "object", "embed", "base"):
        assert tag not in m.tags
    # markup and styles (everything outside <script> elements) name no URL at all
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S)
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/", markup, re.I)
    assert not re.search(r"@import|url\(", markup, re.I)
    # the Plotly bundle is inlined: one big classic script, then our code, which loads nothing
    code = [t for a, t in m.scripts if "type" not in a]
    assert len(code) == 2 and len(code[0]) > 1_000_000 and "Plotly" in code[0]
    assert not re.search(r"https?:|fetch\(|XMLHttpRequest|import\(", code[1])
    # and the browser is told to refuse any fetch (the bundle carries map-tile and topojson
    # URLs for trace types this report never draws)
    assert re.search(r'http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;;', markup)


def test_html_embeds_the_data(demo, plotly_stub):
    m = parse(render_html(demo, plotly_js=plotly_stub))
    doc = embedded(m, "lunge-results")
    assert doc == demo                            # the whole results document, losslessly
    charts = embedded(m, "lunge-chart-data")
    assert charts["t"] == [b["t"] + 0.5 for b in demo["buckets"]]
    # the trailing idle second (the last responses arriving) is a gap for the target and the
    # achieved rate, not a dive to 0; its request count stays
    steady = [b for b in demo["buckets"] if b["phase"] != "idle"]
    assert demo["buckets"][-1]["phase"] == "idle"
    assert charts["series"]["targetRate"] == [b["targetRate"] for b in steady] + [None]
    # achieved = open-model iterations only (not the closed scenario's)
    assert charts["series"]["openIterations"] == [b["byScenario"]["open"]["iterations"]
                                                  for b in steady] + [None]
    assert charts["series"]["vus"][-1] is None and charts["series"]["requests"][-1] == \
        demo["buckets"][-1]["requests"]
    assert charts["series"]["rtP50"][-1] is None   # a second without samples is a gap
    assert [(p["phase"], p["x0"], p["x1"]) for p in charts["phases"]] == [("steady", 0, 5), ("idle", 5, 6)]
    assert charts["errorsByClass"] is True and charts["errorClasses"] == []
    assert "".join(m.h1) == "Demo"


def test_html_tables_and_header(demo, failing, plotly_stub):
    page = render_html(failing, plotly_js=plotly_stub)
    assert "FAILED" in page and ">99<" in page
    assert "HTTP 503 from GET" in page                       # first error per class
    for name in failing["requests"]:
        assert html_report.esc(name) in page
    assert page.count('class="badge bad">FAIL<') == 1 and page.count('class="badge ok">PASS<') == 2
    assert "100.00%" in page                                 # efficiency
    page = render_html(demo, plotly_js=plotly_stub)
    assert "No failed requests." in page and "No warnings." in page


def test_html_worker_table_shows_loss_and_rejoin(demo, plotly_stub):
    doc = copy.deepcopy(demo)
    doc["workers"][0].update(lostAt=3.2, rejoinedAt=7.9, error="silent for 3.0 s")
    page = render_html(doc, plotly_js=plotly_stub)
    assert ">lost at<" in page and ">rejoined at<" in page
    assert ">3.2<" in page and ">7.9<" in page and "silent for 3.0 s" in page


def test_html_latency_distribution_from_hdr(demo):
    curves = html_report.chart_data(demo)["distribution"]
    names = [c["name"] for c in curves]
    assert names[:3] == ["all requests: service time", "all requests: response time (from schedule)",
                         "schedule lag"]
    assert set(names[3:]) == {"GET /delay/20", "GET /json"}
    m = demo["metrics"]
    for c, metric in zip(curves, ("http_req_duration", "http_req_response_time", "schedule_lag")):
        assert c["count"] == m[metric]["count"]
        assert c["y"] == sorted(c["y"])                       # percentiles never decrease
        assert c["y"][-1] == m[metric]["max"] and c["y"][0] == m[metric]["min"]
        assert c["p"][0] == 0.0 and c["p"][-1] == 100.0
        assert c["x"] == sorted(c["x"])
        i = min(range(len(c["p"])), key=lambda j: abs(c["p"][j] - 99.0))
        assert abs(c["p"][i] - 99.0) < 1e-6 and c["y"][i] == m[metric]["p99"]


def test_html_escapes_hostile_names(failing, plotly_stub):
    pwn = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
    failing["name"] = EVIL + " & " + pwn
    failing["runId"] = EVIL
    failing["abortReason"] = EVIL
    failing["warnings"] = [EVIL, pwn]
    failing["scenarios"][EVIL] = failing["scenarios"].pop("browse")
    key = next(iter(failing["requests"]))
    failing["requests"][key]["request"] = EVIL
    failing["metrics"]["http_req_failed"]["firstError"]["http_5xx"] = EVIL
    failing["thresholds"][0]["metric"] = EVIL
    for b in failing["buckets"]:
        if b["phase"] == "steady":
            b["phase"] = EVIL
        b["errors"][EVIL] = 1
        if "browse" in b["byScenario"]:
            b["byScenario"][EVIL] = b["byScenario"].pop("browse")
    failing["histograms"] = {k.replace("browse/", "browse/" + EVIL + "/", 1): v
                             for k, v in failing["histograms"].items()}
    page = render_html(failing, plotly_js=plotly_stub)
    assert EVIL not in page and pwn not in page
    assert "<img" not in page
    m = parse(page)
    assert [t for t in m.tags if t == "script"] == ["script"] * 4
    assert m.urls == []
    assert "".join(m.h1) == EVIL + " & " + pwn               # shown literally
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    doc = embedded(m, "lunge-results")                        # JSON survives verbatim
    assert doc["name"] == failing["name"] and doc["warnings"] == [EVIL, pwn]
    charts = embedded(m, "lunge-chart-data")
    labels = [c["name"] for c in charts["distribution"]] + [p["label"] for p in charts["phases"]]
    labels += [c[1] for c in charts["errorClasses"]] + [s[1] for s in charts["scenarios"]]
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in labels   # Plotly-safe labels
    assert not any("<" in label for label in labels)


def test_script_json_cannot_break_out():
    s = html_report.script_json({"a": "</script><!-- \u2028\u2029 & >", "n": float("nan"),
                                 "i": float("inf")})
    assert "<" not in s and ">" not in s and "&" not in s and "\u2028" not in s and "\u2029" not in s
    assert json.loads(s) == {"a": "</script><!-- \u2028\u2029 & >", "n": None, "i": None}


def test_html_phases_and_error_classes(failing, plotly_stub):
    data = html_report.chart_data(failing)
    assert [(p["phase"], p["x0"], p["x1"]) for p in data["phases"]] == FAILING_PHASES
    # achieved: the warmup's own iterations, then the open scenario's only
    # (and a gap in the trailing idle second, after the schedule's end)
    assert data["series"]["openIterations"] == [b["achievedRate"] for b in failing["buckets"][:-1]] + [None]
    assert [c for c, _ in data["errorClasses"]] == ["timeout", "http_5xx"]   # documented order
    assert data["errorsByClass"] is True
    assert data["series"]["err:http_5xx"] == [b["errors"].get("http_5xx", 0) for b in failing["buckets"]]
    page = render_html(failing, plotly_js=plotly_stub)
    assert 'class="phases"' in page and "ramp-down" in page
    assert "excluded from every figure but the charts" in page           # the warmup note
    for b in failing["buckets"]:                                          # no phases: no shading
        del b["phase"]
    assert html_report.chart_data(failing)["phases"] == []
    assert 'class="phases"' not in render_html(failing, plotly_js=plotly_stub)


def test_html_gaps_binning_and_empty_runs(demo, plotly_stub):
    gap = copy.deepcopy(demo)
    del gap["buckets"][2]                                        # no report for second 2
    data = html_report.chart_data(gap)
    assert data["t"] == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5] and data["series"]["requests"][2] is None

    long = copy.deepcopy(demo)
    row = long["buckets"][1]
    long["buckets"] = [dict(row, t=t) for t in range(10_000)]
    data = html_report.chart_data(long)
    assert data["bin"] == 3 and len(data["t"]) == math.ceil(10_000 / 3) <= html_report.MAX_POINTS
    assert data["series"]["requests"][0] == row["requests"]      # a rate stays a rate
    assert data["series"]["p99"][0] == row["p99"]
    m = parse(render_html(long, plotly_js=plotly_stub))
    doc = embedded(m, "lunge-results")
    assert doc["buckets"] == [] and doc["bucketsOmitted"] == 10_000

    empty = copy.deepcopy(demo)
    empty.update(buckets=[], histograms={}, requests={}, thresholds=[], status="aborted")
    page = render_html(empty, plotly_js=plotly_stub)
    assert "No requests were made." in page and "No thresholds were configured." in page

    broken = copy.deepcopy(demo)
    broken["histograms"]["open/GET /json/http_req_duration"] = "not base64!"
    broken["histograms"]["nonsense"] = "x"
    page = render_html(broken, plotly_js=plotly_stub)
    assert "not an encoded HDR histogram" in page and "nonsense" in page


# ---- HTML: load generator, anomalies, windowed thresholds, transport ---------------------

def test_html_load_generator_series(rich, demo):
    lg = html_report.chart_data(rich)["loadgen"]
    samples = rich["resources"]
    # a sample taken at t measures the second before it: drawn at t - 0.5, like that bucket
    assert lg["t"] == [s["t"] - 0.5 for s in samples] and lg["bin"] == 1
    assert lg["series"]["w:cpu:0"] == [s["workers"]["0"]["cpuPercent"] for s in samples]
    assert lg["series"]["w:rss:0"] == [s["workers"]["0"]["rssMB"] for s in samples]
    assert lg["series"]["coordinatorCpu"] == [s["coordinator"]["cpuPercent"] for s in samples]
    assert lg["series"]["boxCpu"] == [s["boxCpuPercent"] for s in samples]
    assert lg["workers"] == [["0", "worker 0"]] and lg["many"] is False
    # worker 0 at 94% CPU in the sample taken at 6 s (the warning's "first at 6s"): second 5
    hot = [s["t"] for s in samples if s["workers"]["0"]["cpuPercent"] >= 90]
    assert hot == [6] and "first at 6s" in " ".join(rich["warnings"])
    assert lg["saturation"] == [{"worker": "0", "kind": "cpu", "peak": 94.0, "seconds": 1, "first": 5}]
    assert lg["spans"] == [{"x0": 5, "x1": 6}]
    # the charts share one x axis: the load generator's grid is the buckets' grid
    assert set(lg["t"]) <= set(html_report.chart_data(rich)["t"])

    two = html_report.chart_data(demo)["loadgen"]
    assert [w for w, _ in two["workers"]] == ["0", "1"] and two["saturation"] == [] and two["spans"] == []


def test_html_load_generator_saturation_note(rich, failing, demo, plotly_stub):
    page = render_html(rich, plotly_js=plotly_stub)
    note = re.search(r'<div class="chart-note warn" id="saturation-note">(.*?)</div>', page, re.S).group(1)
    assert "worker 0 was near a full core (CPU ≥ 90%, up to 94%) for 1 second, first at 5–6 s" in note
    page = render_html(failing, plotly_js=plotly_stub)        # a late event loop, not CPU
    assert "worker 0&#x27;s event loop ran ≥ 50 ms late (up to 80.7 ms) for 1 second" in page
    assert 'id="saturation-note"' not in render_html(demo, plotly_js=plotly_stub)
    # without samples the warnings still tell
    del rich["resources"]
    page = render_html(rich, plotly_js=plotly_stub)
    assert html_report.chart_data(rich)["loadgen"]["present"] is False
    assert 'id="saturation-note"' in page and "worker 0 was near a full core in 1 second(s)" in page


def test_html_load_generator_many_workers_binning_and_gaps(demo, plotly_stub):
    sample = demo["resources"][0]
    many = copy.deepcopy(demo)
    many["resources"] = [dict(sample, t=t, workers={str(i): {"cpuPercent": 10.0 * i, "rssMB": 40.0 + i,
                                                             "loopLagMs": 60.0 if (i, t) == (3, 3) else 0.1}
                                                    for i in range(12) if not (i == 5 and t == 2)})
                         for t in (1, 2, 3)]
    lg = html_report.chart_data(many)["loadgen"]
    assert lg["many"] is True and [w for w, _ in lg["workers"]] == [str(i) for i in range(12)]
    assert lg["series"]["workersMaxCpu"] == [110.0] * 3
    assert lg["series"]["workersMeanCpu"] == [55.0, 55.5, 55.0]         # 610 / 11 without worker 5
    assert lg["series"]["workersTotalRss"] == [546.0, 501.0, 546.0]
    assert lg["series"]["w:cpu:5"] == [50.0, None, 50.0]            # a missing sample is a gap
    # workers 9, 10, 11 at 90% CPU or more every second; worker 3's loop late once (second 2)
    assert [(e["worker"], e["kind"], e["seconds"], e["first"]) for e in lg["saturation"]] == [
        ("3", "lag", 1, 2), ("9", "cpu", 3, 0), ("10", "cpu", 3, 0), ("11", "cpu", 3, 0)]
    assert lg["spans"] == [{"x0": 0, "x1": 3}]

    long = copy.deepcopy(demo)
    long["buckets"] = [dict(long["buckets"][1], t=t) for t in range(10_000)]
    long["resources"] = [dict(sample, t=t) for t in range(1, 10_001)]
    data = html_report.chart_data(long)
    lg = data["loadgen"]
    assert lg["bin"] == data["bin"] == 3 and lg["t"] == data["t"]
    m = parse(render_html(long, plotly_js=plotly_stub))
    doc = embedded(m, "lunge-results")
    assert doc["resources"] == [] and doc["resourcesOmitted"] == 10_000


def test_html_anomalies_section_and_marks(rich, demo, plotly_stub):
    marks = html_report.chart_data(rich)["anomalies"]
    assert [(a["kind"], a["x0"], a["x1"]) for a in marks] == [
        ("error_burst", 8, 9), ("knee", 8, 9), ("latency_spike", 12, 15)]   # [start, end + 1)
    assert [a["label"] for a in marks] == ["error burst", "knee", "latency spike"]
    page = render_html(rich, plotly_js=plotly_stub)
    section = page.split('<h2 id="anomalies">Anomalies</h2>', 1)[1].split("<h2>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)[1:]
    cells = [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]
    assert [c[:4] for c in cells] == [["error burst", "8 s", "1 s", "ramp-up"], ["knee", "8 s", "1 s", "ramp-up"],
                                      ["latency spike", "12–14 s", "3 s", "steady"]]
    assert cells[2][4] == rich["anomalies"][2]["detail"]
    assert page.index('<h2 id="anomalies">Anomalies</h2>') < page.index("<h2>Over time</h2>")
    assert "None found" in render_html(demo, plotly_js=plotly_stub)
    del demo["anomalies"]
    assert "does not record anomalies" in render_html(demo, plotly_js=plotly_stub)
    assert html_report.chart_data(demo)["anomalies"] == []


def test_html_windowed_thresholds(rich, demo, plotly_stub):
    rich["thresholds"].append({"metric": "http_req_duration{scenario:x}", "expression": "p95 < 1 over 5s",
                               "abortOnFail": True, "observed": 3.5, "ok": False,
                               "note": "this metric is not kept per second; judged on the whole run"})
    page = render_html(rich, plotly_js=plotly_stub)
    table = page.split('<h2 id="thresholds">Thresholds</h2>', 1)[1].split("<h2>", 1)[0]
    head = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table)]
    assert head == ["result", "metric", "expression", "observed", "window", "worst window",
                    "first failing window", "abort on fail"]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    cells = [[re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
             for r in rows]
    text = [[html.unescape(" ".join(c)) for c in row] for row in cells]
    assert text[0][4:7] == ["whole run", "–", "–"]                        # rate < 0.01
    assert text[1][1:] == ["http_req_failed", "rate < 0.05 over 2s", "0.1783 (17.83%) worst window",
                           "2 s sliding, 12 judged", "8–10 s", "7–9 s", "no"]
    assert text[3][4:7] == ["3 s sliding, 11 judged", "10–13 s", "10–13 s"]
    assert text[4][0] == "PASS" and text[4][4:7] == ["2 s sliding, 12 judged", "14–16 s", "none"]
    assert "judged on the whole run" in text[5][2] and text[5][4:] == ["whole run", "–", "–", "yes"]
    # no windowed threshold: no window columns
    page = render_html(demo, plotly_js=plotly_stub)
    assert "worst window" not in page and "first failing window" not in page


def test_html_header_transport_and_warmup_scenarios(rich, plotly_stub):
    page = render_html(rich, plotly_js=plotly_stub)
    assert '<span id="transport">fast</span>' in page and "httptools" in page
    rich["transport"] = EVIL
    page = render_html(rich, plotly_js=plotly_stub)
    assert EVIL not in page and '<span id="transport">&lt;/script&gt;' in page
    del rich["transport"]
    assert "not recorded in this results file" in render_html(rich, plotly_js=plotly_stub)
    # the warmup's "warmup:X" scenarios are drawn as X's lines, not as scenarios of their own
    data = html_report.chart_data(rich)
    assert [n for n, _ in data["scenarios"]] == ["browse", "flaky", "hammer", "slowpoke"]
    first = rich["buckets"][0]
    assert data["series"]["scn:p95:browse"][0] == first["byScenario"]["warmup:browse"]["p95"]
    assert data["series"]["scn:p95:browse"][3] == rich["buckets"][3]["byScenario"]["browse"]["p95"]


def test_html_hostile_workers_and_anomalies(failing, plotly_stub):
    failing["anomalies"] = [{"kind": EVIL, "start": 4, "end": 5, "detail": EVIL}]
    for sample in failing["resources"]:
        sample["workers"][EVIL] = sample["workers"].pop("1")
    failing["workers"][1]["id"] = EVIL
    page = render_html(failing, plotly_js=plotly_stub)
    assert EVIL not in page and "<img" not in page
    m = parse(page)
    assert [t for t in m.tags if t == "script"] == ["script"] * 4
    data = embedded(m, "lunge-chart-data")
    labels = [w[1] for w in data["loadgen"]["workers"]] + [a["label"] for a in data["anomalies"]]
    labels += [a["detail"] for a in data["anomalies"]]
    assert all("<" not in x for x in labels)
    assert "worker &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in labels
