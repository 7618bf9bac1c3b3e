"""Config input fuzzed through the `lunge-mp run` path up to the first packet: file text → loader →
plan → the checks that need the whole plan (`explain.load_or_explain`), then what the coordinator
builds from a plan before spawning anything (guardrail caps and notes, the redactor). Every
document gives a plan, or exit 104 with `error:` lines on stderr; never a traceback.

Then hostile inputs (sizes, anchor bombs, deep nesting, huge numbers, control characters),
each refused by `lunge-mp validate` in a child process within bounds of memory and CPU time."""

from __future__ import annotations

import json
import os
import resource
import string
import subprocess
import sys
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunge_mp import limits
from lunge_mp import warmup
from lunge_mp.coordinator.guarding import RunGuard
from lunge_mp.plan import Plan
from lunge_mp.redact import Redactor
from lunge_mp.explain import load_or_explain

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.integers(10**12, 10**40), st.text(max_size=12),
    st.text(alphabet="ab\x00\x07\x1b\u202e\u2066\x85\t", max_size=6),   # control and bidi characters
    st.sampled_from(["5s", "1h", "0s", "-1s", "10m", "http://127.0.0.1:1/", "/x", "{{baseUrl}}/a", "*.a.b", "*",
                     "10.0.0.0/8", "[::1]:80", "a*b", "${HOME}", "${NOPE:-d}", "${NOPE}", "p95 < 5", "ramp",
                     "constant-arrival-rate", "constant-vus", "pattern", ""]))
_json = st.recursive(_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), children, max_size=4)), max_leaves=20)

