# Two commands do everything on a fresh machine:
#   make demo   set up .venv, install, write reports/demo.html
#   make test   set up .venv, install, run the whole test suite (notebooks too)
#
# Variables:
#   PYTHON   the interpreter that creates the venv            (python3)
#   VENV     where the virtual environment lives               (.venv)
#   TORCH    the torch requirement installed before the package. The default
#            takes the CPU build; a GPU user picks theirs, e.g.
#            make demo TORCH="torch --index-url https://download.pytorch.org/whl/cu128"
#   PYTEST_ARGS  extra arguments for pytest (e.g. -x -k space)

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.workbench-installed

.PHONY: demo test setup clean

demo: $(STAMP)
	$(BIN)/workbench demo --output reports/demo.html

test: $(STAMP)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

setup: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the package metadata changes; torch first so that pip keeps
# the chosen build instead of pulling the default one for the package.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install $(TORCH)
	$(BIN)/python -m pip install -e ".[test]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) reports .pytest_cache
