# The one entry point. `make run` builds the demo warehouse, `make test` runs the whole suite.
# The interpreter .venv is made from: Debian's python3.11 when the machine has it (built with
# PGO and LTO; a small dbt build takes 0.86x the time it takes on pyenv's default build here,
# docs/benchmarks.md), else the first python3.11 on PATH. `make PYTHON=...` chooses another.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) python3.11)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make bench` scales (customers) and landing-file format; SEGMENTS_MEMORY_LIMIT applies too.
BENCH_CUSTOMERS ?= 10000 1000000
BENCH_FORMAT ?= parquet
BENCH := $(BIN)/segwarehouse bench --format $(BENCH_FORMAT) --work-dir data/bench --refresh-day

.PHONY: help install run test test-fast test-spark lint format docs clean bench bench-smoke check refresh

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

install: $(STAMP)  ## create .venv with the pinned dependencies

run: $(STAMP)  ## generate demo data if data/raw is empty, dbt build, print where the marts are
	$(BIN)/segwarehouse run --demo

# The dashboard's browser tests drive Debian's chromium (Playwright never downloads a browser
# here); they fail, not skip, without it. Installed through apt when missing (needs root).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@[ "$$(id -u)" = 0 ] || { echo "make test needs $(CHROMIUM) for the dashboard's browser tests: run 'sudo apt-get install -y chromium' once"; exit 1; }
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# Test workers: pytest-xdist runs two test modules at a time (dbt spends most of a small
# build in single-threaded Python, so two builds share the 2 cores well). TEST_WORKERS=0 runs
# everything in one process.
TEST_WORKERS ?= 2
# compileall: with PYTHONDONTWRITEBYTECODE set (as on this machine) Python never caches the
# project's own modules, and every dbt and CLI process of the suite compiles them again (about
# 0.25 s a process); compiled once here, only changed files are compiled again next time.
test: $(STAMP) lint $(CHROMIUM)  ## the whole suite: lint, dbt build + tests on generated data, pytest
	$(BIN)/python -m compileall -q src
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --durations 15

# The inner loop: every test that does not run dbt. dbt is pointed at a profiles folder that
# does not exist, so a test that runs dbt without requesting the `dbt_project` fixture fails
# here instead of silently slowing the fast tier down.
test-fast: $(STAMP)  ## the tests that run no dbt (a few minutes at most), no lint
	DBT_PROFILES_DIR=$(CURDIR)/tests/no-dbt-in-the-fast-tier $(BIN)/pytest -m "not dbt" -q

# The scale-out checks (docs/scale_out.md) in their own venv: pyspark is a 456 MB download
# that `make test` does not need. Spark needs Java 17: Debian's headless JRE is installed
# through apt when missing (needs root), as for chromium above.
SPARK_VENV := .venv-spark
JAVA := /usr/bin/java
$(SPARK_VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,spark]"
	touch $@

$(JAVA):
	@[ "$$(id -u)" = 0 ] || { echo "make test-spark needs Java 17: run 'sudo apt-get install -y openjdk-17-jre-headless' once"; exit 1; }
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless

test-spark: $(SPARK_VENV)/.installed $(JAVA)  ## every Spark check: staging from landing files and slice vs DuckDB, every model planned, HMAC, Python steps
	$(SPARK_VENV)/bin/pytest tests/python/test_spark_*.py

# dbt-score grades the dbt metadata (docs, owners, grain tests, macro descriptions; rules and
# settings in pyproject.toml [tool.dbt-score]) on the manifest of a fresh `dbt parse`, and
# fails under the floor.
DBT_SCORE_FLOOR := 9.0

# sqlfluff's dbt templater compiles every file: one process per core (--processes 0) halves it.
lint: $(STAMP)  ## ruff (Python), sqlfluff (SQL, dbt templater), dbt-score (dbt metadata, floor 9.0)
	$(BIN)/ruff check src tests/python python_models benchmarks
	$(BIN)/ruff format --check src tests/python python_models benchmarks
	$(BIN)/sqlfluff lint --processes 0 models analyses tests/dbt
	$(BIN)/dbt parse --quiet
	$(BIN)/dbt-score lint --manifest target/manifest.json --fail-project-under $(DBT_SCORE_FLOOR)

format: $(STAMP)  ## apply ruff format and sqlfluff fix
	$(BIN)/ruff format src tests/python python_models benchmarks
	$(BIN)/sqlfluff fix --processes 0 models analyses tests/dbt

docs: $(STAMP)  ## dbt docs generate (open target/index.html)
	$(BIN)/dbt docs generate

bench: $(STAMP)  ## time dbt build of staging vs a hand-written DuckDB floor and a one-day refresh, 10k and 1M
	$(BENCH) $(foreach n,$(BENCH_CUSTOMERS),--customers $(n)) \
		--report docs/benchmarks.md --json benchmarks/results/benchmarks.json

bench-smoke: $(STAMP)  ## the benchmark at 10k customers only, report in data/bench/
	$(BENCH) --customers 10000 \
		--report data/bench/benchmarks-smoke.md --json data/bench/benchmarks-smoke.json

check: $(STAMP)  ## GX data-quality suites on the built warehouse (exit 3 = failed), docs in target/data_docs
	$(BIN)/segwarehouse check

refresh: $(STAMP)  ## write-audit-publish: build, test, check, then swap warehouse/serving.duckdb
	$(BIN)/segwarehouse refresh $(if $(AS_OF_DATE),--as-of-date $(AS_OF_DATE))

clean:  ## remove build outputs (keeps data/ and .venv)
	rm -rf target logs warehouse
