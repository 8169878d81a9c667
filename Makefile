# The two commands a newcomer runs: `make book` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= classroom
PYTEST_ARGS ?=

.PHONY: install book test explore lint format bench clean-book clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,ray]"
	touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	$(BIN)/clipinv book --profile $(PROFILE)

test: $(STAMP) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

explore: $(STAMP)
	$(BIN)/clipinv explore

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/throughput.py

clean-book:
	rm -rf book/_generated book/_build

clean: clean-book
	rm -rf $(VENV)
