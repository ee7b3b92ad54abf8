# The front door. `make reports` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LAB    := .venv-lab
STAMP  := $(VENV)/.installed-stamp

# The project's kernel, named apart from `python3` so that it never shadows another Python kernel:
# `make setup` installs it into .venv (where `make lab` finds it), `make kernel` for your own JupyterLab.
KERNEL         := crizotinib-reports
KERNEL_INSTALL  = $(BIN)/python -m ipykernel install --name $(KERNEL) --display-name "Python 3 ($(KERNEL))"

# nbstripout's arguments for the git filter: the pre-commit hook's, in .pre-commit-config.yaml, which says
# why each is there (tests/test_hygiene.py keeps the two equal).
NBSTRIPOUT_ARGS := --keep-id --drop-tagged-cells injected-parameters --extra-keys "metadata.papermill \
	cell.metadata.papermill metadata.language_info.version metadata.vscode cell.metadata.jp-MarkdownHeadingCollapsed \
	cell.metadata.trusted"
NBSTRIPOUT      = "$(abspath $(BIN))/python" -m nbstripout

# JupyterLab refuses to start as root unless told.
ALLOW_ROOT      = $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: setup reports test validate list lab kernel git-filter bench mutants clean distclean

setup: $(STAMP)

# Re-installs only when the pins change; otherwise `make setup` is a no-op.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "crizotinib-reports needs Python 3.11 or newer; set PYTHON=python3.11 (or newer) and retry")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	$(KERNEL_INSTALL) --sys-prefix >/dev/null
	@$(MAKE) --no-print-directory git-filter
	@touch $(STAMP)

# Saved outputs never reach git, even without pre-commit: the nbstripout filter that .gitattributes names
# for *.ipynb cleans what is staged (the file on disk keeps its outputs), and `git diff` shows notebooks
# the same way. Only in a git checkout of this project; setting the same values again changes nothing.
git-filter:
	@if git ls-files --error-unmatch Makefile >/dev/null 2>&1; then \
		git config filter.nbstripout.clean '$(NBSTRIPOUT) $(NBSTRIPOUT_ARGS)' && \
		git config filter.nbstripout.smudge cat && \
		git config filter.nbstripout.required true && \
		git config diff.ipynb.textconv '$(NBSTRIPOUT) --textconv $(NBSTRIPOUT_ARGS)'; \
	else echo "not a git checkout: no nbstripout git filter set up"; fi

reports: setup
	$(BIN)/crizotinib-reports build

test: setup
	$(BIN)/python -m pytest -n auto --dist loadgroup

validate: setup
	$(BIN)/crizotinib-reports validate

list: setup
	$(BIN)/crizotinib-reports list

# Build times and memory against the usual papermill/nbconvert/weasyprint chain (docs/performance.md).
bench: setup
	$(BIN)/python benchmarks/bench.py

# Mutation testing of the decision code by the unit tests (docs/testing.md): the score per module, exit 1 below
# 85%. `make mutants MODULE=stats` for one module; `SAMPLE=N` runs N mutants a module, drawn with a fixed seed
# (an estimate with its interval, where all of them take hours); results stay in mutants/ (`.venv/bin/mutmut show NAME`).
mutants: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test,mutants]'
	$(BIN)/python tools/mutants.py $(if $(MODULE),--module $(MODULE)) $(if $(SAMPLE),--sample $(SAMPLE))

# For the analyst: JupyterLab in a venv of its own, opened on the notebooks, with the project's kernel
# (JUPYTER_PATH finds .venv's kernelspec first). Not in .venv: JupyterLab brings jsonschema format
# checkers that add ~2 s to every build process's import of nbformat (docs/performance.md).
lab: setup
	@test -x $(LAB)/bin/jupyter-lab || { $(PYTHON) -m venv $(LAB) && $(LAB)/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock jupyterlab; }
	JUPYTER_PATH="$(CURDIR)/$(VENV)/share/jupyter" $(LAB)/bin/jupyter lab $(ALLOW_ROOT) notebooks/

# For a JupyterLab of your own: the same kernelspec in your user's Jupyter folder, running this checkout's .venv
# (`jupyter kernelspec remove crizotinib-reports` takes it away).
kernel: setup
	$(KERNEL_INSTALL) --user

clean:
	rm -rf outputs .pytest_cache

# The filter runs .venv's Python: without .venv, git would refuse to stage notebooks, so it goes too.
distclean: clean
	rm -rf $(VENV) $(LAB) src/*.egg-info
	@if git ls-files --error-unmatch Makefile >/dev/null 2>&1; then \
		git config --remove-section filter.nbstripout 2>/dev/null; \
		git config --remove-section diff.ipynb 2>/dev/null; true; fi
