# poisk: `make run` sets up and serves the seeds, `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint index clean

run: index
	@echo "index ready at $${POISK_INDEX:-var/index} (serving arrives with the search service)"

index: $(STAMP)
	$(PY) manage.py reindex --if-stale

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# torch goes in first and alone: its CPU wheel is pinned here, and anything that pulled
# torch in by itself would fetch the CUDA build (gigabytes).
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
