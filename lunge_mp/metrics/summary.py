"""Rates derived from Aggregate counters, so every report divides the same way.

rate = count / seconds (0.0 for a zero-length run rather than a ZeroDivisionError);
ratio = part / whole (None when whole is 0: "no requests" is not "0 % failed").
"""

from __future__ import annotations


def rate(count: float, seconds: float) -> float:
    """Events per second over `seconds` of run time."""
    return count / seconds if seconds > 0 else 0.0


def ratio(part: float, whole: float) -> float | None:
    """part / whole, None if nothing happened."""
    return part / whole if whole else None


def request_rates(counters: dict, seconds: float) -> dict[str, float | None]:
    """From `Aggregate.counters()`: requests/s, failure ratio, bytes/s each way."""
    return {
        "rps": rate(counters["requests"], seconds),
        "failure_rate": ratio(counters["failures"], counters["requests"]),
        "bytes_in_per_s": rate(counters["bytes_in"], seconds),
        "bytes_out_per_s": rate(counters["bytes_out"], seconds),
    }


def scenario_rates(scenario_counters: dict, seconds: float) -> dict[str, float | None]:
    """From `Aggregate.scenario_counters()`: iterations/s and the share of scheduled
    arrivals (open model) that were dropped or interrupted."""
    dropped = sum(scenario_counters["dropped"].values())
    scheduled = scenario_counters["scheduled"]
    return {
        "iterations_per_s": rate(scenario_counters["iterations"], seconds),
        "dropped_rate": ratio(dropped, scheduled),
        "interrupted_rate": ratio(scenario_counters["interrupted"], scheduled),
    }
