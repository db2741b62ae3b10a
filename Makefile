# poisk: `make run` sets up and serves the seeds, `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint index browser clean

run: index
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

index: $(STAMP)
	$(PY) manage.py reindex --if-stale

test: $(STAMP) browser
	$(PY) -m pytest

# The browser test drives Debian's Chromium; install it where we may (root), else it skips.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium chromium-driver >/dev/null; \
	  else echo "chromium is not installed: the browser test will be skipped"; fi; \
	fi

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# torch goes in first and alone: its CPU wheel is pinned here, and anything that pulled
# torch in by itself would fetch the CUDA build (gigabytes).
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --editable .
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
