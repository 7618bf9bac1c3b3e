"""The self-benchmark's parts (`benchmarks/bench.py` runs them): configs and bars, process
control, one run and its medians, the peer tools, tables, machine info."""
