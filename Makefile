# One task runner; the README's commands are these targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test lint typecheck unit bench reconcile clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

## run: the whole system (embedded PostgreSQL, Temporal dev server + UI, sandbox gateway, worker, API, demo data)
run: install
	$(BIN)/iot-billing up

## test: linters, type checks and every test (real PostgreSQL, real Temporal servers)
test: lint typecheck
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/iot-billing bench

reconcile: install
	$(BIN)/iot-billing reconcile

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
