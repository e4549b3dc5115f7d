# The two commands of the README. Each sets up what it needs on a fresh machine.
#   make repro  - create .venv, install, run the whole DVC pipeline
#   make test   - create .venv, install, run the test suite
# Set-up installs the exact versions in requirements.lock (no resolving, so no
# backtracking), then the project itself without dependencies.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup repro test lint bench lock

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

# One pytest-xdist worker per CPU, a test file (or files sharing an expensive session
# fixture) at a time (tests/conftest.py). Most tests wait on one subprocess at a time (dvc repro, a
# server), so two workers on two cores take about half the time of one.
test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n logical

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python bench/train_speed.py

# Re-resolve requirements.lock after changing a dependency in pyproject.toml (the other pins stay):
# every platform at once (--universal), Python 3.11, the dev extra included.
lock: $(STAMP)
	cp requirements.lock requirements.lock.tmp  # uv keeps the pins it finds there: only what changed moves
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--no-header --quiet -o requirements.lock.tmp
	{ echo "# Exact versions of the whole dependency tree, resolved from pyproject.toml's ranges."; \
	  echo "# Refresh with 'make lock' after changing pyproject.toml; 'make setup' installs it."; \
	  cat requirements.lock.tmp; } > requirements.lock && rm requirements.lock.tmp
