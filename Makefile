# storycheck — `make demo` runs the whole system, `make test` installs what is missing and tests.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CLIENT_STAMP := client/node_modules/.installed-stamp
CLIENT_SOURCES := $(shell find client/src client/index.html client/vite.config.js -type f 2>/dev/null)
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` / `make test-fast` (0 = one process); see README "Tests".
PYTEST_WORKERS ?= 3
FAST_WORKERS ?= 3
# The fast tier: what needs no browser, PostgreSQL, Redis/Celery or live processes and engines
# (tests/conftest.py applies these markers by folder and fixture).
FAST_MARKERS := not slow and not browser and not postgres and not celery

.PHONY: install client chromium test test-fast test-python test-client run demo lint bench clean lock

install: $(STAMP)

# Exact versions with hashes from requirements.lock (reproducible), then storycheck itself.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# Re-resolve requirements.lock after a change of pyproject.toml's dependencies.
lock:
	$(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q uv
	.lock-venv/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
	  --python-version 3.11 -q -o requirements.lock
	rm -rf .lock-venv

$(CLIENT_STAMP): client/package.json client/package-lock.json
	cd client && npm ci --no-audit --no-fund
	touch $@

client/dist/index.html: $(CLIENT_STAMP) $(CLIENT_SOURCES)
	cd client && npm run build

client: client/dist/index.html

# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium could not be installed: browser tests will be skipped"

test-client: $(CLIENT_STAMP)
	cd client && npm test

# Tests sharing a live resource (the browser stack, Redis's queues) stay on one worker
# (`xdist_group`, set in tests/conftest.py).
test-python: install client chromium
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test: install client chromium lint test-client test-python

# The inner loop: unit and API tests on SQLite, about a minute.
test-fast: install
	$(PY) -m pytest -n $(FAST_WORKERS) -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

# ruff everywhere (with the complexity rule, C901); mypy --strict on the whole package.
lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy --strict src/storycheck

run: install client
	$(VENV)/bin/storycheck serve

# make demo PORT=5050 SIM_PORT=0 (0 = any free port for the simulator)
demo: install client
	$(VENV)/bin/storycheck demo $(if $(PORT),--port $(PORT)) $(if $(SIM_PORT),--sim-port $(SIM_PORT))

bench: install
	$(PY) bench/bench_state.py

clean:
	rm -rf $(VENV) client/node_modules client/dist
