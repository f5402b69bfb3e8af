# Transformer Primer: one environment (.venv) for building, serving and testing.
# `make serve` and `make test` set it up themselves on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# DOCS: what building and serving the site needs (a reader's set-up); STAMP: everything (the
# docs, the tests and the PyTorch reference).
DOCS   := $(VENV)/.installed-docs
STAMP  := $(VENV)/.installed
export NO_MKDOCS_2_WARNING := 1

.PHONY: setup build serve test test-unit traces lint typecheck clean reproduce

# (Re)install when the ranges or the pins change. Every install uses constraints.txt. pip runs
# with -qq: errors only (this machine's pip configuration names package folders that do not
# exist, and pip warns about each of them on every install).
# A reader who only serves the site gets the docs extra (about 300 MB); `make test` adds the test
# tools and the torch extra (CPU build, ~35 s from a local wheel, the reference for
# tests/unit/test_torch_equivalence.py).
# A new venv's pip is whatever the Python came with (23.2 here, with known advisories): it is
# replaced by the pinned one before anything else is installed.
# The reader's set-up (the docs extra) is installed by uv, pinned like everything else: 6 s where
# pip takes 40 s, which keeps a fresh `make serve` under a minute. The test set-up stays with pip,
# which reads this machine's pip configuration (the CPU build of torch from a local folder).
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq -c constraints.txt pip

$(DOCS): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -qq -c constraints.txt uv
	$(BIN)/uv pip install -q --python $(BIN)/python -c constraints.txt -e ".[docs]"
	@touch $@

$(STAMP): $(DOCS)
	$(BIN)/python -m pip install -qq -c constraints.txt -e ".[docs,test,torch]"
	@touch $@

setup: $(STAMP)

build: $(DOCS)
	$(BIN)/mkdocs build --strict

# `mkdocs serve` builds the site itself (once), then rebuilds on every change.
serve: $(DOCS)
	$(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8000

# Everything CI runs: the linter, the type checker, then every test (unit, doctests, traces,
# the strict build, the browser). About ten minutes on two cores.
test: lint typecheck
	$(BIN)/python -m pytest

# The library alone: unit and property tests and the doctests of src/transformer_primer. No
# site build, no browser: well under a minute, for the edit-test loop.
test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit src/transformer_primer

# Rewrite every trace on the site from what the code prints now; review with `git diff docs/`.
traces: $(STAMP)
	$(BIN)/python -m primer_site.traces --update

# Retrain the four shipped models from scratch (one thread each, one after the other, a few
# minutes) into a temporary folder, then check each on 1,000 held-out strings (or prompts): exact
# match >= 0.99 (reverse, copy, add) or >= 0.95 (sort), and each training run under 120 s of CPU
# time (the decoder-only add: 180 s; the wall clock is printed too; on a busy machine it is
# longer). Not part of `test`.
reproduce: $(STAMP)
	@out=$$(mktemp -d) && for task in reverse copy sort add; do \
	  OMP_NUM_THREADS=1 $(BIN)/python -m transformer_primer train $$task --out $$out/$$task.npz || exit 1; \
	done && for task in reverse copy sort add; do \
	  $(BIN)/python -m transformer_primer evaluate $$task --weights $$out/$$task.npz --check || exit 1; \
	done && rm -r $$out

# ruff's rules and formatter (configured in pyproject.toml; the lesson modules and the sketch
# are formatted by hand, see [tool.ruff.format]).
lint: $(STAMP)
	$(BIN)/python -m ruff check src tests
	$(BIN)/python -m ruff format --check src tests

# mypy --strict on the library (configured in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/python -m mypy

# Benchmark attention on one thread into bench/results.json (about five minutes; the
# benchmark page and the tiled-attention lesson are built from that file: commit it), then the
# KV cache's cost per token into bench/kv_cache.json (about 30 s; the KV cache lesson's figure),
# then five small GPTs with different positions tested past their training length into
# bench/extrapolation.json (about ten CPU minutes; the positions lesson's figure and table),
# then the regularization experiment into bench/regularization.json (about ten CPU minutes),
# then post-norm against pre-norm at large learning rates into bench/norms.json (24 short training
# runs, a few minutes; the norms lesson's figure and table).
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are set on these machines for old OpenBLAS builds
# and slow a current one: they are unset for this command only, and the kernel that ran is
# recorded (threadpoolctl). PyTorch is compared when installed (the torch extra).
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	  MKL_NUM_THREADS=1 $(BIN)/python -m primer_site.bench_run --out bench/results.json
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	  MKL_NUM_THREADS=1 $(BIN)/python -m primer_site.bench_kv_cache --out bench/kv_cache.json
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	  MKL_NUM_THREADS=1 $(BIN)/python -m primer_site.bench_extrapolation --out bench/extrapolation.json
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	  MKL_NUM_THREADS=1 $(BIN)/python -m primer_site.bench_regularization --out bench/regularization.json
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	  MKL_NUM_THREADS=1 $(BIN)/python -m primer_site.bench_norms --out bench/norms.json

# Our fast attention against PyTorch's, interleaved, one and two threads, n = 256 .. 16384, into
# bench/torch/<cpu-model>.json (about ten minutes on a 2-core AMD EPYC: run it on a quiet
# machine, commit the file; the benchmark page shows every CPU's file). Needs the torch extra.
.PHONY: bench-torch
bench-torch: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench,torch]"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS \
	  -u MKL_NUM_THREADS $(BIN)/python -m primer_site.bench_torch --out-dir bench/torch

# Full-page PNGs of the home, lesson and notebook pages, desktop and phone, light and dark,
# into screenshots/ (gitignored), to look at the layout by eye. Needs /usr/bin/chromium.
.PHONY: screenshots
screenshots: build
	$(BIN)/python -m primer_site.screenshots site --out screenshots

clean:
	rm -rf site .cache .pytest_cache
