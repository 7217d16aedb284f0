# `make run` and `make test` do all the set-up: they create .venv when missing and install ganbench.
# `make run` installs the runtime dependencies only; `make test` adds the `test` extra (pytest and the
# peer FID libraries the agreement tests compare against) and the Debian packages the tests use.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# One stamp per installed set, so `make run` never pulls the test extra and `make test` adds it once.
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
# Debian packages: real Fashion-MNIST for the image tests, Chromium to screenshot the HTML report.
APT_PKGS := dataset-fashion-mnist chromium

.PHONY: run test test-slow lint bench install system-deps clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	@touch $@

$(STAMP_TEST): pyproject.toml $(STAMP_RUN)
	$(PY) -m pip install -q -e ".[test]"
	@touch $@

install: $(STAMP_RUN)

system-deps:
	@missing=""; \
	test -d /usr/share/datasets/fashion-mnist || missing="$$missing dataset-fashion-mnist"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  echo "installing Debian packages:$$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

run: $(STAMP_RUN)
	$(VENV)/bin/ganbench run

# The linter and the type checker, configured in pyproject.toml ([tool.ruff], [tool.mypy]); `make test`
# runs them first (about a minute on 2 cores, most of it mypy).
lint: $(STAMP_TEST)
	$(PY) -m ruff check ganbench tests examples benchmarks
	$(PY) -m mypy

# `make test` runs every test not marked slow (about 15 min on 2 idle cores); `make test-slow` runs
# the long ones: real Ray and Slurm clusters, the 20-point kill test, thread-count CI baseline, and
# the larger coverage simulations.
test: lint $(STAMP_TEST) system-deps
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP_TEST) system-deps
	$(PY) -m pytest -q -m slow

bench: $(STAMP_TEST)
	$(PY) -m pytest benchmarks -o python_files='bench_*.py' --benchmark-only

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks .mypy_cache .ruff_cache
