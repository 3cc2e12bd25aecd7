# yaodao — two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
RUN := $(UV) run --no-sync
PYTEST := $(RUN) pytest
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_NO_PROGRESS := 1

.DEFAULT_GOAL := help

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.*"

sync: | $(UV)  ## create .venv and install the locked dependencies (dev tools included)
	@$(UV) sync --locked --python $(VENV)/bin/python --quiet

run: sync  ## migrate, seed the Hangzhou pilot into var/yaodao.db, serve on http://127.0.0.1:8000
	$(RUN) yaodao run

seed: sync  ## migrate and seed only
	$(RUN) yaodao seed

lint: sync  ## ruff, formatting, mypy and the import contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

test: lint  ## lint, then the tests from fast to slow
	$(PYTEST) -n 2 tests/unit
	$(PYTEST) -n 2 $(wildcard tests/integration tests/contract)
	@if ls tests/e2e/test_*.py >/dev/null 2>&1; then $(PYTEST) tests/e2e; else echo "no browser tests yet"; fi

bench: sync  ## benchmarks (figures go to docs/benchmarks.md)
	$(RUN) python -m benchmarks.availability
	$(RUN) python -m benchmarks.dispatch_tick

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-8s %s\n", $$1, $$2}'

.PHONY: sync run seed lint test bench help
