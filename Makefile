# tradingd — every target creates the virtual environment on first use and installs
# what it needs; re-running is cheap because installation is keyed on pyproject.toml.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
CONFIG ?= config/paper.toml
BENCH ?=
PYTEST_ARGS ?=

.PHONY: run test test-slow lint bench fmt clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,demo]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tradingd run --config $(CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: lint
	@set +e; $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

test-slow: $(STAMP)
	@set +e; $(BIN)/python -m pytest -m slow $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no slow tests collected"; exit 0; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/python -m tests.bench $(BENCH)

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis var
