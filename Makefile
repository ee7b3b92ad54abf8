# The front door. `make reports` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LAB    := .venv-lab
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

# For the analyst: JupyterLab in a venv of its own, opened on the notebooks, with the project's kernel
# (JUPYTER_PATH finds .venv's kernelspec first). Not in .venv: JupyterLab brings jsonschema format
# checkers that add ~2 s to every build process's import of nbformat (docs/performance.md).
lab: setup
	@test -x $(LAB)/bin/jupyter-lab || { $(PYTHON) -m venv $(LAB) && $(LAB)/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock jupyterlab; }
	JUPYTER_PATH="$(CURDIR)/$(VENV)/share/jupyter" $(LAB)/bin/jupyter lab notebooks/

clean:
	rm -rf outputs .pytest_cache

distclean: clean
	rm -rf $(VENV) $(LAB) src/*.egg-info
