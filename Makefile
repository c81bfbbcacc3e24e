# Two commands do all the set-up (see README):  make demo  /  make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
CONSTRAINTS := requirements/constraints.txt
# The CPU build of torch is installed first and pinned, so that nothing pulls a CUDA build.
TORCH := torch==2.13.0

.PHONY: demo test lint format bench install install-dev system-tools clean

# The real tools the tests compare against (aomenc/dav1d for AV1 film grain, ffmpeg for LUTs,
# a headless chromium for the web page), from Debian's
# packages when missing: as root, or through sudo.
SYSTEM_TOOLS := aomenc:aom-tools dav1d:dav1d ffmpeg:ffmpeg chromium:chromium chromedriver:chromium-driver

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install -q $(TORCH) -c $(CONSTRAINTS)
	$(PIP) install -q -e ".[all]" -c $(CONSTRAINTS)
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e ".[dev]" -c $(CONSTRAINTS)
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

system-tools:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
		command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
		$$sudo apt-get install -y -q $$missing >/dev/null 2>&1 || \
		{ $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q $$missing >/dev/null; }; \
	fi

## Install, then run the shipped CNNs and every classical method on bundled photos: demo-out/report.html
demo: $(VENV)/.installed
	$(BIN)/restorekit demo --out demo-out

## Install with the dev tools (and aomenc/dav1d), lint, run the tests
test: $(VENV)/.installed-dev system-tools
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q

format: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

## The benchmark tables the README quotes (BM3D makes denoise take several minutes; the
## demosaicing ablation trains 6 networks: run benchmarks/ablation_demosaic.py separately)
bench: $(VENV)/.installed
	$(BIN)/restorekit bench sr
	$(BIN)/restorekit bench demosaic
	$(BIN)/restorekit bench denoise --quantize 8
	$(BIN)/python benchmarks/develop.py
	$(BIN)/python benchmarks/tiling.py
	$(BIN)/python benchmarks/update_readme.py

clean:
	rm -rf $(VENV) demo-out build src/*.egg-info
