# Two entry points: `make demo` and `make test` (`make test-fast` skips the slow tests).
# Each creates .venv when missing.
PY ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
SHELL := bash
.SHELLFLAGS := -o pipefail -c
# Quiet pip: no version check, and without the harmless "Location '...' is ignored" line that a
# pip configuration listing local package folders prints for each package a folder lacks. Real
# warnings and errors still show, and a failing pip still fails the build (pipefail).
PIP := $(BIN)/pip --disable-pip-version-check
QUIET := 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }

$(BIN)/genlab: pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) on PATH (or run: make PY=python3 ...)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip $(QUIET)
	$(PIP) install -q torch==2.13.0 $(QUIET)
	$(PIP) install -q -e '.[dev]' $(QUIET)
	touch $(BIN)/genlab

.PHONY: demo test test-fast lint
demo: $(BIN)/genlab
	$(BIN)/genlab study configs/study_demo.yaml --out runs/demo
	@echo "open runs/demo/report.html (results.csv and results.json beside it); run again to reuse"

# The suite runs in one worker process per core (pytest-xdist), each test file whole in one
# worker (its module fixtures train once) and one torch thread per worker.
test: $(BIN)/genlab
	$(BIN)/ruff check src tests benchmarks
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n auto --dist loadfile

# The quick loop while editing: everything but the tests marked slow (training runs, resume,
# torchrun). CI runs `make test`.
test-fast: $(BIN)/genlab
	$(BIN)/ruff check src tests benchmarks
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n auto --dist loadfile -m "not slow"

lint: $(BIN)/genlab
	$(BIN)/ruff check src tests benchmarks

# Debian's Chromium and its WebDriver, for the explorer's real-browser test (tests/explore); as
# root (CI), and a no-op when both are already there.
.PHONY: browser
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
		echo "chromium and chromedriver are installed"; \
	else \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	fi
