# fernwartung -- developer entry points. Needs only python3 (>= 3.11), make and PyPI.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.stamp
export UV_LINK_MODE ?= copy

# Editable packages; only those dirs that already have a pyproject.toml are
# installed, so this works while packages are still being written.
PACKAGES ?= shared/contracts shared/platform services/intake services/session services/billing services/retention services/reporting services/web tools/devenv tools/audit tools/contracts_docs tools/privacy
PYPROJECTS := $(wildcard $(addsuffix /pyproject.toml,$(PACKAGES)))
PKG_DIRS   := $(sort tools/devenv $(patsubst %/pyproject.toml,%,$(PYPROJECTS)))
REQS       := $(wildcard requirements-dev.txt)

PYTEST_BASE_ARGS ?= -p no:cacheprovider --import-mode=importlib
PYTEST_ARGS ?=
# make test: every test on TEST_WORKERS processes (pytest-xdist; 3 on 2 cores: the tests wait on
# service starts and polls about half the time, 3 workers measured 9.5 min against 10.7 with 2).
# The load test (tests/load) runs among the others: it checks for failures and stalls; its
# latency target is measured by `make bench` (section signin) on a quiet machine.
TEST_WORKERS ?= 3
# Tests write and reuse bytecode (__pycache__, git-ignored) even where the environment says
# PYTHONDONTWRITEBYTECODE: without it every worker and every service process compiled all of
# its imports again (collection alone 23 s of CPU per process against 7.5 s with bytecode).
TEST_ENV := PYTHONDONTWRITEBYTECODE=
# Tests handed out one at a time (two queued per worker), in collection order with the tests
# marked long(seconds) spread over the first 70 % of it (conftest.py): no minute-long test is
# left for the end, and no two browser tests start together.
TEST_DIST := --dist load --maxschedchunk 1
BENCH_PATHS ?= $(wildcard bench benchmarks)
BENCH_ARGS  ?=

.PHONY: help venv run up down test test-deploy browser bench docs clean distclean vendor-axe audit lint

help:
	@echo "make venv       create/refresh .venv (uv, editable: $(PKG_DIRS))"
	@echo "make run        NATS + PostgreSQL under ./var + all installed services (Ctrl-C stops)"
	@echo "make audit      fernwartung audit verify on the running office (dev credentials from var/; AUDIT_ARGS=--json)"
	@echo "make up/down    only NATS + PostgreSQL under ./var (foreground) / stop them"
	@echo "make test       pytest (PYTEST_ARGS='...'); tests start their own servers"
	@echo "make lint       ruff check (whole repository) and mypy --strict (every package's src/)"
	@echo "make test-deploy  deploy/ for real: images, docker compose, Caddy, backup/restore, cluster"
	@echo "make bench      throughput/latency/replay/footprint vs. raw limits (BENCH_ARGS=--quick: ~2 min)"
	@echo "make docs       build docs if configured"
	@echo "make clean      remove .venv (never var/)"
	@echo "make distclean  clean + stop servers, remove var/, caches, build outputs"

venv: $(STAMP)

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 needed, got " + sys.version)'
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet uv

# re-install whenever any pyproject.toml (or requirements-dev.txt) changes
$(STAMP): $(PYPROJECTS) tools/devenv/pyproject.toml $(REQS) Makefile | $(UV)
	$(UV) pip install --compile-bytecode --python $(VPY) $(addprefix -e ,$(PKG_DIRS)) $(addprefix -r ,$(REQS))
	touch $@

run: venv
	$(VPY) -m fw_devenv.run

# The auditor's view of the local office: only the audit NATS user, the read-only DSN and the
# office's public checkpoint key (all found under ./var, as make run left them).
AUDIT_ARGS ?=
audit: venv
	$(VPY) -m fw_devenv.audit $(AUDIT_ARGS)

up: venv
	$(VPY) -m fw_devenv up --var ./var

down:
	@if [ -x $(VPY) ]; then $(VPY) -m fw_devenv down --var ./var; fi

# The browser tests (tests/browser) drive a real headless Chromium with Playwright: Debian's
# `chromium` (installed here when we are root with apt-get), else Playwright's own download.
# Without either they FAIL (never skip) and this says so loudly.
CHROMIUM ?= /usr/bin/chromium
export FW_CHROMIUM ?= $(CHROMIUM)

