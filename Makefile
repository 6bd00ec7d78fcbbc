# resto — two commands do all set-up on a fresh clone:
#   make chat   set up, build the database if missing, open the chat app
#   make test   set up, build the database if missing, run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

# Data directory (SGD + TFT benchmark). Point it elsewhere with RESTO_DATA_DIR=...;
# `resto data download` fetches the public datasets where no copy exists.
ifeq ($(origin RESTO_DATA_DIR), undefined)
  ifneq ($(wildcard ../shared/data/sgd),)
    export RESTO_DATA_DIR := $(abspath ../shared/data)
  endif
endif
export RESTO_HOME ?= $(abspath var)

.PHONY: setup db chat test test-slow lint bench clean

setup: $(STAMP)

# torch goes in first and pinned: on our machines torch==2.13.0 resolves to a local CPU
# wheel; anything looser would pull several GB of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

db: setup
	@if [ -n "$$RESTO_DATA_DIR" ]; then $(BIN)/resto db build --if-missing; \
	 else echo "RESTO_DATA_DIR is not set: skipping the database build (run 'resto data download')"; fi

chat: db
	$(BIN)/resto chat

# The PostgreSQL tests start a throwaway server: they need its binaries (apt-get install postgresql,
# which .ci/run does). Without them: make test MARKS="not slow and not postgres"
MARKS ?= not slow
test: db
	$(BIN)/python -m pytest -q -m "$(MARKS)"

test-slow: db
	$(BIN)/python -m pytest -q -m slow

lint: setup
	$(BIN)/ruff check .

bench: db
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache
