# `make demo` runs the main job, `make test` the test suite; both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test native lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The compiled BPTT loops: built once per machine and source version (about a minute), here rather
# than inside a training's time budget; a no-op when they are built. A failed build is not fatal:
# everything runs on PyTorch loops, slower (the reason is printed).
native: $(VENV)/.installed
	$(VENV)/bin/rnnlab build || echo "rnnlab: going on without the compiled loops"

# The main job: about 2.5 minutes of training on Shakespeare, then a sample (replaces runs/demo).
demo: native
	$(VENV)/bin/rnnlab train --out runs/demo --force
	$(VENV)/bin/rnnlab sample runs/demo --length 800 --seed 1

# Debian's Chromium for the page tests in a real browser (root, or sudo, needed once)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(VENV)/.chromium: $(VENV)/.installed
	command -v chromium >/dev/null || $(SUDO) apt-get install -y -q chromium >/dev/null \
		|| ($(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null)
	touch $@

test: native $(VENV)/.chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(VENV)/bin/rnnlab bench

clean:
	rm -rf $(VENV) build *.egg-info
