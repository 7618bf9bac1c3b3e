"""`arrivals: poisson` end to end (issue 12): the target gets the arrivals the schedule drew, the
results and the summary say which process and seed, and the same seed repeats the same count."""

from __future__ import annotations

from tests.support import cli, read_json, write_config


def _run(tmp_path, url: str, name: str, arrivals: str) -> tuple[dict, str]:
    config = write_config(tmp_path, f"""
        name: random
        settings: {{baseUrl: "{url}"}}
        scenarios:
          api:
            executor: constant-arrival-rate
            rate: 300
            duration: 2s
            {arrivals}
            requests: [{{url: /}}]
        """, name=f"{name}.yaml")
    out = tmp_path / f"{name}.json"
    result = cli("run", str(config), "--workers", "2", "--out", str(out), "--no-history")
    assert result.returncode == 0, result.stderr
    return read_json(out), result.stdout


def test_poisson_arrivals_are_drawn_reported_and_repeatable(tmp_path, fresh_target):
    first, summary = _run(tmp_path, fresh_target.url, "a", "arrivals: poisson")
    api = first["scenarios"]["api"]
    assert api["arrivals"]["process"] == "poisson" and isinstance(api["arrivals"]["seed"], int)
    assert "arrivals      api: poisson (seed" in summary
    sent = first["arrivalsSent"]["api"]
    assert api["iterations"]["count"] == sent == fresh_target.stats()["requests"]
    assert 450 < sent < 750
    fresh_target.reset()
    again, _ = _run(tmp_path, fresh_target.url, "b", f"arrivals: poisson\n            seed: {api['arrivals']['seed']}")
    assert again["arrivalsSent"]["api"] == sent == fresh_target.stats()["requests"]


def test_an_unknown_arrival_process_is_a_config_error(tmp_path, fresh_target):
    config = write_config(tmp_path, f"""
        name: bad
        settings: {{baseUrl: "{fresh_target.url}"}}
        scenarios:
          api: {{executor: constant-arrival-rate, rate: 10, duration: 1s, arrivals: gaussian,
                 requests: [{{url: /}}]}}
        """)
    result = cli("run", str(config))
    assert result.returncode == 104
    assert "scenarios.api.arrivals" in result.stderr and "poisson" in result.stderr
    assert fresh_target.stats()["requests"] == 0
