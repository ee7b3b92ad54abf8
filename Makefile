# The front door. `make reports` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup reports test validate list lab bench clean distclean

setup: $(STAMP)

# Re-installs only when the pins change; otherwise `make setup` is a no-op.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "crizotinib-reports needs Python 3.11 or newer; set PYTHON=python3.11 (or newer) and retry")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (crizotinib-reports)" >/dev/null
	@touch $(STAMP)

reports: setup
	$(BIN)/crizotinib-reports build

test: setup
	$(BIN)/python -m pytest

validate: setup
	$(BIN)/crizotinib-reports validate

list: setup
	$(BIN)/crizotinib-reports list

# Build times and memory against the usual papermill/nbconvert/weasyprint chain (docs/performance.md).
bench: setup
	$(BIN)/python benchmarks/bench.py

# For the analyst: JupyterLab in the same venv, opened on the notebooks (the kernel is the venv's).
lab: setup
	@test -x $(BIN)/jupyter-lab || $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock jupyterlab
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf outputs .pytest_cache

distclean: clean
	rm -rf $(VENV) src/*.egg-info
