# avisa: `make run` starts it on SQLite, `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format install bench chaos clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "avisa needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/avisa init
	exec $(BIN)/avisa serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench chaos
	$(BIN)/ruff format --check src tests bench chaos
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n auto

format: $(STAMP)
	$(BIN)/ruff format src tests bench chaos
	$(BIN)/ruff check --fix src tests bench chaos

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Fault injection on PostgreSQL with 4 workers and an API process (several minutes);
# `make chaos CHAOS_ARGS=--short` is the form CI runs inside `make test`.
chaos: $(STAMP)
	$(BIN)/python -m chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
