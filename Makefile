# One command per job; the same for people and CI.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export OMP_WAIT_POLICY := PASSIVE
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test test-milvus lint bench bench-quick eval train reliability index clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU torch first: a plain torch requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	# The bundled model's ONNX export, made once here rather than on the first build or question.
	$(PY) -m qa.onnx_export
	touch $(STAMP)

run: install
	$(PY) app.py

index: install
	$(VENV)/bin/qa index

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests app.py
	$(VENV)/bin/ruff format --check src tests app.py

# Every dev set on its own corpus; eval/README.md says where each came from.
eval: install
	$(VENV)/bin/qa index --quiet
	$(VENV)/bin/qa eval --questions eval/brief_dev.jsonl --compare
	$(VENV)/bin/qa eval --questions eval/sources_dev.jsonl
	$(VENV)/bin/qa index --corpus eval/squad2-train/corpus --index index/eval/squad2-train --quiet
	$(VENV)/bin/qa eval --questions eval/squad2-train/questions.jsonl --index index/eval/squad2-train
	$(VENV)/bin/qa index --corpus eval/financebench-dev/pdfs --index index/eval/financebench-dev --quiet
	$(VENV)/bin/qa eval --questions eval/financebench-dev/questions.jsonl --index index/eval/financebench-dev

# Refit the answer model (src/qa/answer/model.json) on the eval/ sets, held out by document.
train: install
	$(PY) -m pip install -q -e '.[train]'
	$(VENV)/bin/qa train

bench: install
	$(VENV)/bin/qa bench

bench-quick: install
	$(VENV)/bin/qa bench --quick

reliability: install
	$(PY) -m pytest -q -m reliability -o addopts=''

# The shipped corpus through a milvus-lite server: the same hits and answers as the index folder.
test-milvus: install
	$(PY) -m pytest -q -m milvus -o addopts='' tests/test_milvus.py

clean:
	rm -rf $(VENV) index .pytest_cache .ruff_cache
