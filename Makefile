# The verbs people type. README.md names two: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install run test lint synth layer bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

run: install layer
	$(BIN)/python -m infra.local

# The whole suite: lint and types first (cheap, and main must stay clean), then every test layer.
test: install layer lint
	$(BIN)/python -m pytest -n 2

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The Lambda deps layer (build/deps-layer-<fingerprint>), built without Docker; a no-op when up to date.
layer: install
	$(BIN)/python layers/deps/build.py

# The CloudFormation template (cdk-nag included) into cdk.out/; `npx aws-cdk@2 synth` does the same.
synth: layer
	$(BIN)/python -m infra.app

# Benchmarks print their figures (docs/benchmarks.md records them); they never fail on time.
bench: layer
	$(BIN)/python bench/synth.py
	$(BIN)/python bench/startup.py --runs 3
	$(BIN)/python bench/loop_latency.py
	$(BIN)/python bench/bank_latency.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/daily_job.py

clean:
	rm -rf $(VENV) build cdk.out .scf-local
