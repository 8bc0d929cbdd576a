# Quick start: `make demo` (install, then the default run) and `make test` (install, then the test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test clean

# torch==2.13.0 goes first, in its own step: it is the CPU wheel on the development machines, and any
# later package that asks for torch then finds it satisfied instead of pulling a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/rac-bench run --methods sparsegpt,rac --sparsity 0.5

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) rac-bench-runs .pytest_cache
