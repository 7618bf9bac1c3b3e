"""ScenarioRunner in-process with a scripted transport: what a VU sends and records."""

from __future__ import annotations

import asyncio

import pytest

from lunge_mp.executors import ConstantVUs
from lunge_mp.metrics.recorder import Recorder
from lunge_mp.plan import Assertion, DataSource, Extract, Plan, RequestSpec, Settings
from lunge_mp.worker.iteration import ScenarioRunner
from lunge_mp.worker.transport import Outcome, Prepared
from tests.plans import scenario_of
from tests.support import until


class Scripted:
    """Answers every request with `answer(prepared)`, and keeps what was sent."""

    def __init__(self, answer=None) -> None:
        self.sent: list[Prepared] = []
        self.answer = answer or (lambda p: Outcome(status=200, duration_us=5, body=b"{}"))

    async def send(self, request: Prepared) -> Outcome:
        self.sent.append(request)
        return self.answer(request)

    async def close(self) -> None:
        pass


class CountingRecorder(Recorder):
    """A Recorder with the `checks` counter the runner reports to when it exists."""

    def __init__(self) -> None:
        super().__init__()
        self.check_counts: dict[str, list[int]] = {}

    def checks(self, scenario: str, request: str, passed: int, failed: int, failures=None) -> None:
        c = self.check_counts.setdefault(request, [0, 0])
        c[0] += passed
        c[1] += failed
        super().checks(scenario, request, passed, failed, failures)


def runner(requests, transport, data=(), recorder=None, worker=0, workers=1, executor="constant-vus",
           top_data=(), settings=None) -> ScenarioRunner:
    scenario = scenario_of(executor, name="s", requests=tuple(requests), vus=1, duration=1, data=data,
                           iterations=1)
    plan = Plan(name="p", scenarios=(scenario,), data=top_data, variables={"v": "1"},
                **({"settings": settings} if settings else {}))
    return ScenarioRunner(plan, scenario, transport, recorder or Recorder(), 1, worker, workers)


def counters(rec: Recorder):
    _, reqs, scns = rec.drain()
    return {c.request: c for c in reqs}, {s.scenario: s for s in scns}


def test_cookies_go_back_to_the_same_vu_only_and_join_the_requests_own_cookie_header():
    def answer(p: Prepared) -> Outcome:
        if p.url.endswith("/login"):
            return Outcome(status=200, duration_us=5, set_cookies=["sid=abc; Path=/", "lang=en"])
        return Outcome(status=200, duration_us=5)

    t = Scripted(answer)
    r = runner([RequestSpec("login", "POST", "http://h/login"),
                RequestSpec("me", "GET", "http://h/me", headers={"cookie": "own=1"})], t)
    a, b = r.new_vu(), r.new_vu()
    asyncio.run(r.iteration(a, 0, None))
    assert t.sent[0].headers == {} and t.sent[1].headers == {"cookie": "own=1; sid=abc; lang=en"}
    assert r.requests[1].static_headers == {"cookie": "own=1"}        # shared headers untouched
    r.requests = r.requests[1:]
    asyncio.run(r.iteration(b, 0, None))
    assert t.sent[2].headers == {"cookie": "own=1"}                    # VU b has no cookies


