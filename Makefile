# Two commands do everything on a fresh machine:
#   make demo   set up .venv, install the package alone, write reports/demo.html
#   make test   set up .venv, install every extra, run the whole test suite (notebooks and
#               the >>> examples in workbench/ too)
#
# Variables:
#   PYTHON   the interpreter that creates the venv            (python3)
#   VENV     where the virtual environment lives               (.venv)
#   TORCH    the torch requirement installed before the package. The default
#            takes the CPU build; a GPU user picks theirs, e.g.
#            make demo TORCH="torch --index-url https://download.pytorch.org/whl/cu128"
#   PYTEST_ARGS  extra arguments for pytest (e.g. -x -k space)
#   SKIP_BROWSER=1  skip the headless-Chromium suite (tests/browser)
#   SYSTEM_DEPS=0   do not try to apt-get the system packages the tests use

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=
SYSTEM_DEPS ?= 1
export SKIP_BROWSER

BIN := $(VENV)/bin
# Two install levels share one venv: the demo needs the package and its core
# dependencies only; the suite needs every extra. A full install satisfies the
# demo, so it stamps both; the demo's install never stamps the full one.
STAMP := $(VENV)/.workbench-installed
DEMO_STAMP := $(VENV)/.workbench-demo-installed

.PHONY: demo test setup system-deps notebook-outputs clean

demo: $(DEMO_STAMP)
	$(BIN)/workbench demo --output reports/demo.html

test: $(STAMP) system-deps
	$(BIN)/python -m pytest tests notebooks workbench --nbval-lax --doctest-modules $(PYTEST_ARGS)

# Installs the Debian packages when they are missing and apt-get can run as
# root; elsewhere it says what to install, and the tests that need them say why
# they cannot run.
system-deps:
	@missing=""; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v sox >/dev/null || missing="$$missing sox"; \
	test -x /usr/bin/chromium || missing="$$missing chromium chromium-driver"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$(SYSTEM_DEPS)" = "1" ] && command -v apt-get >/dev/null && [ "$$(id -u)" = "0" ]; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	else \
		echo "note: some tests need the Debian packages:$$missing (sudo apt-get install$$missing)"; \
	fi

setup: $(STAMP)

# The prepared GPU check (benchmarks/gpu_check.py, read benchmarks/README.md):
# full size on CUDA when torch sees a GPU (<= 6 min on one H100), else the
# --small sizes on the CPU. Prints one table and writes it as markdown to
# reports/gpu-check.md
.PHONY: gpu-check
gpu-check: $(STAMP)
	@mkdir -p reports
	@if $(BIN)/python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then \
		PYTHONPATH=. $(BIN)/python benchmarks/gpu_check.py --device cuda --out reports/gpu-check.md; \
	else \
		echo "no CUDA GPU: running the --small sizes on the CPU"; \
		PYTHONPATH=. $(BIN)/python benchmarks/gpu_check.py --small --device cpu --out reports/gpu-check.md; \
	fi

# Refresh the expected outputs of the notebook cells nbval checks
notebook-outputs: $(STAMP)
	$(BIN)/python notebooks/store_checked_outputs.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the package metadata changes; torch first so that pip keeps
# the chosen build instead of pulling the default one for the package. The
# distribution was once called `workbench` (a name that belongs to another
# project on PyPI): an install under that name is removed, so that one
# distribution provides the import.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip uninstall --quiet --yes workbench 2>/dev/null || true
	$(BIN)/python -m pip install $(TORCH)
	$(BIN)/python -m pip install -e ".[test]"
	touch $(STAMP) $(DEMO_STAMP)

# (a venv that already holds the full, up-to-date install needs nothing more)
$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	@if [ ! $(STAMP) -nt pyproject.toml ]; then \
		echo "$(BIN)/python -m pip install $(TORCH) && $(BIN)/python -m pip install -e ."; \
		$(BIN)/python -m pip uninstall --quiet --yes workbench 2>/dev/null || true; \
		$(BIN)/python -m pip install $(TORCH) && $(BIN)/python -m pip install -e . || exit 1; \
	fi
	touch $(DEMO_STAMP)

clean:
	rm -rf $(VENV) reports .pytest_cache
