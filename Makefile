# The one entry point. `make run` builds the demo warehouse, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run test lint format docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

install: $(STAMP)  ## create .venv with the pinned dependencies

run: $(STAMP)  ## generate demo data if data/raw is empty, dbt build, print where the marts are
	$(BIN)/segwarehouse run

test: $(STAMP) lint  ## the whole suite: lint, dbt build + tests on generated data, pytest
	$(BIN)/pytest

lint: $(STAMP)  ## ruff (Python) and sqlfluff (SQL, dbt templater)
	$(BIN)/ruff check src tests/python python_models
	$(BIN)/ruff format --check src tests/python python_models
	$(BIN)/sqlfluff lint models analyses tests/dbt

format: $(STAMP)  ## apply ruff format and sqlfluff fix
	$(BIN)/ruff format src tests/python python_models
	$(BIN)/sqlfluff fix models analyses tests/dbt

docs: $(STAMP)  ## dbt docs generate (open target/index.html)
	$(BIN)/dbt docs generate

clean:  ## remove build outputs (keeps data/ and .venv)
	rm -rf target logs warehouse