@pytest.mark.parametrize("fail_requests", [False, True])
def test_every_check_is_counted_with_its_first_failure(fail_requests):
    rec = CountingRecorder()
    t = Scripted(lambda p: Outcome(status=200, duration_us=5, body=b'{"id": 7}', headers={"X-A": "1"}))
    spec = RequestSpec("get", "GET", "http://h/", assertions=(
        Assertion("status", "eq", "200"), Assertion("body", "eq", "8", path="$.id"),
        Assertion("header", "exists", name="X-B")))
    r = runner([spec], t, recorder=rec, settings=Settings(checks_fail_requests=fail_requests))
    for _ in range(2):
        asyncio.run(r.iteration(r.new_vu(), 0, None))
    assert rec.check_counts == {"get": [2, 4]}
    reqs, _ = counters(rec)
    # each check apart: ran twice, checks 1 and 2 failed twice, each with its first message
    assert reqs["get"].check_runs == 2 and reqs["get"].check_fails == {1: 2, 2: 2}
    assert "body $.id eq '8' failed (got 7)" in reqs["get"].check_first[1]
    assert "X-B" in reqs["get"].check_first[2]
    if fail_requests:      # settings.checksFailRequests: the old model, a failed check fails the request
        assert reqs["get"].failures == 2 and reqs["get"].errors == {"check": 2}
        assert "body $.id eq '8' failed (got 7)" in reqs["get"].first_error["check"]
    else:                  # k6's model: the status was expected, so the request did not fail
        assert reqs["get"].failures == 0 and reqs["get"].errors == {}


@pytest.mark.parametrize("expected, status, error", [
    (((200, 399),), 404, "http_4xx"), (((200, 299), (404, 404)), 404, None),
    (((200, 200),), 201, "unexpected_status"), (((200, 399),), 302, None), (((200, 399),), 503, "http_5xx"),
])
def test_expected_statuses_decide_what_fails_a_request(expected, status, error):
    rec = Recorder()
    t = Scripted(lambda p: Outcome(status=status, duration_us=5))
    r = runner([RequestSpec("get", "GET", "http://h/", expected_statuses=expected)], t, recorder=rec)
    asyncio.run(r.iteration(r.new_vu(), 0, None))
    reqs, _ = counters(rec)
    assert reqs["get"].errors == ({error: 1} if error else {})


def test_extracted_values_feed_the_next_request_and_stay_with_the_vu():
    t = Scripted(lambda p: Outcome(status=200, duration_us=5, body=b'{"id": 41}', headers={"X-Token": "tk"}))
    r = runner([RequestSpec("a", "GET", "http://h/a", extract=(Extract("id", "body", path="$.id"),
                                                                Extract("tok", "header", path="x-token"))),
                RequestSpec("b", "POST", "http://h/items/{{id}}", headers={"Authorization": "{{tok}}"},
                            form={"id": "{{id}}", "q": "a b&c"})], t)
    vu = r.new_vu()
    asyncio.run(r.iteration(vu, 0, None))
    assert t.sent[1].url == "http://h/items/41" and t.sent[1].headers == {"Authorization": "tk"}
    assert t.sent[1].body == b"id=41&q=a+b%26c"
    assert vu.context["id"] == "41"


def test_an_unresolved_template_is_counted_and_nothing_is_sent():
    rec = Recorder()
    t = Scripted()
    r = runner([RequestSpec("x", "GET", "http://h/{{never}}")], t, recorder=rec)
    asyncio.run(r.iteration(r.new_vu(), 0, None))
    series, counted, _ = rec.drain()
    reqs = {c.request: c for c in counted}
    # a failed request of class template (in http_reqs and http_req_failed), with no latency sample
    assert t.sent == [] and reqs["x"].errors == {"template": 1}
    assert (reqs["x"].requests, reqs["x"].failures) == (1, 1)
    assert [s.metric for s in series if s.request == "x"] == []


