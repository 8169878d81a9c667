# The two commands a newcomer runs: `make book` and `make test`. Both create .venv on first use.
# `make` alone sets up everything the tests need (.venv and the browser); `make test-fast` runs the unit lane.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= classroom
PYTEST_ARGS ?=
# the tests run in two worker processes of one thread each (pytest-xdist), as `make book` runs its kernels,
# a test file at a time (its module fixtures, e.g. a Ray cluster, built once), in the order the lanes are
# listed (the long e2e and book files first, the short unit files fill the end); WORKERS=0: in one process
WORKERS ?= 2
XDIST := -n $(WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: all install browser book test test-fast explore lint format bench clean-book clean

all: install browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,ray]"
	touch $(STAMP)

install: $(STAMP)

# The browser the tests open the pages in: Debian's chromium, and the colour emoji font the emoji world's
# atlas is drawn from, installed with apt-get where either is missing (through sudo when not root).
# The tests never install them.
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
browser:
	@{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } && [ -f $(EMOJI_FONT) ] || { \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  echo "installing Debian's chromium and the emoji font (apt-get)"; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium fonts-noto-color-emoji; }

# the CPU profiles run two sections at a time (two one-thread kernels outrun one two-thread kernel)
JOBS ?= $(if $(filter classroom smoke,$(PROFILE)),2,1)
book: $(STAMP)
	$(BIN)/clipinv book --profile $(PROFILE) --jobs $(JOBS)

# every lane: tests/unit, tests/book (notebooks, golden headlines, plan, article), tests/e2e (site, explorer, Ray)
test: $(STAMP) browser lint
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# the unit lane alone: the package, in minutes
test-fast: $(STAMP) browser
	$(BIN)/python -m pytest $(XDIST) tests/unit $(PYTEST_ARGS)

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
