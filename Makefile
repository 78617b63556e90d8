# Rota Segura — every command a developer or CI needs. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON311 ?= $(shell for p in python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; done)
PYTHON310 ?= $(shell for p in python3.10 $(HOME)/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1 && { command -v $$p; break; }; done)

VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
APP_STAMP := $(VENV)/.installed
RASA_STAMP := $(RASA_VENV)/.installed
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: help run test soak lint format content-check content-status content-stamp train eval pipelines bench clean browser compose

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(APP_STAMP): requirements/app.lock requirements/dev.lock pyproject.toml
	@test -n "$(PYTHON311)" || { echo "Python >= 3.11 is needed for the gateway"; exit 1; }
	$(PYTHON311) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_QUIET) -r requirements/dev.lock
	$(VENV)/bin/pip install $(PIP_QUIET) --no-deps -e .
	@touch $@

$(RASA_STAMP): rasa_project/requirements.lock
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is needed for the Rasa engine (rasa 3.6)"; exit 1; }
	$(PYTHON310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install $(PIP_QUIET) pip==24.0
	$(RASA_VENV)/bin/pip install $(PIP_QUIET) --no-deps -r rasa_project/requirements.lock
	@touch $@

train: $(APP_STAMP) $(RASA_STAMP) ## train the Rasa model unless one matches the data
	$(PY) -m tools.model train

run: $(APP_STAMP) $(RASA_STAMP) train ## start the engine and the gateway on http://127.0.0.1:$${PORT:-8000}
	$(PY) -m tools.run_local

lint: $(APP_STAMP) ## ruff (lint + format check) and mypy --strict
	$(VENV)/bin/ruff check bot handlers tests tools bench
	$(VENV)/bin/ruff format --check bot handlers tests tools bench
	$(VENV)/bin/mypy

format: $(APP_STAMP) ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix bot handlers tests tools bench
	$(VENV)/bin/ruff format bot handlers tests tools bench

content-check: $(APP_STAMP) ## validate content/ (file:line messages, exit 1 on any error)
	$(PY) -m bot.content.check

content-status: $(APP_STAMP) ## translation status: topics x languages (complete, missing, outdated)
	$(PY) -m bot.content.status

content-stamp: $(APP_STAMP) ## mark translations up to date: make content-stamp FILES="content/topics/x/pt.yml ..."
	@test -n "$(FILES)" || { echo 'name the files: make content-stamp FILES="content/topics/<topic>/<lang>.yml"'; exit 2; }
	$(PY) -m bot.content.status stamp $(FILES)

browser: ## Debian's chromium for the console's browser tests (installed once with apt-get)
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }

compose: ## docker-compose, to validate docker-compose.yml offline (installed once with apt-get)
	@command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq docker-compose; }

test: lint content-check train browser compose ## the whole test suite (what CI runs; fault tests in their short form)
	$(PY) -m pytest

soak: $(APP_STAMP) train ## the fault and fuzz suite in its long form (2,000-message runs, 10,000 fuzzed requests)
	SOAK=1 $(PY) -m pytest tests/faults -p no:cacheprovider

eval: $(APP_STAMP) $(RASA_STAMP) train ## held-out accuracy through the web API + per-language cross-validation; writes docs/quality.md
	$(PY) -m tools.eval
	$(PY) -m tools.quality.crossval

pipelines: $(APP_STAMP) $(RASA_STAMP) ## compare the NLU configs in tools/quality/configs (about 25 min); writes docs/quality.md
	$(PY) -m tools.quality.pipelines

bench: $(APP_STAMP) $(RASA_STAMP) train ## the app against Rasa alone (about 9 min; BENCH_ARGS="--quick" for 4); writes docs/benchmarks.md
	$(PY) -m bench.run

clean: ## remove environments, models and local data
	rm -rf $(VENV) $(RASA_VENV) rasa_project/models var .pytest_cache .mypy_cache .ruff_cache
