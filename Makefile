# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PIP := $(VENV)/bin/pip
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# test workers (pytest-xdist); each starts its own Xvfb. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2

.PHONY: run test bench venv clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.torch: $(VENV)/bin/python
	$(PIP) install --quiet "$(TORCH_SPEC)"
	touch $@

$(STAMP): $(VENV)/.torch pyproject.toml
	$(PIP) install --quiet -e ".[gui,umap,test]"
	touch $@

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ibviewer $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/bench_extract.py
	$(PY) benchmarks/bench_information.py
	$(PY) benchmarks/bench_embedding.py
	$(PY) benchmarks/bench_responsiveness.py
	$(PY) benchmarks/bench_first_view.py
	$(PY) benchmarks/bench_tsne_speed.py
	$(PY) benchmarks/bench_keyframes.py
	$(PY) benchmarks/bench_playback_start.py
	$(PY) benchmarks/bench_word_lm.py
	$(PY) benchmarks/bench_3d_switch.py
	$(PY) benchmarks/bench_umap_fresh.py

clean:
	rm -rf $(VENV) build *.egg-info
