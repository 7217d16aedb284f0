# `make run` and `make test` do all the set-up: they create .venv when missing, install ganbench
# with everything the tests need (peers included), and the Debian packages the tests use.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages: real Fashion-MNIST for the image tests, Chromium to screenshot the HTML report.
APT_PKGS := dataset-fashion-mnist chromium

.PHONY: run test bench install system-deps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	@touch $@

install: $(STAMP)

system-deps:
	@missing=""; \
	test -d /usr/share/datasets/fashion-mnist || missing="$$missing dataset-fashion-mnist"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  echo "installing Debian packages:$$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

run: $(STAMP)
	$(VENV)/bin/ganbench run

test: $(STAMP) system-deps
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pytest benchmarks -o python_files='bench_*.py' --benchmark-only

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
