"""junit.xml: thresholds as test cases, for CI servers (Jenkins junit step, GitLab
artifacts:reports:junit).

    <testsuites name="lunge_mp" tests failures errors skipped time>
      <testsuite name="<test name>" tests failures errors="0" skipped="0" time timestamp hostname>
        <properties> runId, exitCode, status, abortReason, source, startTime, ... </properties>
        <testcase classname="<metric>" name="<expression>" time="0">
          <failure type="threshold" message="observed 0.12, expected rate &lt; 0.01"/>  (not ok)
        </testcase>
        ...
        <system-out> one-paragraph run summary </system-out>
      </testsuite>
    </testsuites>

Without thresholds there is one test case, "run completed", that fails when the run was
aborted or invalid. With thresholds, an aborted/invalid run gets that test case too (and it
fails), so a CI job never shows green for a run that did not finish. Text that XML 1.0
cannot carry (control characters in user-supplied names or error messages) is replaced.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

ABNORMAL_STATUSES = ("aborted", "invalid")
RUN_CASE = "run completed"
RUN_CLASS = "lunge_mp.run"

# Characters XML 1.0 forbids, even escaped.
_XML_BAD = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(v: object) -> str:
    return _XML_BAD.sub("\ufffd", "" if v is None else str(v))


def _num(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


def _timestamp(iso: str | None) -> str | None:
    """JUnit's timestamp is an xs:dateTime without a zone: UTC, seconds."""
    if not iso:
        return None
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return t.isoformat(timespec="seconds")


def _summary(results: dict) -> str:
    m = results.get("metrics") or {}
    reqs = m.get("http_reqs") or {}
    failed = m.get("http_req_failed") or {}
    dur = m.get("http_req_duration") or {}
    lines = [
        f"{results.get('name', '')}: {results.get('status', '?')} (exit {results.get('exitCode')})"
        f" after {_num(results.get('durationSeconds'))}s",
        f"requests {_num(reqs.get('count'))} ({_num(reqs.get('rate'))}/s), "
        f"failed {_num(failed.get('count'))} (rate {_num(failed.get('rate'))})",
        f"http_req_duration p50 {_num(dur.get('p50'))} ms, p95 {_num(dur.get('p95'))} ms, "
        f"p99 {_num(dur.get('p99'))} ms, max {_num(dur.get('max'))} ms",
    ]
    if results.get("abortReason"):
        lines.append(f"stopped early: {results['abortReason']}")
    for t in results.get("thresholds") or []:
        lines.append(f"{'ok  ' if t.get('ok') else 'FAIL'} {t.get('metric')}: {t.get('expression')}"
                     f" (observed {_num(t.get('observed'))})")
    lines += [f"warning: {w}" for w in results.get("warnings") or []]
    return "\n".join(lines) + "\n"


def build_junit(results: dict) -> ET.Element:
    """The <testsuites> element for a results document."""
    status = str(results.get("status", ""))
    thresholds = results.get("thresholds") or []
    duration = _num(results.get("durationSeconds") or 0)

    cases: list[tuple[str, str, ET.Element | None]] = []   # (classname, name, failure)
    for t in thresholds:
        failure = None
        if not t.get("ok"):
            observed = t.get("observed")
            expected = f"{t.get('metric')}: {t.get('expression')}"
            msg = (f"no data to evaluate {expected}" if observed is None
                   else f"observed {_num(observed)}, expected {t.get('expression')}")
            failure = ET.Element("failure", {"type": "threshold", "message": _x(msg)})
            failure.text = _x(f"threshold {expected}\nobserved: {_num(observed)}\n"
                              f"abortOnFail: {bool(t.get('abortOnFail'))}\n"
                              f"run status: {status} (exit {results.get('exitCode')})\n")
        name = f"{t.get('expression', '')} (default)" if t.get("default") else t.get("expression", "")
        cases.append((_x(t.get("metric", "")), _x(name), failure))
    if not thresholds or status in ABNORMAL_STATUSES:
        failure = None
        if status in ABNORMAL_STATUSES or (not thresholds and status != "passed"):
            reason = results.get("abortReason") or f"status {status}"
            failure = ET.Element("failure", {"type": f"run {status}", "message": _x(
                f"run {status} (exit {results.get('exitCode')}): {reason}")})
            failure.text = _x(_summary(results))
        cases.append((RUN_CLASS, RUN_CASE, failure))

    failures = sum(1 for *_, f in cases if f is not None)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0", "skipped": "0",
              "time": duration}
    root = ET.Element("testsuites", {"name": "lunge_mp", **counts})
    suite_attrs = {"name": _x(results.get("name") or "lunge_mp run"), **counts}
    ts = _timestamp(results.get("startTime"))
    if ts:
        suite_attrs["timestamp"] = ts
    host = (results.get("tool") or {}).get("host")
    if host:
        suite_attrs["hostname"] = _x(host)
    suite = ET.SubElement(root, "testsuite", suite_attrs)

    props = ET.SubElement(suite, "properties")
    tool = results.get("tool") or {}
    for name, value in (("runId", results.get("runId")), ("exitCode", results.get("exitCode")),
                        ("status", status), ("abortReason", results.get("abortReason")),
                        ("source", results.get("source")), ("startTime", results.get("startTime")),
                        ("endTime", results.get("endTime")),
                        ("durationSeconds", results.get("durationSeconds")),
                        ("tool", f"{tool.get('name', 'lunge_mp')} {tool.get('version', '')}".strip())):
        if value is not None:
            ET.SubElement(props, "property", {"name": name, "value": _x(value)})

    for classname, name, failure in cases:
        case = ET.SubElement(suite, "testcase", {"classname": classname, "name": name, "time": "0"})
        if failure is not None:
            case.append(failure)
    out = ET.SubElement(suite, "system-out")
    out.text = _x(_summary(results))
    return root


def write_junit(results: dict, path: str) -> None:
    """Write the thresholds of a results document to `path` as JUnit XML (UTF-8)."""
    from lunge_mp.safe_output import write_atomic

    root = build_junit(results)
    ET.indent(root)
    write_atomic(path, ET.tostring(root, encoding="utf-8", xml_declaration=True))
