# Two entry points, both self-installing: `make demo` and `make test` (see README Quickstart).
# The venv is rebuilt when pyproject.toml or constraints.txt change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DEEPEVAL_TELEMETRY_OPT_OUT := YES

.PHONY: setup demo test test-fast lint bench clean labelstudio

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	# The CPU build of torch first: otherwise sentence-transformers pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/evalkit demo

# Label Studio, for the bridge's round-trip tests, in a venv of its own: it pins older openai and
# pyarrow than evalkit's. About 1 GB and two minutes, once.
LS_VENV := .venv-labelstudio
LS_STAMP := $(LS_VENV)/.installed
LABEL_STUDIO_VERSION ?= 1.23.2

labelstudio: $(LS_STAMP)

$(LS_STAMP):
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'label-studio==$(LABEL_STUDIO_VERSION)'
	touch $(LS_STAMP)

# pytest exits 5 when it collected no test: that is a failure here, with a message.
test: $(STAMP) $(LS_STAMP)
	@$(BIN)/python -m pytest -n 2; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow and not postgres"

lint: $(STAMP)
	$(BIN)/ruff check evalkit reviewer_app tests benchmarks
	$(BIN)/ruff format --check evalkit reviewer_app tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) $(LS_VENV) .evalkit .pytest_cache .ruff_cache .mypy_cache
