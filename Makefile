# The two commands of the README:
#   make serve   run keyless on the embedded default (SQLite, in-memory limits, dev mailbox)
#   make test    lint, type-check and run the whole test suite (what CI runs)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# Browser tests drive Debian's chromium with Playwright; Playwright's own browser download is never used.
CHROMIUM := /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: serve test lint typecheck pytest browser-deps proxy-deps sdk-deps proto bench clean example-fastapi example-flask

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# The Python SDK (its own distribution, sdk/python) and what the example applications import.
$(VENV)/.installed-examples: sdk/python/pyproject.toml examples/requirements.txt | $(VENV)/.installed
	$(BIN)/pip install --quiet -e './sdk/python[fastapi,flask]' -r examples/requirements.txt
	touch $@

serve: $(VENV)/.installed
	$(BIN)/keyless serve

# The examples run against a local keyless (`make serve` in another terminal). The first run registers
# the example with `keyless setup` and writes its .env; later runs reuse it.
example-fastapi: $(VENV)/.installed-examples
	@test -f examples/fastapi_headless/.env || $(BIN)/keyless setup --no-input --name "FastAPI example" \
	  --app-url http://localhost:3000 --env-file examples/fastapi_headless/.env
	$(BIN)/python examples/fastapi_headless/app.py

example-flask: $(VENV)/.installed-examples
	@test -f examples/flask_redirect/.env || $(BIN)/keyless setup --no-input --name "Flask example" \
	  --app-url http://localhost:5001 --env-file examples/flask_redirect/.env
	$(BIN)/python examples/flask_redirect/app.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench sdk examples
	$(BIN)/ruff format --check src tests bench sdk examples

typecheck: $(VENV)/.installed-dev $(VENV)/.installed-examples
	$(BIN)/mypy
	$(BIN)/mypy --strict examples/fastapi_headless/app.py
	$(BIN)/mypy --strict examples/flask_redirect/app.py

pytest: $(VENV)/.installed-dev $(VENV)/.installed-examples browser-deps proxy-deps sdk-deps
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

# The deployment guide's nginx configurations are tested with Debian's nginx and its stream module (the
# layer-4 one; tests/integration/scale); installed when missing (apt-get, as root), a no-op when there.
NGINX := /usr/sbin/nginx
NGINX_STREAM := /usr/lib/nginx/modules/ngx_stream_module.so
proxy-deps:
	@if [ ! -x $(NGINX) ] || [ ! -f $(NGINX_STREAM) ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "error: nginx or its stream module is missing; as root run: apt-get install nginx libnginx-mod-stream" >&2; \
	    exit 1; \
	  fi; \
	  echo "proxy-deps: installing Debian's nginx and libnginx-mod-stream"; \
	  log=$$(mktemp); export DEBIAN_FRONTEND=noninteractive; \
	  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx libnginx-mod-stream; } \
	       >"$$log" 2>&1; then \
	    cat "$$log" >&2; rm -f "$$log"; exit 1; \
	  fi; \
	  rm -f "$$log"; \
	fi

# The official Scalekit Node SDK for tests/e2e/scalekit, at the version package-lock.json pins
# (node_modules/ is not in git). The Python SDK comes with the dev extra.
NODE_SDK := tests/sdk/node
sdk-deps: $(NODE_SDK)/node_modules/.installed

$(NODE_SDK)/node_modules/.installed: $(NODE_SDK)/package.json $(NODE_SDK)/package-lock.json
	cd $(NODE_SDK) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Regenerate the checked-in protobuf modules after editing src/keyless/grpc/proto/*.proto.
proto: $(VENV)/.installed-dev
	$(BIN)/python scripts/gen_proto.py

test: lint typecheck pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/headless_flow.py

clean:
	rm -rf $(VENV) keyless-data .pytest_cache .mypy_cache .ruff_cache