@pytest.fixture
def rows_file(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("id\n" + "".join(f"{i}\n" for i in range(5)))
    return str(path)


@pytest.mark.parametrize("open_model", [True, False])
def test_an_exhausted_unique_source_drops_arrivals_or_ends_the_vu(rows_file, open_model):
    rec = Recorder()
    t = Scripted()
    source = DataSource("u", "u.csv", "unique", path=rows_file, columns=("id",), rows=5)
    r = runner([RequestSpec("x", "GET", "http://h/{{u.id}}")], t, data=(source,), recorder=rec,
               worker=1, workers=2)
    vu = r.new_vu()
    for i in range(4):
        asyncio.run(r.iteration(vu, i, 0 if open_model else None))
        if vu.stop_requested:
            break
    assert [p.url for p in t.sent] == ["http://h/1", "http://h/3"]     # worker 1 of 2: rows 1, 3
    _, scns = counters(rec)
    assert scns["s"].iterations == 2
    if open_model:
        assert scns["s"].dropped == {"data_exhausted": 2} and not vu.stop_requested
    else:   # the VU stops: the one iteration it could not start is dropped, once
        assert scns["s"].dropped == {"data_exhausted": 1} and vu.stop_requested


def test_a_top_level_source_is_shared_by_the_scenarios_of_a_worker(rows_file):
    source = DataSource("u", "u.csv", "unique", path=rows_file, columns=("id",), rows=5)
    rec, t = Recorder(), Scripted()
    requests = (RequestSpec("x", "GET", "http://h/{{u.id}}"),)
    one = ConstantVUs(name="one", vus=1, duration=1, requests=requests)
    two = ConstantVUs(name="two", vus=1, duration=1, requests=requests)
    plan = Plan(name="p", scenarios=(two, one), data=(source,))
    runners = [ScenarioRunner(plan, s, t, rec, 1) for s in plan.scenarios]
    for i in range(6):
        r = runners[i % 2]
        asyncio.run(r.iteration(r.new_vu(), i, None))
    assert sorted(p.url for p in t.sent) == [f"http://h/{i}" for i in range(5)]


@pytest.mark.parametrize("top_level", [True, False])
def test_a_warmup_copy_reads_unique_rows_without_using_them_up(rows_file, top_level):
    """The warmup walks the file as `sequential` from a feeder of its own: the measured
    scenario still gets every row once, however much the warmup ran first."""
    source = DataSource("u", "u.csv", "unique", path=rows_file, columns=("id",), rows=5)
    rec, t = Recorder(), Scripted()
    requests = (RequestSpec("x", "GET", "http://h/{{u.id}}"),)
    own = () if top_level else (source,)
    one = ConstantVUs(name="one", vus=1, duration=1, requests=requests, data=own)
    warm = ConstantVUs(name="warmup:one", vus=1, duration=1, requests=requests,
                       data=own, warmup_of="one")
    two = ConstantVUs(name="two", vus=1, duration=1, requests=requests, data=own)
    plan = Plan(name="p", scenarios=(warm, one, two), data=(source,) if top_level else ())
    r_warm, r_one, r_two = (ScenarioRunner(plan, s, t, rec, 1) for s in plan.scenarios)
    for _ in range(7):
        asyncio.run(r_warm.iteration(r_warm.new_vu(), 0, None))
    assert [p.url for p in t.sent] == [f"http://h/{i % 5}" for i in range(7)]     # wraps around
    del t.sent[:]
    vu = r_one.new_vu()
    for i in range(6):
        asyncio.run(r_one.iteration(vu, i, None))
    assert [p.url for p in t.sent] == [f"http://h/{i}" for i in range(5)]          # every row, once
    assert vu.stop_requested
    asyncio.run(r_two.iteration(r_two.new_vu(), 0, None))
    if top_level:
        assert len(t.sent) == 5            # the rows are the run's: none left for `two` either
    else:
        assert t.sent[-1].url == "http://h/0"       # another scenario has its own rows


# -- the fast paths: a request with nothing to render, status-only checks ------------------------

def test_a_request_with_nothing_to_render_is_prepared_once_until_the_vu_has_cookies():
    def answer(p: Prepared) -> Outcome:
        cookies = ["sid=abc; Path=/"] if p.url.endswith("/login") else ()
        return Outcome(status=200, duration_us=5, set_cookies=cookies)

    t = Scripted(answer)
    r = runner([RequestSpec("home", "GET", "http://h/", headers={"X-A": "1"}),
                RequestSpec("form", "POST", "http://h/f", form={"q": "a b"}),
                RequestSpec("tpl", "GET", "http://h/{{v}}"),
                RequestSpec("login", "POST", "http://h/login", body="x")], t)
    home, form, tpl, login = r.requests
    assert home.static is not None and form.static is not None and login.static is not None
    assert tpl.static is None
    assert form.static.body == b"q=a+b"
    a, b = r.new_vu(), r.new_vu()
    asyncio.run(r.iteration(a, 0, None))
    asyncio.run(r.iteration(b, 0, None))
    assert t.sent[0] is home.static and t.sent[4] is home.static      # shared while no cookies
    assert t.sent[1] is form.static and t.sent[2].url == "http://h/1"
    asyncio.run(r.iteration(a, 1, None))                               # a has a cookie now
    assert t.sent[8] is not home.static
    assert t.sent[8].headers == {"X-A": "1", "Cookie": "sid=abc"}
    assert home.static.headers == {"X-A": "1"}                          # the shared one untouched
    assert t.sent[9].body == b"q=a+b" and t.sent[9].headers == {"Cookie": "sid=abc"}


@pytest.mark.parametrize("condition, value", [
    ("eq", "200"), ("ne", "500"), ("lt", "400"), ("gte", "200"), ("lte", "299"), ("gt", "199"),
    ("contains", "0"), ("matches", "^2..$"), ("exists", ""), ("eq", "abc"), ("ne", "abc"),
    ("eq", "200.0"), ("lt", "x"),
])
def test_status_only_checks_are_a_set_of_passing_codes_that_agrees_with_the_checks(condition, value):
    from lunge_mp.scenario.checks import CompiledCheck, Response
    from lunge_mp.worker.iteration import CompiledRequest

    req = CompiledRequest(RequestSpec("x", "GET", "http://h/", assertions=(
        Assertion("status", condition, value), Assertion("status", "lt", "600"))))
    assert req.status_ok is not None
    for code in range(1000):
        expected = all(CompiledCheck(a)(Response(code, {}, b"", 0.0)) is None for a in req.spec.assertions)
        assert (code in req.status_ok) == expected, code


def test_no_status_set_when_a_check_needs_the_response_or_something_is_extracted():
    from lunge_mp.worker.iteration import CompiledRequest

    assert CompiledRequest(RequestSpec("x", "GET", "http://h/")).status_ok is None
    assert CompiledRequest(RequestSpec("x", "GET", "http://h/", assertions=(
        Assertion("status", "eq", "200"), Assertion("duration", "lt", "100")))).status_ok is None
    assert CompiledRequest(RequestSpec("x", "GET", "http://h/", assertions=(
        Assertion("status", "eq", "200"),), extract=(Extract("s", "status"),))).status_ok is None


@pytest.mark.parametrize("status, passed, failed, error", [
    (200, 2, 0, None), (201, 1, 1, None), (404, 1, 1, "http_4xx"), (503, 0, 2, "http_5xx"),
    (302, 0, 2, None),
])
def test_status_only_checks_count_passes_and_failures_without_a_response(monkeypatch, status, passed,
                                                                        failed, error):
    import lunge_mp.worker.iteration as iteration

    built = []

    class CountingResponse(iteration.Response):
        __slots__ = ()

        def __init__(self, *args) -> None:
            built.append(args)
            super().__init__(*args)

    monkeypatch.setattr(iteration, "Response", CountingResponse)
    rec = CountingRecorder()
    t = Scripted(lambda p: Outcome(status=status, duration_us=5))
    spec = RequestSpec("get", "GET", "http://h/", assertions=(
        Assertion("status", "lt", "300"), Assertion("status", "matches", "^[24]0[04]$")))
    r = runner([spec], t, recorder=rec)
    built.clear()                                  # the set of passing codes is made with some
    asyncio.run(r.iteration(r.new_vu(), 0, None))
    assert rec.check_counts == {"get": [passed, failed]}
    reqs, _ = counters(rec)
    assert reqs["get"].errors == ({error: 1} if error else {})
    assert bool(built) == (failed > 0)             # a Response only to word a failure
    if failed:
        assert reqs["get"].check_first[min(reqs["get"].check_fails)].startswith("status status")
    if error is not None:
        assert reqs["get"].first_error[error] == f"HTTP {status} from GET http://h/"


def test_a_status_404_that_the_checks_expect_passes_them_and_still_fails_as_4xx():
    rec = CountingRecorder()
    t = Scripted(lambda p: Outcome(status=404, duration_us=5))
    r = runner([RequestSpec("get", "GET", "http://h/", assertions=(Assertion("status", "eq", "404"),))],
               t, recorder=rec)
    asyncio.run(r.iteration(r.new_vu(), 0, None))
    assert rec.check_counts == {"get": [1, 0]}
    reqs, _ = counters(rec)
    assert reqs["get"].errors == {"http_4xx": 1}


class Forgetting(Scripted):
    def __init__(self) -> None:
        super().__init__()
        self.forgotten: list[int] = []

    def forget(self, key: int) -> None:
        self.forgotten.append(key)


@pytest.mark.parametrize("mode", ["shared", "perVU"])
def test_per_vu_requests_carry_the_vu_id_and_a_stopped_vu_is_forgotten(mode):
    """settings.connections: perVU: every request (static ones too) has its VU's pool key;
    a VU that ramps down has its connections closed (`forget`). Shared: neither."""
    from lunge_mp.plan import Settings
    from lunge_mp.worker.closed_model import ClosedScenario

    t = Forgetting()
    scenario = ConstantVUs(name="s", vus=1, duration=1,
                            requests=(RequestSpec("a", "GET", "http://h/a", think_time=0.01),
                                      RequestSpec("b", "GET", "http://h/{{vu}}")))
    plan = Plan(name="p", scenarios=(scenario,), settings=Settings(connections=mode))
    r = ScenarioRunner(plan, scenario, t, Recorder(), 1)

    def vus_seen() -> set[int]:
        return {int(p.url.rsplit("/", 1)[1]) for p in t.sent if "/a" not in p.url}

    async def main():
        closed = ClosedScenario(r, lambda: None)
        closed.set_vus(2)
        await until(lambda: vus_seen() == {1, 2}, 5, "both VUs to send")
        closed.set_vus(1)                           # the newest VU (id 2) stops
        await until(lambda: closed.allocated == 1, 5, "VU 2 to stop")
        forgotten_after_ramp_down = list(t.forgotten)
        closed.end(0.0)
        await until(lambda: closed.allocated == 0, 5, "the VUs to end")
        closed.interrupt()
        return forgotten_after_ramp_down

    after_ramp_down = asyncio.run(main())
    keys = {p.pool_key for p in t.sent}
    if mode == "perVU":
        assert keys == {1, 2}
        assert all(p.pool_key == int(p.url.rsplit("/", 1)[1]) for p in t.sent if "/a" not in p.url)
        assert after_ramp_down == [2]
        assert sorted(t.forgotten) == [1, 2]
        assert r.requests[0].static.pool_key is None      # the shared Prepared is left as is
    else:
        assert keys == {None}
        assert t.forgotten == []


@pytest.mark.parametrize("executor, set_args, own", [
    ("shared-iterations", {"iterations_total": 6}, 6),
    ("per-vu-iterations", {"iterations_per_vu": 3}, 6),
])
def test_added_iterations_run_after_the_own_ones_and_restart_finished_vus(executor, set_args, own):
    """A lost worker's iterations moved here (AddIterations): run by this worker's VUs after
    their own, VUs that had finished start again, and it says done again after them."""
    from lunge_mp.worker.closed_model import ClosedScenario

    t = Scripted()
    r = runner([RequestSpec("a", "GET", "http://h/a")], t, executor=executor)
    dones: list[int] = []

    async def main():
        closed = ClosedScenario(r, lambda: dones.append(closed.added))
        closed.set_vus(2, **set_args)
        await until(lambda: dones == [0], 5, "done with its own iterations")
        assert len(t.sent) == own
        closed.add_iterations(5)
        await until(lambda: dones == [0, 5], 5, "done with the added iterations")
        assert len(t.sent) == own + 5

    asyncio.run(main())
