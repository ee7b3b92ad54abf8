"""Every notebook runs as an analyst runs it in JupyterLab: Run All from notebooks/, with its defaults."""

from __future__ import annotations

import os

import nbformat
import pytest

from crizotinib_reports.paths import NOTEBOOK_DIR
from crizotinib_reports.publish.kernel_fork import PACKAGE_IMPORTS
from crizotinib_reports.publish.kernels import WarmKernels
from crizotinib_reports.publish.portfolio import portfolio

REPORTS = portfolio()


@pytest.fixture(scope="module")
def kernels():
    """Kernels of the notebooks' own kernelspec, started in notebooks/ with this process's environment (as
    JupyterLab starts them), each forked from one parent that imported the report stack once: each notebook
    still gets a process and a namespace of its own, as tests/test_kernel_fork.py checks. One notebook
    (clinical_relapses) still runs in a kernel started cold, by papermill's own CLI (tests/test_reports.py)."""
    names = {nbformat.read(NOTEBOOK_DIR / report.notebook, as_version=4).metadata.kernelspec.name
             for report in REPORTS.values()}
    assert len(names) == 1, names
    started = WarmKernels(len(REPORTS), 1, names.pop(), NOTEBOOK_DIR, [], dict(os.environ),
                          f"test-jupyterlab:{os.getpid()}", warm=PACKAGE_IMPORTS)
    yield started
    started.close(kill_running=True)


@pytest.mark.e2e
@pytest.mark.parametrize("name", list(REPORTS))
def test_notebook_runs_all_with_its_defaults_as_in_jupyterlab(name, kernels):
    """Run All from notebooks/ with the defaults: no CLI, no papermill, nothing injected."""
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK_DIR / REPORTS[name].notebook, as_version=4)
    manager = kernels.take()
    try:
        NotebookClient(notebook, km=manager, timeout=600, resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
    finally:
        kernels.shut_down(manager)
        kernels.report_done()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "Source: " in html and "Provenance" in html
