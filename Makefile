# PyMeet. `make run` starts a server; `make test` installs everything and runs the suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test lint typecheck unit chat gui bench clean help

help:
	@echo "make run    start a server on the embedded defaults (data in ./data)"
	@echo "make test   install system and Python test dependencies, lint, run every test"
	@echo "make chat   start the command-line client against the local server"
	@echo "make gui    start the desktop client (Tk)"
	@echo "make bench  measure relay throughput and latency, end-to-end latency, video cost"

$(VENV)/.run-installed: pyproject.toml
	PYTHON=$(PYTHON) scripts/system-deps.sh run
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[server]'
	touch $@

$(VENV)/.test-installed: pyproject.toml
	PYTHON=$(PYTHON) scripts/system-deps.sh test
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[server,client,dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(PY) -m pymeet server

chat: $(VENV)/.run-installed
	$(PY) -m pymeet chat

gui: $(VENV)/.test-installed
	$(PY) -m pymeet gui

bench: $(VENV)/.test-installed
	$(PY) -m pymeet bench

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check src tests main.py Client

typecheck: $(VENV)/.test-installed
	$(VENV)/bin/mypy

test: lint typecheck
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
