# 舆情哨兵 Yuqing Sentinel — developer entry points.
#   make demo   create .venv, install, run the offline end-to-end demo
#   make test   create .venv, install, run the whole test suite
#   make bench  run the benchmarks (prints figures; see bench/RESULTS.md)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test bench install models clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,web,es]'
	touch $@

demo: $(STAMP)
	$(BIN)/yuqing demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

# Rebuild the default models from ../shared/data (see models/*/README.md).
models: $(STAMP)
	$(BIN)/yuqing nlp train sentiment
	$(BIN)/yuqing nlp train topic

clean:
	rm -rf var .pytest_cache