def _maybe(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a valid value, one time in ten anything."""
    return st.integers(0, 9).flatmap(lambda i: _json if i == 0 else valid)


_guardrails = st.fixed_dictionaries({}, optional={
    "maxRate": _maybe(st.integers(1, 100_000)), "maxTotalRequests": _maybe(st.integers(1, 10**7)),
    "maxDuration": _maybe(st.sampled_from(["1s", "2h", 30])), "maxMemoryMB": _maybe(st.integers(1, 10**5)),
    "maxCPUPercent": _maybe(st.floats(0.01, 100)), "emergencyStop": _maybe(st.booleans()),
    "emergency_stop": _maybe(st.booleans()),
    "warnThresholds": _maybe(st.fixed_dictionaries({}, optional={
        "rate": st.floats(0.01, 1), "memory": st.floats(0.01, 1), "cpu_warning": st.floats(0.01, 1)})),
    "allowedHosts": _maybe(st.lists(st.sampled_from(
        ["127.0.0.1", "localhost", "*.example.com", "10.0.0.0/8", "[::1]:80", "*", "h:1"]), max_size=3)),
})
_urls = st.sampled_from(["/a", "http://localhost:1/b", "http://u:p@127.0.0.1:1/c", "/d?k={{key}}",
                         "http://{{host}}:1/e", "{{next}}"])
_request = st.fixed_dictionaries({"url": _maybe(_urls)}, optional={
    "headers": st.fixed_dictionaries({}, optional={"Authorization": st.sampled_from(["Bearer {{key}}", "x"])}),
    "extract": st.just([{"name": "next", "source": "header", "path": "Location"}])})
_open = st.fixed_dictionaries({
    "executor": st.sampled_from(["constant-arrival-rate"]), "rate": _maybe(st.integers(1, 200_000)),
    "duration": _maybe(st.sampled_from(["1s", "2s", 3])), "requests": st.lists(_request, min_size=1, max_size=3)},
    optional={"maxVUs": _maybe(st.integers(1, 10**5)), "startTime": _maybe(st.sampled_from(["0s", "1s"]))})
_ramp = st.fixed_dictionaries({
    "executor": st.just("ramping-arrival-rate"), "requests": st.lists(_request, min_size=1, max_size=2),
    "stages": _maybe(st.lists(st.fixed_dictionaries({"duration": st.sampled_from(["1s", "0s", "2s"]),
                                                      "target": st.integers(0, 50_000)}), min_size=1, max_size=3))})
_pattern = st.fixed_dictionaries({
    "executor": st.just("pattern"), "requests": st.lists(_request, min_size=1, max_size=2),
    "pattern": _maybe(st.one_of(
        st.fixed_dictionaries({"type": st.just("sine"), "duration": st.just("3s"), "baseRate": st.integers(10, 9000),
                               "amplitude": st.integers(0, 10), "period": st.just("1s")}),
        st.fixed_dictionaries({"type": st.just("ramp"), "duration": st.just("2s"), "startRate": st.integers(1, 5000),
                               "endRate": st.integers(1, 50_000),
                               "rampType": st.sampled_from(["linear", "exponential", "logarithmic"])})))})
_closed = st.fixed_dictionaries({
    "executor": st.just("constant-vus"), "vus": _maybe(st.one_of(st.integers(1, 100), st.integers(10**5, 10**30))),
    "duration": _maybe(st.just("1s")),
    "requests": st.lists(_request, min_size=1, max_size=2)})
_documents = st.fixed_dictionaries(
    {"name": _maybe(st.just("fuzz")),
     "scenarios": st.dictionaries(st.sampled_from(["a", "b", "c"]), st.one_of(_open, _ramp, _pattern, _closed),
                                  min_size=1, max_size=3),
     "settings": st.fixed_dictionaries({"baseUrl": _maybe(st.sampled_from(["http://127.0.0.1:1", "http://x:y@h"]))}),
     "variables": st.fixed_dictionaries({"key": _maybe(st.one_of(st.text(min_size=1, max_size=10), st.fixed_dictionaries(
         {"value": st.text(min_size=1, max_size=10), "secret": st.booleans()}))), "host": st.just("127.0.0.1")})},
    optional={"guardrails": _maybe(_guardrails), "options": _maybe(st.fixed_dictionaries(
        {"sequential": st.booleans()}, optional={"warmup": st.fixed_dictionaries({"duration": st.just("1s"),
                                                                                  "rate": st.integers(1, 100)})}))})


def _check(tmp_path, text: str, capsys, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_text(text)
    plan = load_or_explain(str(path), {})
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if plan is None:
        assert err.startswith("error: ") and len(err.splitlines()) >= 2, err
        return
    assert isinstance(plan, Plan)
    guard = RunGuard(plan, warmup.with_warmup(plan), warmup.offset(plan))
    assert set(guard.caps) <= {s.name for s in guard.worker_plan.scenarios}
    Redactor.for_plan(plan).doc({"x": [plan.name, plan.source]})


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(doc=_documents, as_json=st.booleans())
def test_structured_documents_give_a_plan_or_exit_104(tmp_path, capsys, doc, as_json: bool) -> None:
    text = json.dumps(doc, allow_nan=True) if as_json else yaml.safe_dump(doc, allow_unicode=True)
    _check(tmp_path, text, capsys, ".json" if as_json else ".yaml")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=200), st.text(alphabet=string.printable + "{}[]:-\n\t'\"&*!|>%@`",
                                                       max_size=300)))
def test_arbitrary_text_gives_a_plan_or_exit_104(tmp_path, capsys, text: str) -> None:
    _check(tmp_path, text, capsys, ".yaml")


# -- hostile inputs: each is refused with exit 104, fast and small ------------------------------
# `lunge-mp validate` runs in a child process under RLIMIT_AS 512 MB (a MemoryError or a kill
# there fails the test) and its CPU time is read from wait4: a refusal costs well under a
# second of CPU (about 0.5 s measured, most of it starting Python); 3 s leaves room for a busy
# machine without letting a 20 s parse through. Before these limits the anchor bomb took 17 s
# and ended in a MemoryError under the same limit, a FIFO as the config hung, and a 1 GB CSV
# line was read whole.

_AS_LIMIT = 512 * 1024 * 1024
_CPU_BOUND_S = 3.0
_HEAD = ('name: hostile\nsettings: {baseUrl: "http://127.0.0.1:1"}\nscenarios:\n  a:\n'
         '    executor: constant-vus\n    vus: 1\n    duration: 1s\n')


def _scenario(extra: str = "", request: str = "      - url: /\n") -> str:
    return _HEAD + extra + "    requests:\n" + request


def _bomb(levels: int = 9) -> str:
    body = '        body:\n          l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, levels):
        body += f"          l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]\n"
    return _scenario(request="      - url: /\n        method: POST\n" + body)


def _merge_bomb() -> str:
    text = "a0: &a0 {x: 1, y: 2}\n"
    for i in range(1, 8):
        text += f"a{i}: &a{i} {{<<: [" + ",".join([f"*a{i - 1}"] * 9) + "]}\n"
    return text


def _keys(n: int) -> str:
    return "".join(f"k{i}: {i}\n" for i in range(n))


_V1 = ('{"environments": {"e": {"baseUrl": "http://127.0.0.1:1"}}, "requests": {"r": {"url": "/"}}, '
       '"performance": {"t": {"request": "r", "load": {"concurrency": %s, "duration": "1s"}}}}')

#: name → (file name, text, extra environment)
HOSTILE: dict[str, tuple[str, str, dict[str, str]]] = {
    "file over the size limit (one valid 5 MB string)": (
        "big.yaml", 'name: "' + "a" * (5 * 1024 * 1024) + '"\n', {}),
    "billion laughs in a request body": ("bomb.yaml", _bomb(), {}),
    "merge-key bomb": ("merge.yaml", _merge_bomb(), {}),
    "recursive alias": ("rec.yaml", _scenario(request="      - &r {url: /, body: {self: *r}}\n"), {}),
    "60,000 unknown keys": ("keys.yaml", _keys(60_000), {}),
    "24,000 unknown keys (under the value limit)": ("keys24k.yaml", _keys(24_000), {}),
    "YAML nested 100,000 deep": ("deep.yaml", "a: " + "[" * 100_000 + "]" * 100_000 + "\n", {}),
    "JSON nested 100,000 deep": ("deep.json", "[" * 100_000 + "]" * 100_000, {}),
    "a 5,000-digit number": ("digits.yaml", _scenario().replace("vus: 1", "vus: " + "9" * 5000), {}),
    "vus beyond any int64": ("vus.yaml", _scenario().replace("vus: 1", "vus: 99999999999999999999999999999"), {}),
    "a billion VUs": ("vus1e9.yaml", _scenario().replace("vus: 1", "vus: 1000000000"), {}),
    "preAllocatedVUs 100,000,000": ("pre.yaml", _HEAD.replace(
        "executor: constant-vus\n    vus: 1", "executor: constant-arrival-rate\n    rate: 10\n"
        "    preAllocatedVUs: 100000000") + "    requests: [{url: /}]\n", {}),
    "rate per nanosecond": ("ns.yaml", _HEAD.replace(
        "executor: constant-vus\n    vus: 1", "executor: constant-arrival-rate\n    rate: 1000\n"
        "    timeUnit: 1ns") + "    requests: [{url: /}]\n", {}),
    "a duration of 10^40 seconds": ("dur.yaml", _scenario().replace("duration: 1s", "duration: " + "1" + "0" * 40), {}),
    "control characters in names": ("ctl.yaml", _scenario(request='      - {url: /, name: "a\\e[2Jb\\u202e"}\n')
                                    .replace("  a:\n", '  "x\\0y":\n'), {}),
    "${VAR} expanded past the size limit": ("env.yaml", _scenario(
        request="      - url: /\n        body: \"" + "${BIG}" * 50 + "\"\n"), {"BIG": "x" * 100_000}),
    "Lunge v1 file with 10^30 VUs": ("v1.json", _V1 % ("1" + "0" * 30), {}),
}


def _validate_bounded(path: str, env: dict[str, str]) -> tuple[int, str, float, float]:
    """(exit code, stderr, CPU seconds, wall seconds) of `lunge-mp validate path` in a child
    limited to _AS_LIMIT of address space."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (_AS_LIMIT, _AS_LIMIT))
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))

    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "lunge_mp.cli", "validate", path], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit)
    try:
        err = b""
        while chunk := proc.stderr.read(65536):   # type: ignore[union-attr]  # drain: never block the child
            err = (err + chunk)[-1_000_000:]
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        proc.stderr.close()   # type: ignore[union-attr]
        proc.returncode = 0   # reaped above; keep Popen from waiting again
    return (os.waitstatus_to_exitcode(status), err.decode(errors="replace"), usage.ru_utime + usage.ru_stime,
            time.monotonic() - started)


