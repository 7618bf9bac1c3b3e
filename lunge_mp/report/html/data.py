"""Everything the charts draw, as one JSON-ready dict. Pure."""

from __future__ import annotations

from lunge_mp.report.html.distribution import distribution
from lunge_mp.report.html.series import time_series


def chart_data(results: dict) -> dict:
    curves, problems = distribution(results)
    return {**time_series(results), "distribution": curves, "problems": problems}
