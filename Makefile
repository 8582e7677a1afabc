# The two commands of the README, each self-sufficient on a fresh machine:
#   make synth   set up, synthesize every stage of the reference app, print a summary
#   make test    set up, then lint, type check, pytest, cdk synth + cfn-lint
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# Node 24 and the pinned CDK CLI live in the venv / node_modules: put them first.
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_CLI_NOTICES := false

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CDK_OUT := cdk.out
# Each function folder is its own code root; lambda_src/shared/ is the shared layer, whose
# package (lambda_src/shared/python) every function sees on its path, as on Lambda.
SHARED_LAYER := lambda_src/shared/python
LAMBDA_DIRS := $(filter-out lambda_src/shared/,$(wildcard lambda_src/*/))

.PHONY: help setup synth test lint typecheck pytest cfn-lint clean

help:
	@echo "make synth   set up everything, synthesize the reference app, print a summary"
	@echo "make test    set up everything, then run every check (lint, types, pytest, cfn-lint)"
	@echo "make clean   remove cdk.out and tool caches (keeps .venv and node_modules)"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when pyproject.toml changes: a fast no-op otherwise.
$(PY_STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(PY_STAMP) $(NODE_STAMP)

synth: setup
	rm -rf $(CDK_OUT)
	cdk synth --quiet --output $(CDK_OUT) '**'
	$(VENV)/bin/python tools/synth_summary.py $(CDK_OUT)

lint: setup
	ruff check .
	ruff format --check .

typecheck: setup
	mypy
	MYPYPATH=$(SHARED_LAYER) mypy --strict --explicit-package-bases $(SHARED_LAYER)
	@for dir in $(LAMBDA_DIRS); do \
		echo "mypy $$dir"; \
		MYPYPATH=$$dir:$(SHARED_LAYER) mypy --strict --explicit-package-bases $$dir || exit 1; \
	done

pytest: setup
	$(VENV)/bin/python -m pytest

# Synthesizes through the pinned CLI (cdk-nag fails it on any unacknowledged finding),
# then lints every template; .cfnlintrc.yaml holds the short, commented ignore list.
cfn-lint: synth
	cfn-lint $$(find $(CDK_OUT) -name '*.template.json' | sort)

test: lint typecheck pytest cfn-lint
	@echo "make test: every check passed"

clean:
	rm -rf $(CDK_OUT) .pytest_cache .mypy_cache .ruff_cache
