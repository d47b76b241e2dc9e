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
PACKAGES ?= shared/contracts shared/platform services/intake services/session services/billing services/retention tools/devenv tools/audit
PYPROJECTS := $(wildcard $(addsuffix /pyproject.toml,$(PACKAGES)))
PKG_DIRS   := $(sort tools/devenv $(patsubst %/pyproject.toml,%,$(PYPROJECTS)))
REQS       := $(wildcard requirements-dev.txt)

PYTEST_BASE_ARGS ?= -p no:cacheprovider --import-mode=importlib
PYTEST_ARGS ?=
BENCH_PATHS ?= $(wildcard bench benchmarks)
BENCH_ARGS  ?=

.PHONY: help venv run up down test bench docs clean distclean

help:
	@echo "make venv       create/refresh .venv (uv, editable: $(PKG_DIRS))"
	@echo "make run        NATS + PostgreSQL under ./var + all installed services (Ctrl-C stops)"
	@echo "make up/down    only NATS + PostgreSQL under ./var (foreground) / stop them"
	@echo "make test       pytest (PYTEST_ARGS='...'); tests start their own servers"
	@echo "make bench      pytest on $(or $(BENCH_PATHS),bench/ (none yet))"
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
	$(UV) pip install --python $(VPY) $(addprefix -e ,$(PKG_DIRS)) $(addprefix -r ,$(REQS))
	touch $@

run: venv
	$(VPY) -m fw_devenv.run

up: venv
	$(VPY) -m fw_devenv up --var ./var

down:
	@if [ -x $(VPY) ]; then $(VPY) -m fw_devenv down --var ./var; fi

test: venv
	$(VPY) -m pytest $(PYTEST_BASE_ARGS) $(PYTEST_ARGS)

bench: venv
ifeq ($(strip $(BENCH_PATHS)),)
	@echo "bench: no benchmarks yet (expected in bench/ or benchmarks/)"
else
	$(VPY) -m pytest $(PYTEST_BASE_ARGS) $(BENCH_PATHS) $(BENCH_ARGS)
endif

docs: venv
	@if [ -f mkdocs.yml ]; then $(VENV)/bin/mkdocs build --strict; \
	else echo "docs: no mkdocs.yml yet; see README.md and tools/devenv/README.md"; fi

clean:
	rm -rf $(VENV)

distclean: down clean
	rm -rf var build test-artifacts .pytest_cache
	find . -path ./.git -prune -o \( -name __pycache__ -o -name '*.egg-info' -o -name .pytest_cache \) -type d -prune -exec rm -rf {} +
