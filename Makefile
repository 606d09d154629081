# One-command setup, main job and tests. `make demo` and `make test` each set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, pinned: this version is the machine's CPU build; a bare `torch` would pull CUDA packages.
TORCH_VERSION ?= 2.13.0
HORIZONS ?= 1,7
TRIALS ?= 12
# per-symbol tasks of the demo; its universe task covers every stored symbol (the 20 S&P 500 stocks too)
DEMO_SYMBOLS ?= SP500,NASDAQ,GOOG

.PHONY: setup demo test test-slow test-all bench bench-quick clean-workspace

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# catboost ships a JupyterLab widget whose module fails to load in JupyterLab 4 (a console error on every page)
	$(BIN)/jupyter labextension disable --level=sys_prefix catboost-widget > /dev/null 2>&1 || true
	touch $@

demo: setup
	$(BIN)/bistlab data demo
	$(BIN)/bistlab cycle run --horizons $(HORIZONS) --trials $(TRIALS) --symbols $(DEMO_SYMBOLS)  # one task per core by default

# The suite a user runs (a few minutes); test-slow adds the crash, worker and cluster checks (CI runs both).
test: setup
	$(BIN)/python -m pytest -m "not slow"

test-slow: setup
	$(BIN)/python -m pytest -m slow

test-all: test test-slow

# Every benchmark's table (docs/performance.md); the BIST ones need ../shared/data/bist beside the checkout.
bench: setup
	$(BIN)/python bench/run_all.py

bench-quick: setup
	$(BIN)/python bench/run_all.py --quick

clean-workspace:
	rm -rf studies/cycle_* runs/cycle_* runs/state.json runs/state.json.lock runs/prices.sqlite reports/cycle_*.html
