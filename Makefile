# One task runner; the README's commands are these targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install browsers run test lint typecheck bench reconcile clean

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
test: lint typecheck browsers
	$(BIN)/pytest

# Debian's Chromium for the page tests, where it can be had (root with apt-get); otherwise those tests skip
# and say why. Never a browser download of a test tool's own.
browsers:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
	      >/dev/null 2>&1 || echo "could not install chromium: the browser tests will be skipped"; \
	  else echo "chromium missing and not root: the browser tests will be skipped"; fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/iot-billing bench

reconcile: install
	$(BIN)/iot-billing reconcile

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
