# Two commands on a fresh machine: `make demo` and `make test`. Everything else is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# constraints.txt pins the whole tree that was tested; pyproject.toml keeps the bounded ranges.
PIP_INSTALL := $(BIN)/python -m pip install --quiet -c constraints.txt

.PHONY: demo test lint bench bench-quality clean chromium mutation mutation-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" "setuptools>=77" wheel

$(VENV)/.installed-run: $(BIN)/python pyproject.toml constraints.txt
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(PIP_INSTALL) -e '.[test,dask]'
	touch $@

demo: $(VENV)/.installed-run
	$(BIN)/spacewatch demo --workdir .demo

test: $(VENV)/.installed-test chromium
	$(BIN)/ruff check .
	$(BIN)/python tests/layers.py
	$(BIN)/python -m pytest -q

# tests/test_report.py renders the report in a real headless browser: Debian's chromium,
# installed here when it is missing and we are root with apt-get (as on CI, where the test fails
# without it); elsewhere the test skips and says why.
APT_CHROMIUM := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the report test"; \
	    $(APT_CHROMIUM) >/dev/null 2>&1 || { apt-get update -q >/dev/null && $(APT_CHROMIUM) >/dev/null; }; \
	  else \
	    echo "note: /usr/bin/chromium missing and cannot apt-get it; the browser test will skip"; \
	  fi; \
	fi

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python tests/layers.py
	$(BIN)/ruff format --check extractors flows warehouse seeds alerts cli spacewatch

bench: $(VENV)/.installed-run
	$(BIN)/python bench/pipeline.py --articles 1000

bench-quality: $(VENV)/.installed-run
	$(BIN)/python bench/quality.py

# Mutation testing (mutmut) of the core modules in mutation/modules.toml, one worker, niced:
# killed/total per module; docs/mutation.md keeps the scores. `mutation-check` is CI's part:
# the modules marked `ci = true`, failing when one falls below its floor.
# `make mutation MODULES="rules" AGAIN=--again` tests only the last run's survivors again.
mutation: $(VENV)/.installed-test
	nice -n 10 $(BIN)/python mutation/run.py --survivors $(AGAIN) $(MODULES)

mutation-check: $(VENV)/.installed-test
	nice -n 10 $(BIN)/python mutation/run.py --ci

clean:
	rm -rf $(VENV) .demo build *.egg-info .pytest_cache .ruff_cache .mutation
