# 舆情哨兵 Yuqing Sentinel — developer entry points.
#   make demo   create .venv, install, run the offline end-to-end demo
#   make test   create .venv, install, run the whole test suite
#   make bench  run the benchmarks (prints figures; see bench/RESULTS.md)
#   make es     run a local Elasticsearch test node until Ctrl-C (prints YUQING_ES_URL)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# make test runs the Elasticsearch tests against a real node and fails (not skips) them when
# the node cannot be had; YUQING_REQUIRE_ES=0 lets them skip instead.
YUQING_REQUIRE_ES ?= 1
export YUQING_REQUIRE_ES

.PHONY: demo test bench install models clean es

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,web,es,transformer]'
	touch $@

demo: $(STAMP)
	$(BIN)/yuqing demo

# The Elasticsearch test node (fetched from Maven Central, cached in ~/.m2) is started around
# pytest and stopped after it, whatever pytest's outcome; tests read its URL from YUQING_ES_URL.
test: $(STAMP)
	$(BIN)/python -m tests.support.es_node run -- $(BIN)/python -m pytest $(PYTEST_ARGS)

es: $(STAMP)
	$(BIN)/python -m tests.support.es_node serve

bench: $(STAMP)
	$(BIN)/python -m bench

# Rebuild the default models from ../shared/data (see models/*/README.md).
models: $(STAMP)
	$(BIN)/yuqing nlp train sentiment
	$(BIN)/yuqing nlp train emotion
	$(BIN)/yuqing nlp train topic
	$(BIN)/yuqing nlp train rumor

clean:
	rm -rf var .pytest_cache
