# 舆情哨兵 Yuqing Sentinel — developer entry points.
#   make demo           create .venv, install the base package (no extras, no torch), run the offline demo
#   make test           create .venv, install everything the tests need, check import layers, run the tests
#   make package-check  build and install the base package (non-editable, no extras) in a fresh venv under
#                       a temporary folder and run `yuqing demo` there (.ci/run runs it)
#   make bench          run the benchmarks (prints figures; see bench/RESULTS.md)
#   make es             run a local Elasticsearch test node until Ctrl-C (prints YUQING_ES_URL)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# One stamp per install set: the demo needs only the base package, the tests need every extra.
DEMO_STAMP := $(VENV)/.installed-base
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=
# make test runs the Elasticsearch tests against a real node and fails (not skips) them when
# the node cannot be had; YUQING_REQUIRE_ES=0 lets them skip instead.
YUQING_REQUIRE_ES ?= 1
export YUQING_REQUIRE_ES

.PHONY: demo test package-check bench install models clean es

install: $(TEST_STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,web,pdf,es,transformer]'
	touch $@

demo: $(DEMO_STAMP)
	$(BIN)/yuqing demo

# The Elasticsearch test node (fetched from Maven Central, cached in ~/.m2) is started around
# pytest and stopped after it, whatever pytest's outcome; tests read its URL from YUQING_ES_URL.
test: $(TEST_STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m tests.support.es_node run -- $(BIN)/python -m pytest $(PYTEST_ARGS)

# What a new office gets from `pip install .`: no extras, not editable, run from an unrelated
# folder, so a file the wheel lacks or an undeclared dependency fails here. It installs from a
# copy of the sources, as pip builds in place and would leave build/ in the checkout.
package-check:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && set -e && \
	mkdir "$$tmp/src" && cp -R pyproject.toml README.md configs crawler nlp index warning yuqing "$$tmp/src/" && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" -m pip install --quiet "$$tmp/src" && \
	if "$$tmp/venv/bin/python" -c 'import torch' 2>/dev/null; then echo "package-check: the base package pulled in torch" >&2; exit 1; fi && \
	cd "$$tmp" && "$$tmp/venv/bin/yuqing" demo --out "$$tmp/demo" && \
	"$$tmp/venv/bin/yuqing" init "$$tmp/office" && \
	"$$tmp/venv/bin/yuqing" config check --config "$$tmp/office/app.yaml"

es: $(TEST_STAMP)
	$(BIN)/python -m tests.support.es_node serve

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

# Rebuild the default models in nlp/models from ../shared/data (see nlp/models/*/README.md).
models: $(DEMO_STAMP)
	$(BIN)/yuqing nlp train polarity
	$(BIN)/yuqing nlp train sentiment
	$(BIN)/yuqing nlp train emotion
	$(BIN)/yuqing nlp train topic
	$(BIN)/yuqing nlp train rumor
	$(BIN)/yuqing nlp report

clean:
	rm -rf var .pytest_cache build
