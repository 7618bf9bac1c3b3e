"""Lunge v1 functional tests: suites of requests with assertions (`lunge-mp test`)."""
