# The two commands of the README:
#   make serve   run keyless on the embedded default (SQLite, in-memory limits, dev mailbox)
#   make test    lint, type-check and run the whole test suite (what CI runs)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# Browser tests drive Debian's chromium with Playwright; Playwright's own browser download is never used.
CHROMIUM := /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: serve test lint typecheck pytest browser-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

serve: $(VENV)/.installed
	$(BIN)/keyless serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev browser-deps
	$(BIN)/python -m pytest

# Installs chromium when it is missing (apt-get, as root); a no-op when it is there.
browser-deps:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "error: $(CHROMIUM) is missing; as root run: apt-get install chromium fonts-liberation" >&2; \
	    exit 1; \
	  fi; \
	  echo "browser-deps: installing Debian's chromium"; \
	  log=$$(mktemp); export DEBIAN_FRONTEND=noninteractive; \
	  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
	         chromium fonts-liberation; } >"$$log" 2>&1; then \
	    cat "$$log" >&2; rm -f "$$log"; exit 1; \
	  fi; \
	  rm -f "$$log"; \
	fi

test: lint typecheck pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/headless_flow.py

clean:
	rm -rf $(VENV) keyless-data .pytest_cache .mypy_cache .ruff_cache
