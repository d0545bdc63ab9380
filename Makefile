# videotasks: every command installs what it needs, so each works on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The interpreter matches the Lambda runtime (python3.13); with pyenv, .python-version resolves it.
PYTHON ?= python3.13
PYTHON_MINOR := $(shell cut -d. -f1,2 .python-version)
VENV := .venv
BIN := $(VENV)/bin
# SAM CLI pins an older boto3 than the project's, so it lives in a venv of its own.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
# The outside judges of the template (cfn-lint, checkov): checkov pins an older boto3 again, so a third venv.
JUDGES_VENV := .venv-judges
# npm judges, installed into a folder of their own: asl-validator for the state machine definition,
# @asyncapi/parser for docs/asyncapi.yaml, openapi-typescript and typescript for the client generated from
# docs/openapi.json, axe-core for the console's accessibility in the browser tests.
JUDGES_NPM := .judges-npm
ASL_VALIDATOR_VERSION := 4.0.0
ASYNCAPI_PARSER_VERSION := 3.6.6
OPENAPI_TYPESCRIPT_VERSION := 7.13.0
TYPESCRIPT_VERSION := 5.9.3
AXE_CORE_VERSION := 4.14.1
JUDGES_NPM_PACKAGES := asl-validator@$(ASL_VALIDATOR_VERSION) @asyncapi/parser@$(ASYNCAPI_PARSER_VERSION) \
	openapi-typescript@$(OPENAPI_TYPESCRIPT_VERSION) typescript@$(TYPESCRIPT_VERSION) axe-core@$(AXE_CORE_VERSION)
JUDGES_NPM_STAMP := $(JUDGES_NPM)/.installed-$(subst /,-,$(subst @,-,$(subst $() ,_,$(strip $(JUDGES_NPM_PACKAGES)))))
PIP_FLAGS := --quiet --disable-pip-version-check
export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := layers/common/python:.
# `make token USER=alice`; the login name the shell exports as USER is not what anyone means here.
TOKEN_USER := $(if $(filter command line,$(origin USER)),$(USER),dev-user)

.PHONY: help install dev test token deploy smoke lint typecheck unit integration e2e browser browser-deps postgres-deps sam-validate sam-build judges judges-install openapi asyncapi bench reliability clean

help:
	@echo "make dev | test | token USER=alice | deploy   (see README.md); also: install lint typecheck unit"
	@echo "integration e2e browser browser-deps postgres-deps sam-validate sam-build judges openapi asyncapi bench reliability clean"
	@echo "smoke API_URL=… WS_URL=… TOKEN=… [MODEL=…] [TYPE=IMAGE|VIDEO]   (a deployed stack end to end)"

# A venv is (re)made when missing or built on another Python minor version; a stamp per venv records
# that its requirements are installed, and is older than them when they change, which reinstalls.
define ensure_venv
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python $(PYTHON_MINOR) (pyenv install $(PYTHON_MINOR))" >&2; exit 1; }
	@if ! $(1)/bin/python -c 'import sys; sys.exit(f"{sys.version_info[0]}.{sys.version_info[1]}" != "$(PYTHON_MINOR)")' 2>/dev/null; then \
		rm -rf $(1) && $(PYTHON) -m venv $(1); fi
	$(1)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
endef

# requirements-dev.txt includes the layer's requirements with -r.
LAYER_REQUIREMENTS := $(wildcard layers/*/requirements.txt layers/*/python/requirements.txt)

# The project itself, editable and without its dependencies (requirements-dev.txt has them): gives
# .venv/bin/videotasks, the command line the e2e tests also run as a console script.
$(BIN)/.installed: requirements-dev.txt requirements-cli.txt pyproject.toml $(LAYER_REQUIREMENTS) .python-version
	$(call ensure_venv,$(VENV))
	$(BIN)/pip install $(PIP_FLAGS) -r requirements-dev.txt
	$(BIN)/pip install $(PIP_FLAGS) --no-deps -e .
	@touch $@

$(SAM_VENV)/.installed: requirements-sam.txt .python-version
	$(call ensure_venv,$(SAM_VENV))
	$(SAM_VENV)/bin/pip install $(PIP_FLAGS) -r requirements-sam.txt
	@touch $@

$(JUDGES_VENV)/.installed: requirements-judges.txt .python-version
	$(call ensure_venv,$(JUDGES_VENV))
	$(JUDGES_VENV)/bin/pip install $(PIP_FLAGS) -r requirements-judges.txt
	@touch $@

# Without npm the ASL, AsyncAPI, generated-client and console accessibility checks are skipped (the tests say so);
# everything else still runs. One install of all of them: an `npm install --no-save` of one package removes the others.
$(JUDGES_NPM_STAMP):
	@if command -v npm >/dev/null; then \
		npm install --prefix $(JUDGES_NPM) --no-save --no-audit --no-fund --silent $(JUDGES_NPM_PACKAGES) \
		&& touch $@; else echo "npm not found: the asl-validator, AsyncAPI parser, generated-client and axe-core checks will be skipped" >&2; fi

judges-install: $(JUDGES_VENV)/.installed $(JUDGES_NPM_STAMP)

