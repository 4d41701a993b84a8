# Every target installs what it needs into .venv first, so each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= rendered/demo

.PHONY: venv demo test lint typecheck golden bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: compile every example (strict) into rendered/demo/, show its waves, object counts and
## warnings, validate, and show the first step of one upgrade plan (scripts/demo.sh)
demo: venv
	@BIN=$(BIN) DEMO_OUT=$(DEMO_OUT) scripts/demo.sh

## test: the whole suite (unit, golden, conformance, CLI), then lint and types
test: venv
	$(BIN)/pytest -q
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

## golden: rewrite tests/golden/*/expected.yaml; review `git diff tests/golden` before committing
golden: venv
	$(BIN)/python -m tests.golden_update

## bench: speed figures, side by side (see benchmarks/README.md)
bench: venv
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis tools/mermaid-parser/node_modules
