# c360 — targets for people and schedulers. Every target is idempotent.
# `make demo` and `make test` create .venv themselves on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
C360   := $(BIN)/c360
ENV    ?= local
PEOPLE ?= 10000
SEED   ?= 42
DEMO_DIR ?= data/demo
JOB    ?= resolve
MASTER ?= local[2]
ARGS   ?=
# `make test`: the test files on N processes (pytest-xdist; a Spark test keeps about one core busy, so two
# processes use a 2-core machine); 0 runs every test in this one process with one Spark session
TEST_WORKERS ?= 2
# `make submit`: the options that also decide what spark-submit fetches (--conf DIR, --warehouse URI, --set
# KEY=VALUE: an s3a:// warehouse adds the S3 connector), given to the job as well
CONF_ARGS ?=
STAMP  := $(VENV)/.installed
# a local GraphFrames jar instead of resolving graph.graphframes_package from Maven (offline machines)
GRAPHFRAMES_JAR ?=
ifneq ($(GRAPHFRAMES_JAR),)
export C360__GRAPH__GRAPHFRAMES_JAR := $(abspath $(GRAPHFRAMES_JAR))
endif

JOBS := generate ingest standardize resolve sessionize features train score publish audience lookalike quality report profile forget

.PHONY: setup demo test test-fast lint package submit clean bench bench-matching bench-graph docs $(JOBS) run-all help cluster-up cluster-down

help:            ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install c360 with its pinned dependencies

demo: $(STAMP)   ## generate PEOPLE people and run the whole pipeline on embedded Spark
	@if [ ! -f $(DEMO_DIR)/landing/_SUCCESS ] || [ ! -f $(DEMO_DIR)/landing/sources.yml ]; then \
	  $(C360) generate --people $(PEOPLE) --seed $(SEED) --out $(DEMO_DIR)/landing; fi
	$(C360) run all --env $(ENV) --conf $(DEMO_DIR)/landing --landing $(DEMO_DIR)/landing \
	  --warehouse $(DEMO_DIR)/warehouse $(ARGS)
	@# prospects like the best customers (the seed audience of conf/base/audiences.yml)
	$(C360) lookalike --env $(ENV) --conf $(DEMO_DIR)/landing --warehouse $(DEMO_DIR)/warehouse
	$(C360) evaluate-identity --env $(ENV) --warehouse $(DEMO_DIR)/warehouse --truth $(DEMO_DIR)/landing/_truth
	$(C360) evaluate-models --env $(ENV) --warehouse $(DEMO_DIR)/warehouse --truth $(DEMO_DIR)/landing/_truth
	@# the scorecard again, now with identity precision/recall and the churn oracle from the evaluations
	$(C360) report --env $(ENV) --conf $(DEMO_DIR)/landing --warehouse $(DEMO_DIR)/warehouse

test: $(STAMP)   ## run the whole test suite (TEST_WORKERS=N: the files on N processes)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS)

test-fast: $(STAMP) ## unit tests only
	$(BIN)/python -m pytest tests/unit $(ARGS)

lint: $(STAMP)   ## static checks
	$(BIN)/ruff check c360 jobs tests bench

package: $(STAMP) ## build dist/c360.zip (for --py-files), a wheel and dist/c360-udf.jar (for --jars)
	@rm -rf dist && mkdir -p dist
	cd . && $(BIN)/python -m zipfile -c dist/c360.zip c360
	$(BIN)/python -m pip wheel --quiet --no-deps -w dist .
	cp "$$($(BIN)/python -m c360.jvm build)" dist/c360-udf.jar
	@ls -1 dist

submit: package  ## spark-submit JOB to MASTER: make submit JOB=resolve MASTER=spark://host:7077
	PATH="$(abspath $(BIN)):$$PATH" PYSPARK_PYTHON="$(abspath $(BIN))/python" \
	$(BIN)/spark-submit --master '$(MASTER)' \
	  --packages "$$($(C360) config packages --env $(ENV) $(CONF_ARGS))" \
	  $$(x=$$($(C360) config exclude-packages --env $(ENV) $(CONF_ARGS)); [ -n "$$x" ] && echo "--exclude-packages $$x") \
	  --jars "dist/c360-udf.jar$$(j=$$($(C360) config jars --env $(ENV) $(CONF_ARGS)); [ -n "$$j" ] && echo ",$$j")" \
	  --py-files dist/c360.zip jobs/$(JOB).py --env $(ENV) $(CONF_ARGS) $(ARGS)

cluster-up: $(STAMP) ## a Spark standalone master and two workers on this machine (prints spark://127.0.0.1:7077)
	@bash scripts/cluster.sh up

cluster-down:    ## stop them (nothing happens when they are not running)
	@bash scripts/cluster.sh down

$(JOBS): $(STAMP) ## one target per job: make ingest ARGS="--landing ..."
	$(C360) $@ --env $(ENV) $(ARGS)

run-all: $(STAMP) ## every stage in order
	$(C360) run all --env $(ENV) $(ARGS)

bench: $(STAMP)  ## measure speed and identity quality at several sizes; results to bench/results/
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench $(ARGS)
	$(BIN)/python -m bench.matching
	$(BIN)/python -m bench.graph_compare

bench-graph: $(STAMP) ## connected-components backends at 1M and 5M edges
	$(BIN)/python -m bench.graph_compare $(ARGS)

bench-matching: $(STAMP) ## identity resolution on FEBRL and the registry profile, beside Splink
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.matching $(ARGS)

docs: $(STAMP)   ## the documentation site from docs/ into site/ (mkdocs-material); tables.md from the registry
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	$(BIN)/python -m c360.tables > docs/tables.md
	$(BIN)/mkdocs build --strict --quiet

clean:           ## remove generated data, build output and caches (keeps .venv)
	rm -rf data dist build site *.egg-info spark-warehouse metastore_db derby.log .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
