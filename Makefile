# One command installs everything into .venv; `make demo` and `make test` are the README's two commands.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser demo test lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/mm demo

# Headless Chromium renders a report in one test (skipped, with a reason, if it is missing).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "note: chromium not installed; the report screenshot test will be skipped"

test: install browser
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: install  ## every benchmark, numbers printed (no pass/fail)
	$(BIN)/python -m bench.book
	$(BIN)/python -m bench.features
	$(BIN)/python -m bench.sim
	$(BIN)/python -m bench.backtest
	$(BIN)/python -m bench.warehouse
	$(BIN)/python -m bench.kafka
	$(BIN)/python -m bench.live_latency
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) data/lake runs .pytest_cache
