# vibench: `make lab` opens the workbench, `make test` runs every test tier.
# Both set up everything they need first (a Python >= 3.12 venv in .venv, the
# package in editable mode, and for tests the Chromium browser and Node.js for the
# board's JS tests), and skip what is already in place on a second run.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# Extra arguments: `make lab ARGS="--no-browser --port=8899"`, `make test ARGS="-k flows"`.
ARGS ?=
CHROMIUM ?= /usr/bin/chromium
NODE ?= node
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: help lab test test-unit lint format browser node warm benchmark clean

help:
	@echo "make lab        set up .venv and open the workbench in JupyterLab"
	@echo "make test       set up .venv (+ Chromium) and run every test tier"
	@echo "make test-unit  only the fast unit tier"
	@echo "make lint       ruff check and format check"
	@echo "make benchmark  print the speed figures (benchmarks/; ARGS=\"session flows\" picks)"
	@echo "make clean      remove .venv and caches"

$(PY):
	@py=$$(sh scripts/find-python.sh) || exit 1; \
	echo "vibench: creating $(VENV) with $$py"; \
	"$$py" -m venv $(VENV) && $(PY) -m pip install -q --upgrade pip

# JupyterLab settings shipped with the project (binder/overrides.json: save widget
# state with the notebook, so saved notebooks show the workbench's last plots).
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

$(VENV)/.installed-lab: pyproject.toml binder/overrides.json | $(PY)
	$(PY) -m pip install -q -e ".[lab]"
	@mkdir -p $(dir $(LAB_OVERRIDES)) && cp binder/overrides.json $(LAB_OVERRIDES)
	@touch $@

$(VENV)/.installed-test: pyproject.toml binder/overrides.json | $(PY)
	$(PY) -m pip install -q -e ".[lab,test]"
	@mkdir -p $(dir $(LAB_OVERRIDES)) && cp binder/overrides.json $(LAB_OVERRIDES)
	@touch $@ $(VENV)/.installed-lab

browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "vibench: installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "vibench: the browser tests need Chromium at $(CHROMIUM): install it (Debian/Ubuntu: 'sudo apt-get install chromium') or pass CHROMIUM=/path/to/chromium"; \
		exit 1; \
	fi

# The board's JS helpers are tested with `node --test` (tests/js/, run from pytest by
# tests/widgets/test_board_js.py): Node.js >= 18, Debian's `nodejs` when root.
node:
	@if command -v $(NODE) >/dev/null 2>&1 && \
		$(NODE) -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)'; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "vibench: installing Debian's nodejs for the board's JS tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; \
	else \
		echo "vibench: the board's JS tests need Node.js >= 18 as '$(NODE)': install it (Debian/Ubuntu: 'sudo apt-get install nodejs') or pass NODE=/path/to/node"; \
		exit 1; \
	fi

# The first `make lab` also warms PyTensor's compile cache for the demo models in
# the background (niced, logged to .venv/warm.log), so JupyterLab opens at once and
# Fit does not wait for a JIT later. `make warm` warms in the foreground.
warm: $(VENV)/.installed-lab
	$(PY) -m vibench.warm && touch $(VENV)/.warmed

lab: $(VENV)/.installed-lab
	@if [ ! -f $(VENV)/.warmed ]; then \
		echo "vibench: warming the compile cache in the background (log: $(VENV)/warm.log)"; \
		(nice $(PY) -m vibench.warm > $(VENV)/warm.log 2>&1 && touch $(VENV)/.warmed) & \
	fi
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/notebooks/01_getting_started.ipynb $(ROOT_FLAG) $(ARGS)

test: $(VENV)/.installed-test browser node
	VIBENCH_CHROMIUM=$(CHROMIUM) VIBENCH_NODE=$(NODE) $(PY) -m pytest $(ARGS)

test-unit: $(VENV)/.installed-test node
	VIBENCH_NODE=$(NODE) $(PY) -m pytest -m "not notebooks and not browser and not slow" $(ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

benchmark: $(VENV)/.installed-test
	$(PY) benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist test-artifacts