def _assert_refused_quickly(path: str, env: dict[str, str] | None = None) -> str:
    code, err, cpu, wall = _validate_bounded(path, env or {})
    assert code == 104, (code, err[-2000:])
    assert err.startswith("error: ") and "Traceback" not in err and "MemoryError" not in err, err[-2000:]
    assert cpu < _CPU_BOUND_S and wall < 60, (cpu, wall)
    return err


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_config_is_refused_fast_and_small(tmp_path, name: str) -> None:
    file, text, env = HOSTILE[name]
    path = tmp_path / file
    path.write_text(text)
    err = _assert_refused_quickly(str(path), env)
    assert len(err.splitlines()) <= limits.ERRORS_SHOWN + 3      # counted past the first hundred


def test_a_fifo_as_the_config_or_a_data_file_is_refused_not_waited_on(tmp_path) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in _assert_refused_quickly(str(fifo))
    data_fifo = tmp_path / "users.csv"
    os.mkfifo(data_fifo)
    config = tmp_path / "data.yaml"
    config.write_text(_scenario(request="      - url: /?u={{users.name}}\n")
                      + "data: [{name: users, file: users.csv}]\n")
    assert "not a regular file" in _assert_refused_quickly(str(config))


def test_a_data_file_over_the_size_limit_is_refused_unread(tmp_path) -> None:
    """A CSV of one 1 GB line (sparse: it takes no disk) is refused before it is read."""
    csv_path = tmp_path / "users.csv"
    with open(csv_path, "wb") as f:
        f.write(b"name\n")
        f.truncate(1024 * 1024 * 1024)
    config = tmp_path / "data.yaml"
    config.write_text(_scenario(request="      - url: /?u={{users.name}}\n")
                      + "data: [{name: users, file: users.csv}]\n")
    assert "larger than 100 MiB" in _assert_refused_quickly(str(config))
