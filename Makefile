# The two commands a newcomer needs: `make run` and `make test`. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed

.PHONY: help install run test test-fast lint typecheck unit check openapi sdk bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.8

$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --inexact --quiet
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install everything (reused when up to date)

run: install ## migrate, seed demo data and serve on http://127.0.0.1:8000
	$(BIN)/gateway migrate
	$(BIN)/gateway seed
	$(BIN)/gateway serve

lint: install ## ruff (lint + format check) and the layering contracts (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install ## mypy --strict (the gateway, the SDK and its examples)
	$(BIN)/mypy
	$(BIN)/mypy sdk/examples

unit: install ## the tests only (SQLite, PostgreSQL, Redis, real servers, schemathesis)
	$(BIN)/pytest -q

test: lint typecheck unit ## install, lint, type-check and run every test
	@echo "make test: all checks passed"

test-fast: install ## the inner loop: ruff, then the tests not marked slow, on SQLite only
	$(BIN)/ruff check .
	$(BIN)/pytest -q -x -m "not slow" -k "not postgresql"

check: test ## alias of test

openapi: install ## write openapi/v1.json from the app
	$(BIN)/gateway openapi

sdk: install ## regenerate the SDK's typed layer (sdk/openplatform/_generated) from openapi/v1.json
	$(BIN)/python -m openapi.sdkgen

bench: install ## start the gateway with 2 workers and measure against a bare endpoint
	$(BIN)/python -m bench.run

clean: ## remove the virtual environment and local data
	rm -rf $(VENV) var .mypy_cache .ruff_cache .hypothesis
