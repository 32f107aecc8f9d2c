# Two commands on a fresh machine: `make demo` and `make test`; both build .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration e2e bench bench-api bench-audit interop-js bench-credentials bench-staff bench-reminders clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/alliance demo

lint: $(STAMP)
	$(BIN)/ruff check domain ledger projections federation_api tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.ledger_bench

bench-api: $(STAMP)
	$(BIN)/python -m bench.public_api_bench

bench-audit: $(STAMP)
	$(BIN)/python -m bench.audit_bench

# The npm verifier stack of tests/interop (npm ci into .cache/interop-js; the tests also do it).
interop-js: $(STAMP)
	$(BIN)/python -m tests.interop.js_stack

bench-credentials: $(STAMP)
	$(BIN)/python -m bench.credentials_bench

bench-staff: $(STAMP)
	$(BIN)/python -m bench.staff_pages_bench

bench-reminders: $(STAMP)
	$(BIN)/python -m bench.reminders_bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