install: $(BIN)/.installed $(SAM_VENV)/.installed judges-install

dev: $(BIN)/.installed
	$(BIN)/python -m local

token: $(BIN)/.installed
	@$(BIN)/python -m local.token --user "$(TOKEN_USER)"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

# Both run offline: `--lint` needs no region or credentials, and the build only asks PyPI for the
# layer's arm64 wheels. `--cached` reuses .aws-sam/cache and .aws-sam/deps while sources and
# requirements are unchanged.
sam-validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint

sam-build: $(SAM_VENV)/.installed
	$(SAM) build --cached --parallel

# cfn-lint, checkov and asl-validator against tests/static/judges_baseline.yaml, plus the invoke-permission
# graph of the transformed template (make test runs the same tests with the rest).
judges: $(BIN)/.installed judges-install
	$(BIN)/python -m pytest tests/static

# The console's browser tests drive Debian's Chromium through Playwright (never `playwright install`:
# its browser downloads are not reachable everywhere). Installed once, with sudo when not root.
browser-deps:
	@command -v chromium >/dev/null || { $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive \
		sh -c 'apt-get update && apt-get install -y --no-install-recommends chromium'; }

# The importer's tests start a PostgreSQL server of their own (tests/legacy_postgres.py): Debian's
# postgresql package gives initdb and pg_ctl (in /usr/lib/postgresql/<version>/bin). Installed once, with
# sudo when not root; the package's own cluster is not used.
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || { \
		$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive \
		sh -c 'apt-get update && apt-get install -y --no-install-recommends postgresql'; }

# The whole suite with branch coverage: the floor is `fail_under` in pyproject.toml, and the handlers
# the e2e tests drive inside the local stack's process count too (coverage's subprocess patch). The
# slowest tests are listed, so a suite that creeps up shows in every CI log. pytest-xdist runs whole test
# files on TEST_WORKERS processes; `make test TEST_WORKERS=0` runs everything in one process.
# The `reliability` tests (concurrency, races and storms through local stacks, minutes each) are
# `make reliability`'s, not this target's.
TEST_WORKERS ?= 2
test: $(BIN)/.installed judges-install browser-deps postgres-deps lint typecheck sam-validate sam-build
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not reliability" --cov --cov-report=term-missing:skip-covered --durations=15

# One suite at a time, for a quick loop; no coverage floor, which is for the whole suite.
unit integration e2e: $(BIN)/.installed
	$(BIN)/python -m pytest tests/$@
e2e: browser-deps postgres-deps $(JUDGES_NPM_STAMP)
integration: postgres-deps

# Just the console in the browser; `make browser UPDATE_SCREENSHOTS=1` also rewrites docs/console.png.
browser: $(BIN)/.installed browser-deps $(JUDGES_NPM_STAMP)
	UPDATE_SCREENSHOTS=$(UPDATE_SCREENSHOTS) $(BIN)/python -m pytest -m browser tests/e2e

deploy: $(SAM_VENV)/.installed
	$(SAM) build && $(SAM) deploy $(if $(wildcard samconfig.toml),,--guided)

# A deployed stack end to end (docs/DEPLOYMENT.md, "Smoke test a deployed stack"). The token travels in
# the environment, never on a command line or in make's echo of the recipe.
smoke: export SMOKE_TOKEN = $(TOKEN)
smoke: $(BIN)/.installed
	@if [ -z "$(API_URL)" ] || [ -z "$(WS_URL)" ] || [ -z "$$SMOKE_TOKEN" ]; then \
		echo "usage: make smoke API_URL=https://…/api/video WS_URL=wss://…/<stage> TOKEN=<JWT> [MODEL=…] [TYPE=IMAGE|VIDEO]" >&2; exit 2; fi
	$(BIN)/python -m tests.smoke --api-url "$(API_URL)" --ws-url "$(WS_URL)" $(if $(MODEL),--model "$(MODEL)") $(if $(TYPE),--type "$(TYPE)")

openapi: $(BIN)/.installed
	$(BIN)/python -m local.openapi_export

asyncapi: $(BIN)/.installed
	$(BIN)/python -m local.asyncapi_export

bench: $(BIN)/.installed
	$(BIN)/python -m bench

# First the short concurrency, race and storm variants (the tests marked `reliability`, one stack at a time),
# then provider faults and concurrency at full size through the local stack, printing the table
# docs/RELIABILITY.md records. Shorter: `make reliability RELIABILITY_ARGS="--tasks 5"`; the table alone:
# `make reliability RELIABILITY_TESTS=`.
RELIABILITY_TESTS ?= tests
reliability: $(BIN)/.installed
	$(if $(RELIABILITY_TESTS),$(BIN)/python -m pytest -m reliability $(RELIABILITY_TESTS))
	$(BIN)/python -m bench.reliability $(RELIABILITY_ARGS)

clean:
	rm -rf $(VENV) $(SAM_VENV) $(JUDGES_VENV) $(JUDGES_NPM) .aws-sam .pytest_cache .ruff_cache .mypy_cache .coverage .coverage.*