browser: venv
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make: $(CHROMIUM) missing: installing Debian's chromium for the browser tests"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium || true; \
	fi; \
	if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	echo "make: no $(CHROMIUM) (not root or no apt-get): trying Playwright's own chromium download"; \
	timeout 600 $(VPY) -m playwright install chromium || true; \
	if ! $(VPY) -c 'import os,sys; from playwright.sync_api import sync_playwright; p=sync_playwright().start(); ok=os.path.exists(p.chromium.executable_path); p.stop(); sys.exit(0 if ok else 1)' 2>/dev/null; then \
	  echo; \
	  echo "##########################################################################################"; \
	  echo "##  NO BROWSER: neither $(CHROMIUM) nor Playwright's chromium could be installed.     "; \
	  echo "##  The browser tests in tests/browser WILL FAIL. Install it and run make test again:   "; \
	  echo "##      sudo apt-get install chromium        (Debian/Ubuntu)                              "; \
	  echo "##      .venv/bin/python -m playwright install chromium                                  "; \
	  echo "##########################################################################################"; \
	  echo; \
	fi

test: venv browser
	$(TEST_ENV) $(VPY) -m pytest $(PYTEST_BASE_ARGS) -n $(TEST_WORKERS) $(TEST_DIST) $(PYTEST_ARGS)

# axe-core for the browser tests' accessibility scan: committed (offline, reproducible) under
# tests/browser/vendor/axe-core with its MPL-2.0 licence; this refreshes it from the npm registry.
AXE_VERSION ?= 4.10.3
AXE_DIR := tests/browser/vendor/axe-core
vendor-axe:
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && \
	  tar xzf axe-core-$(AXE_VERSION).tgz && cd - >/dev/null && \
	  cp $$tmp/package/axe.min.js $$tmp/package/LICENSE $$tmp/package/LICENSE-3RD-PARTY.txt $(AXE_DIR)/ && \
	  sha256sum $$tmp/axe-core-$(AXE_VERSION).tgz $(AXE_DIR)/axe.min.js && rm -rf $$tmp
	@echo "update AXE_SHA256 in tests/browser/test_working_day_in_browser.py and $(AXE_DIR)/README.md"

# The deployment built and started for real (tests/deploy/live): installs Debian's docker.io and
# starts dockerd when missing (as root), makes every image locally, runs deploy/README.md's steps.
# FAILS (never skips) without a container engine. Not part of `make test` (conftest: FW_TEST_DEPLOY).
test-deploy: venv
	$(TEST_ENV) FW_TEST_DEPLOY=1 $(VPY) -m pytest $(PYTEST_BASE_ARGS) --timeout 2400 tests/deploy/live $(PYTEST_ARGS)  # image builds: longer than a test

bench: venv
	$(UV) pip install --python $(VPY) --quiet -r bench/requirements.txt
	$(VPY) -m bench $(BENCH_ARGS)

# ruff and mypy at the versions pinned in requirements-lint.txt, installed into .venv. ruff reads
# the one ruff.toml at the root; mypy runs inside each package so its [tool.mypy] settings apply.
# Every package is checked even when one fails; the target fails on any finding.
LINT_REQS  := requirements-lint.txt
LINT_STAMP := $(VENV)/.lint-stamp
LINT_PACKAGES ?= $(PACKAGES)

$(LINT_STAMP): $(LINT_REQS) | $(UV)
	$(UV) pip install --python $(VPY) -r $(LINT_REQS)
	touch $@

lint: venv $(LINT_STAMP)
	@rc=0; echo "ruff check ."; $(VENV)/bin/ruff check . || rc=1; \
	for pkg in $(LINT_PACKAGES); do \
	  echo "mypy --strict $$pkg/src"; \
	  (cd $$pkg && $(CURDIR)/$(VENV)/bin/mypy --strict src) || rc=1; \
	done; exit $$rc

docs: venv
	$(VPY) -m fw_contracts_docs

clean:
	rm -rf $(VENV)

distclean: down clean
	rm -rf var build test-artifacts .pytest_cache
	find . -path ./.git -prune -o \( -name __pycache__ -o -name '*.egg-info' -o -name .pytest_cache \) -type d -prune -exec rm -rf {} +
