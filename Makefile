# One command installs everything into .venv; `make demo` and `make test` are the README's two commands.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

HFT_VENV  := .venv-hft
HFT_STAMP := $(HFT_VENV)/.installed

.PHONY: install browser demo test lint format bench bench-hft bench-scale kernels clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m engine.warmup  # compile and cache the numba kernels once (~1 min)
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
	$(BIN)/python -m bench.kernels_sim
	$(BIN)/python -m bench.kernels_features
	$(BIN)/python -m bench.kernels_decide
	$(BIN)/python -m bench.backtest
	$(BIN)/python -m bench.warehouse
	$(BIN)/python -m bench.kafka
	$(BIN)/python -m bench.live_latency
	$(BIN)/python -m bench.soak

# hftbacktest needs numpy < 2.3 (the project pins a newer one): it gets a virtualenv of its own.
$(HFT_STAMP): bench/hft-requirements.txt
	$(PYTHON) -m venv $(HFT_VENV)
	$(HFT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(HFT_VENV)/bin/python -m pip install --quiet -r bench/hft-requirements.txt
	touch $(HFT_STAMP)

bench-hft: install $(HFT_STAMP)  ## the same recording in hftbacktest and here: events/s and ratio
	$(BIN)/python -m bench.vs_hftbacktest --hft-python $(HFT_VENV)/bin/python

bench-scale: install  ## backtest and replay on generated 1 h and 6 h lakes: wall, events/s, peak RSS
	$(BIN)/python -m bench.replay_scale --hours 1,6

kernels: install  ## after changing a kernel: numba's cache misses changes in called kernels
	find . -path ./$(VENV) -prune -o \( -name '*.nbi' -o -name '*.nbc' \) -print | xargs rm -f
	$(BIN)/python -m engine.warmup

clean:
	rm -rf $(VENV) $(HFT_VENV) data/lake runs .pytest_cache
