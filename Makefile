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
# Each container service folder (Dockerfile + its package) is a code root of its own too.
CONTAINER_DIRS := $(wildcard container_src/*/)
# Our layer of the functions' third-party runtime dependencies (Powertools, fastjsonschema,
# ...), installed from the pins in RUNTIME_REQUIREMENTS as wheels for Lambda's Python 3.14 on
# arm64. Its copy of the requirements file is the build's target: the layer is rebuilt
# when the file changes or the folder is gone, and stacks/runtime_layers.py refuses to
# synthesize a layer whose copy differs from the file.
RUNTIME_REQUIREMENTS := lambda_src/runtime-requirements.txt
RUNTIME_LAYER := build/lambda-layers/runtime
RUNTIME_LAYER_BUILT := $(RUNTIME_LAYER)/requirements.txt
# Debian packages whose servers the service tests start on loopback (tools/test_servers.py).
TEST_SERVER_PACKAGES := postgresql redis-server
# Debian's Chromium, which the web UI's browser tests (tests/browser) drive through Playwright:
# no browser download (`playwright install`) is needed or possible. DejaVu gives it text.
BROWSER_PACKAGES := chromium fonts-dejavu-core
CHROMIUM := /usr/bin/chromium
BROWSER_FONT := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
WEB_DEV_PORT ?= 8000
# Debian's Graphviz, whose `dot` draws the diagrams of docs/architecture.md (make report).
REPORT_PACKAGES := graphviz
# The floor environment: the oldest aws-cdk-lib and constructs the library declares, cdk-nag
# at its floor and AWS Solutions Constructs 2.105 (tests/floor-requirements.txt), with the
# library installed from a wheel of this checkout, not editable. Its packages are
# reinstalled only when the requirements file changes; the wheel is rebuilt when the
# library's sources or pyproject.toml change.
FLOOR_VENV := .venv-floor
FLOOR_REQUIREMENTS := tests/floor-requirements.txt
FLOOR_STAMP := $(FLOOR_VENV)/.installed
FLOOR_LIBRARY := $(FLOOR_VENV)/.library
FLOOR_WHEELHOUSE := build/floor-wheel
LIBRARY_SOURCES := $(shell find constructs/cdk_microservices -type f -not -path '*/__pycache__/*')

.PHONY: help setup runtime-layer test-servers browser graphviz screenshot web-dev synth report bench test lint typecheck pytest test-floor cfn-lint clean

help:
	@echo "make synth   set up everything, synthesize the reference app, print a summary"
	@echo "make test    set up everything, then run every check (lint, types, pytest, cfn-lint)"
	@echo "make bench   measure synth, make test, cold imports and sizes into bench/results.md,"
	@echo "             load and faults of the transfers service into bench/load.md, bench/faults.md"
	@echo "make runtime-layer   build the functions' dependency layer (synth and test do it)"
	@echo "make test-floor      the construct tests and a consumer app at the oldest supported aws-cdk-lib (test does it)"
	@echo "make browser         install Debian's chromium for the browser tests (pytest does it)"
	@echo "make web-dev         serve web_src/ with the API and Cognito fakes on http://127.0.0.1:$(WEB_DEV_PORT)/"
	@echo "make screenshot      regenerate docs/web-ui.png (the web UI, against the fakes)"
	@echo "make report          synthesize, then regenerate docs/architecture.md and its diagrams"
	@echo "make clean   remove cdk.out, the built runtime layer and tool caches (keeps .venv and node_modules)"

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

# Built in a scratch folder and moved into place, so a failed build leaves no half layer.
# --no-compile and no __pycache__: Lambda cannot use bytecode compiled by this machine's
# Python, and the folder's content (so the asset hash) stays the same from build to build.
$(RUNTIME_LAYER_BUILT): $(RUNTIME_REQUIREMENTS) | $(PY_STAMP)
	rm -rf $(RUNTIME_LAYER) $(RUNTIME_LAYER).tmp
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		--target $(RUNTIME_LAYER).tmp/python \
		--platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 \
		--implementation cp --python-version 3.14 --only-binary=:all: \
		--no-deps --no-compile -r $(RUNTIME_REQUIREMENTS)
	find $(RUNTIME_LAYER).tmp -name __pycache__ -prune -exec rm -rf {} +
	find $(RUNTIME_LAYER).tmp -name '*.pyc' -delete
	cp $(RUNTIME_REQUIREMENTS) $(RUNTIME_LAYER).tmp/requirements.txt
	mv $(RUNTIME_LAYER).tmp $(RUNTIME_LAYER)

runtime-layer: $(RUNTIME_LAYER_BUILT)

# PostgreSQL and Redis for tests/services: installed from Debian when missing (needs root,
# as on CI). The packages' own services are kept from starting (policy-rc.d answers 101
# during the install) and stopped if they run: the tests start throwaway servers on free
# loopback ports and stop them afterwards.
test-servers:
	@if command -v redis-server >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then \
		exit 0; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "make test-servers: install the Debian packages $(TEST_SERVER_PACKAGES) (needs root)" >&2; \
		exit 1; \
	fi; \
	policy=/usr/sbin/policy-rc.d; own_policy=; \
	if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' >$$policy; chmod 755 $$policy; own_policy=1; fi; \
	trap '[ -z "$$own_policy" ] || rm -f '$$policy EXIT; \
	apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEST_SERVER_PACKAGES) >/dev/null; \
	if command -v pg_ctlcluster >/dev/null; then \
		pg_lsclusters --no-header 2>/dev/null | while read -r version cluster _; do \
			pg_ctlcluster --mode fast "$$version" "$$cluster" stop >/dev/null 2>&1 || true; \
		done; \
	fi; \
	[ ! -x /etc/init.d/redis-server ] || /etc/init.d/redis-server stop >/dev/null 2>&1 || true

# Chromium for tests/browser and the screenshot: installed from Debian when missing (needs
# root, as on CI), like the test servers. It needs no service of its own.
browser:
	@if [ -x $(CHROMIUM) ] && [ -e $(BROWSER_FONT) ]; then \
		exit 0; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "make browser: install the Debian packages $(BROWSER_PACKAGES) (needs root)" >&2; \
		exit 1; \
	fi; \
	apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null

# With aws-cdk-lib's built-in CloudFormation validation, which a plain `cdk synth` of the
# app leaves off (app.py): make synth, and so make test's cfn-lint step, keep running it.
synth: setup $(RUNTIME_LAYER_BUILT)
	rm -rf $(CDK_OUT)
	cdk synth --quiet -c cfn-validation=true --output $(CDK_OUT) '**'
	$(VENV)/bin/python tools/synth_summary.py $(CDK_OUT)

# Graphviz for the report's diagrams: installed from Debian when missing (needs root, as on
# CI), like the test servers and the browser.
graphviz:
	@if command -v dot >/dev/null; then \
		exit 0; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "make graphviz: install the Debian package $(REPORT_PACKAGES) (needs root)" >&2; \
		exit 1; \
	fi; \
	apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(REPORT_PACKAGES) >/dev/null

# docs/architecture.md, docs/architecture/<stage>.dot and .svg, from the assembly that the
# synth writes (tools/architecture_report.py); tests/tools/test_architecture_report.py fails
# when the committed report differs from what the templates give.
report: synth graphviz
	$(VENV)/bin/python -m tools.architecture_report $(CDK_OUT) docs

# bench/results.md + results.json and the README's quoted figures (tools/bench.py): synths
# side by side, one warm `make test`, cold imports, asset and template sizes. BENCH_ARGS
# passes options, e.g. `make bench BENCH_ARGS=--bench-only` skips the make test run.
# Then the transfers service under load and faults, long form (tools/loadtest: bench/load.md,
# bench/faults.md, the README's load lines; LOAD_ARGS passes options, e.g. --no-throughput).
BENCH_ARGS ?=
LOAD_ARGS ?=
# Last, the property tests with hypothesis's long profile (400 examples each; make test runs
# the short one).
PROPERTY_TESTS := tests/unit/test_argument_properties.py tests/handlers/statements/test_statements_properties.py
bench: setup test-servers $(RUNTIME_LAYER_BUILT)
	$(VENV)/bin/python tools/bench.py $(BENCH_ARGS)
	$(VENV)/bin/python -m tools.loadtest $(LOAD_ARGS)
	HYPOTHESIS_PROFILE=long $(VENV)/bin/python -m pytest -q -p no:cacheprovider $(PROPERTY_TESTS)

lint: setup
	ruff check .
	ruff format --check .

typecheck: setup
	mypy
	MYPYPATH=$(SHARED_LAYER) mypy --strict --explicit-package-bases $(SHARED_LAYER)
	MYPYPATH=tests/browser mypy --strict --explicit-package-bases tests/browser
	@for dir in $(LAMBDA_DIRS); do \
		echo "mypy $$dir"; \
		MYPYPATH=$$dir:$(SHARED_LAYER) mypy --strict --explicit-package-bases $$dir || exit 1; \
	done
	@for dir in $(CONTAINER_DIRS); do \
		echo "mypy $$dir"; \
		MYPYPATH=$$dir mypy --strict --explicit-package-bases $$dir || exit 1; \
	done
	# tools/loadtest (excluded above: it imports the transfers service's code root).
	MYPYPATH=container_src/transfers mypy --config-file= --strict --explicit-package-bases \
		--python-version 3.11 tools/loadtest

# The tests run in parallel, one pytest-xdist worker per core (PYTEST_WORKERS=0: in one
# process), each worker taking whole modules (tests/conftest.py sends every module of the
# synthesized reference app to one worker, so the app is synthesized once). The session
# synthesizes the app itself, which needs the runtime layer's folder; the CLI's templates
# that tests/reference/test_cli_synth.py checks are the ones `make synth` has just written
# (CLI_SYNTH_OUTDIR), so the app goes through the CLI once per `make test`, not twice.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadscope)

pytest: setup test-servers browser graphviz synth
	CLI_SYNTH_OUTDIR=$(CURDIR)/$(CDK_OUT) $(VENV)/bin/python -m pytest $(PYTEST_PARALLEL)

# The web UI (web_src/, no build step) with the fakes of tools/web_fakes.py: the site and its
# API fakes on WEB_DEV_PORT, the fake Cognito on the next port, demo data; Ctrl-C stops.
web-dev: $(PY_STAMP)
	$(VENV)/bin/python tools/web_fakes.py --port $(WEB_DEV_PORT)

# docs/web-ui.png, the README's picture of the web UI: Debian's chromium against the fakes.
screenshot: $(PY_STAMP) browser
	$(VENV)/bin/python tools/web_screenshot.py docs/web-ui.png

# Synthesizes through the pinned CLI (cdk-nag fails it on any unacknowledged finding),
# then lints every template; .cfnlintrc.yaml holds the short, commented ignore list.
cfn-lint: synth
	cfn-lint $$(find $(CDK_OUT) -name '*.template.json' | sort)

$(FLOOR_STAMP): $(FLOOR_REQUIREMENTS)
	rm -rf $(FLOOR_VENV)
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(FLOOR_REQUIREMENTS)
	touch $@

# A wheel, as a consumer gets it: its metadata must accept the floor pins and Solutions
# Constructs (pip check), and it must not carry the source tree's other folders.
$(FLOOR_LIBRARY): $(FLOOR_STAMP) pyproject.toml $(LIBRARY_SOURCES) | $(PY_STAMP)
	rm -rf $(FLOOR_WHEELHOUSE) build/lib build/bdist.*
	$(VENV)/bin/python -m pip wheel --quiet --disable-pip-version-check --no-deps \
		--wheel-dir $(FLOOR_WHEELHOUSE) .
	$(FLOOR_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--force-reinstall $(FLOOR_WHEELHOUSE)/cdk_microservices-*.whl
	$(FLOOR_VENV)/bin/python -m pip check
	touch $@

# The construct tests and tests/consumer in the floor environment, from a scratch working
# directory: nothing on the path holds the library's sources, so they import the wheel
# (tests/unit/test_library_under_test.py checks it equals the checkout). The rootdir's
# pyproject.toml still supplies pytest's settings and puts stacks/ on the path (the cdk-nag
# packs of the construct tests); cfn-lint comes from the development venv on PATH.
test-floor: $(FLOOR_LIBRARY) $(PY_STAMP)
	scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; cd "$$scratch"; \
	$(CURDIR)/$(FLOOR_VENV)/bin/python -m pytest -p no:cacheprovider $(PYTEST_PARALLEL) \
		-c $(CURDIR)/pyproject.toml --rootdir=$(CURDIR) \
		$(CURDIR)/tests/unit $(CURDIR)/tests/consumer

test: lint typecheck pytest test-floor cfn-lint
	@echo "make test: every check passed"

clean:
	rm -rf $(CDK_OUT) $(RUNTIME_LAYER) .pytest_cache .mypy_cache .ruff_cache
