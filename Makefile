# Set-up and checks for a fresh Debian or Ubuntu machine with Python 3.11.
#   make demo   installs everything and answers an example question
#   make test   installs everything, with the test tools, and runs the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
EXAMPLE ?= examples/liars_chain.txt

.PHONY: demo test swipl venv clean

demo: venv
	$(BIN)/reason solve $(EXAMPLE)

test: venv
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/reason rules check
	$(BIN)/reason rules test
	$(BIN)/pytest -q

# SWI-Prolog comes from Debian's swi-prolog-nox; PyPI has no SWI-Prolog binary.
swipl:
	@command -v swipl >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q swi-prolog-nox; }

venv: swipl $(VENV)/.installed

# torch is installed first and pinned, so that nothing later pulls another build. Where
# pip's indexes hold only the CUDA build of torch (plain PyPI on Linux x86_64, several GB),
# pass TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU build.
TORCH_INDEX ?=
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

clean:
	rm -rf $(VENV) .cache build *.egg-info

# Regenerate BENCHMARKS.md, runs/bench/*/report.json and docs/accuracy.png (about an hour on 2 cores).
.PHONY: benchmarks
benchmarks: venv
	$(BIN)/python -m reasoner.benchmarks
