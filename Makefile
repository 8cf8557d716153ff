# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv from nothing.
# `make demo` installs gitrun with the runtime extras the demo uses and nothing else; `make test` adds
# the test tools (MLflow, gto, Playwright, moto... in the dev extra).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_EXTRAS := demo
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(DEMO_EXTRAS)]'
	touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(RUNTIME_STAMP) $(STAMP)

install: $(STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/python demo/run_demo.py $(DEMO_DIR)

test: $(STAMP)
	bash scripts/install-system-deps.sh
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check gitrun tests bench demo examples
	$(BIN)/ruff format --check gitrun tests bench demo examples
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache demo-repo
