"""A pause is exact at the server (coordinator/holding.py): real runs over the API with real
worker processes against the embedded target. From the moment the pause is applied the
target's count stands still (only iterations already started finish), though the workers
hold arrivals dealt up to ~0.75 s ahead; on resume they go shifted by the paused time, and
every arrival of the schedule is counted once: run, or (a stop meanwhile) never due."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.integration.api_support import client, open_config, pause_and_watch, until, wait_final

pytestmark = pytest.mark.timeout(180)

async def paused_and_resumed(c, config: dict, target, first: int) -> tuple[int, dict]:
    """Start `config`, pause once `first` requests went, watch the count stand still, resume,
    run to the end: (the count held, results.json)."""
    tid = (await (await c.post("/api/v1/tests", json=config)).json())["id"]
    await until(lambda: target.stats()["requests"] >= first, what="traffic")
    held = await pause_and_watch(c, tid, target, still_s=2.2)
    r = await c.post(f"/api/v1/tests/{tid}/resume")
    assert r.status == 200 and (await r.json())["status"] == "running"
    await until(lambda: target.stats()["requests"] > held, what="traffic after resume")
    await wait_final(c, tid)
    return held, await (await c.get(f"/api/v1/tests/{tid}/results")).json()


def scheduled_total(results: dict) -> int:
    return sum(b.get("scheduled", 0) for b in results["buckets"])


def check_held_from_the_pause(results: dict, held: int, rate: float) -> None:
    """What reached the target by the pause is what the schedule had due by its instant (the
    coordinator's, as results.json says): nothing dealt ahead of it went."""
    (pause,) = results["pauses"]
    assert held <= rate * (pause["start"] + 0.06) + 1, (held, pause)


def check_paused_buckets(results: dict) -> None:
    """Seconds wholly inside a pause schedule and finish nothing, and are marked paused."""
    (pause,) = results["pauses"]
    inside = [b for b in results["buckets"] if b["t"] >= pause["start"] + 0.1 and b["t"] + 1 <= pause["end"]]
    assert inside, results["pauses"]
    assert all(b["scheduled"] == 0 and b["iterations"] == 0 and b.get("paused") for b in inside), inside


def _paused_once_counts_every_arrival_once(target, tmp_path, workers: int, rate: int, duration: str,
                                          total: int) -> dict:
    """One pause and resume of an open-model run (api_support.paused_and_resumed), held from the
    pause on; every arrival once: the held ones were neither dropped for the pause (a 2 s pause
    would make them all `behind`) nor lost; a loaded box may still drop one or two as behind."""
    async def main():
        async with client(tmp_path, workers=workers) as c:
            return await paused_and_resumed(c, open_config(target.url, rate=rate, duration=duration),
                                            target, rate)

    held, results = asyncio.run(main())
    check_held_from_the_pause(results, held, rate)
    it = results["metrics"]["iterations"]["count"]
    dropped = results["metrics"]["dropped_iterations"]["count"]
    assert results["arrivalsSent"] == {"load": total}
    assert it + dropped == scheduled_total(results) == total and dropped <= 3, results["metrics"]["dropped_iterations"]
    assert target.stats()["requests"] == results["metrics"]["http_reqs"]["count"] == it
    return results


def test_a_pause_stops_the_target_count_at_once_and_resume_runs_the_whole_schedule_shifted(fresh_target, tmp_path):
    results = _paused_once_counts_every_arrival_once(fresh_target, tmp_path, workers=2, rate=200, duration="4s",
                                                     total=800)
    (pause,) = results["pauses"]
    assert results["durationSeconds"] >= 4 + (pause["end"] - pause["start"]) - 0.1
    check_paused_buckets(results)


def test_a_stop_during_a_pause_counts_the_held_arrivals_as_never_due(fresh_target, tmp_path):
    async def main():
        async with client(tmp_path, workers=2) as c:
            tid = (await (await c.post("/api/v1/tests", json=open_config(fresh_target.url, rate=200))).json())["id"]
            await until(lambda: fresh_target.stats()["requests"] >= 200, what="traffic")
            held = await pause_and_watch(c, tid, fresh_target)
            await c.post(f"/api/v1/tests/{tid}/stop")
            await wait_final(c, tid)
            return held, await (await c.get(f"/api/v1/tests/{tid}/results")).json()

    held, results = asyncio.run(main())
    check_held_from_the_pause(results, held, 200)
    it = results["metrics"]["iterations"]["count"]
    dropped = results["metrics"]["dropped_iterations"]["count"]
    # the held ones (dealt, 0.25-0.75 s of them) are not `behind`: they never came due
    assert dropped <= 3, results["metrics"]["dropped_iterations"]
    assert it + dropped == scheduled_total(results) < results["arrivalsSent"]["load"]
    assert fresh_target.stats()["requests"] == results["metrics"]["http_reqs"]["count"] == it
    assert results["pauses"][0]["end"] == results["durationSeconds"]


def test_many_workers_at_a_low_rate_each_hold_their_batches(fresh_target, tmp_path):
    """8 workers at 40/s: each gets ~5 arrivals a second, so the dealer deals 0.5 s more ahead."""
    results = _paused_once_counts_every_arrival_once(fresh_target, tmp_path, workers=8, rate=40, duration="5s",
                                                     total=200)
    check_paused_buckets(results)


def test_a_worker_killed_during_a_pause_has_its_held_arrivals_run_by_the_other_after_resume(tmp_path, fresh_target):
    """`lunge-mp run` paused by SIGUSR1, one worker killed while paused, resumed by SIGUSR2:
    what it held is dealt to the other, shifted like the schedule, and every arrival of the
    schedule is counted once at the target."""
    from tests.integration.test_fault_tolerance import _wait_requests, _workers
    from tests.support import Running, read_json, steady, wait_until, write_config

    out = tmp_path / "results.json"
    config = write_config(tmp_path, f"""
        name: pause-and-lose
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 200
            duration: 4s
            preAllocatedVUs: 5
            maxVUs: 20
            requests: [{{url: "/"}}]
        """)
    run = Running("run", str(config), "--out", str(out), "--workers", "2", "--no-history")
    try:
        workers = _workers(run)
        _wait_requests(fresh_target, 200)
        run.proc.send_signal(signal.SIGUSR1)
        run.wait_for_line("note: pause at")
        # what was started before the pause is done (and in its last counters report)
        (held,) = wait_until(steady(lambda: fresh_target.stats()["requests"], 0.3), timeout=10,
                             what="the iterations started before the pause to end")
        workers[1].kill()
        run.wait_for_line("worker 1 (pid", timeout=15)
        assert fresh_target.stats()["requests"] == held
        run.proc.send_signal(signal.SIGUSR2)
        code, _, stderr = run.finish(timeout=60)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    assert code == 0, stderr
    results = read_json(out)
    lost = results["workers"][1]
    assert lost["lostAt"] is not None and lost["arrivalsUnaccounted"] == 0, lost
    it = results["metrics"]["iterations"]["count"]
    dropped = results["metrics"]["dropped_iterations"]["count"]
    assert results["arrivalsSent"] == {"open": 800}
    assert it + dropped == 800 and dropped <= 3, results["metrics"]["dropped_iterations"]
    assert fresh_target.stats()["requests"] == results["metrics"]["http_reqs"]["count"] == it
