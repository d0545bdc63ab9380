# videotasks: every command installs what it needs, so each works on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.13
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := layers/common/python:.
USER ?= dev-user

.PHONY: openapi dev test token deploy lint typecheck unit integration e2e browser sam-validate sam-build bench reliability clean

$(BIN)/.installed: requirements-dev.txt layers/common/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@

$(SAM_VENV)/.installed:
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet "aws-sam-cli>=1.170,<2"
	@touch $@

install: $(BIN)/.installed

dev: $(BIN)/.installed
	$(BIN)/python -m local

token: $(BIN)/.installed
	@$(BIN)/python -m local.token --user "$(USER)"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

sam-validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint

sam-build: $(SAM_VENV)/.installed
	$(SAM) build --cached --parallel

test: $(BIN)/.installed lint typecheck sam-validate sam-build
	$(BIN)/python -m pytest

deploy: $(SAM_VENV)/.installed
	$(SAM) build && $(SAM) deploy $(if $(wildcard samconfig.toml),,--guided)

openapi: $(BIN)/.installed
	$(BIN)/python -m local.openapi_export

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache .coverage
