# The two commands of the README: `make demo` (the main job) and `make test` (the tests).
# Each creates .venv and installs what it needs; nothing has to be installed by hand.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# PyTorch from the wheels this project is tested with; override for another platform, e.g.
#   make test TORCH_SPEC="torch torchvision"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
PYTEST_ARGS ?= -m "not slow"
STAMP := $(VENV)/.installed
# Real dataset samples, when a checkout of the project's shared folder is beside this one:
# the tests that read them run, and skip otherwise.
REAL_SAMPLES ?= $(firstword $(wildcard ../shared/real_samples))
ifneq ($(REAL_SAMPLES),)
export ITER_REASONING_REAL_SAMPLES ?= $(abspath $(REAL_SAMPLES))
endif

.PHONY: demo demo-detection test lint docs bench graphs setup wordnet clean

demo: $(STAMP) wordnet
	$(VENV)/bin/iterative-reasoning demo --output-dir runs/demo

demo-detection: $(STAMP) wordnet
	$(VENV)/bin/iterative-reasoning demo --task detection --output-dir runs/demo-detection

test: $(STAMP) wordnet
	$(PY) -m pytest -q $(PYTEST_ARGS) tests iterative_reasoning knowledge_graphs --doctest-modules

lint: $(STAMP)
	$(VENV)/bin/ruff check iterative_reasoning knowledge_graphs tests examples benchmarks
	$(VENV)/bin/ruff format --check iterative_reasoning knowledge_graphs tests examples benchmarks
	$(VENV)/bin/mypy

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

bench: $(STAMP)
	mkdir -p bench-results
	$(PY) benchmarks/global_module.py --json bench-results/global_module.json
	$(PY) benchmarks/spatial_memory.py --json bench-results/spatial_memory.json
	$(PY) benchmarks/head_overhead.py --json bench-results/head_overhead.json
	$(PY) benchmarks/detection_overhead.py --json bench-results/detection_overhead.json

graphs: $(STAMP) wordnet
	mkdir -p graphs
	$(VENV)/bin/knowledge-graphs build --classes ade20k --out graphs/ade20k.json.gz
	$(VENV)/bin/knowledge-graphs build --classes visual_genome --out graphs/visual_genome.json.gz

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e '.[dev,docs,transformers,ultralytics,hub]'
	touch $(STAMP)

wordnet:
	bash scripts/install-wordnet.sh

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .mypy_cache .ruff_cache runs
