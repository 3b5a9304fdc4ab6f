# Two entry points: `make demo` and `make test`. Each creates .venv when missing.
PY ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/genlab: pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) on PATH (or run: make PY=python3 ...)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/genlab

.PHONY: demo test lint
demo: $(BIN)/genlab
	$(BIN)/genlab datasets
	$(BIN)/genlab show-data mnist-mini --split train -n 64 --out runs/demo/mnist-mini.png
	$(BIN)/genlab train vae --dataset mnist-mini --net mlp --latent-dim 16 --epochs 2 --out runs/demo/vae
	$(BIN)/genlab sample runs/demo/vae -n 64 --out runs/demo/vae-samples.png
	$(BIN)/genlab reconstruct runs/demo/vae --split test -n 32 --out runs/demo/vae-recon.png
	@echo "demo outputs in runs/demo/"

test: $(BIN)/genlab
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(BIN)/genlab
	$(BIN)/ruff check src tests benchmarks
