"""The portfolio: parameter typing and checks, and agreement with every notebook's parameters cell."""

from __future__ import annotations

import ast
import sys

import papermill
import pytest

from crizotinib_reports.publish.variants import parse_param_overrides
from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.paths import NOTEBOOK_DIR
from crizotinib_reports.publish.portfolio import get_report, portfolio
from support.cli import cli

REPORTS = portfolio()


@pytest.mark.parametrize("name", list(REPORTS))
def test_notebooks_are_committed_without_outputs(name):
    import nbformat

    notebook = nbformat.read(NOTEBOOK_DIR / REPORTS[name].notebook, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert len(cell.source.splitlines()) <= 15, "long cells belong in the package"


def test_parse_typed_values():
    activity = get_report("clinical_activity")
    parsed = parse_param_overrides(["confidence_level=0.9", "include_single_arm=no", "setting=first-line"], [activity])
    assert parsed["clinical_activity"] == {"confidence_level": [0.9], "include_single_arm": [False],
                                           "setting": ["first-line"]}


def test_shared_parameter_goes_to_every_report_that_has_it():
    reports = [get_report("overview"), get_report("clinical_activity"), get_report("clinical_relapses")]
    parsed = parse_param_overrides(["time_unit=years", "confidence_level=0.9"], reports)
    assert parsed == {"overview": {"confidence_level": [0.9]}, "clinical_activity": {"confidence_level": [0.9]},
                      "clinical_relapses": {"time_unit": ["years"]}}


@pytest.mark.parametrize(("pair", "message"), [
    ("confidence_level=high", "takes a float"),
    ("confidence_level=1.5", "must be between 0.5 and 0.999"),
    ("setting=third-line", "must be one of all, first-line, second-line"),
    ("include_single_arm=maybe", "takes true or false"),
    ("colour=red", "unknown parameter 'colour'"),
    ("setting", "takes KEY=VALUE"),
    ("=3", "takes KEY=VALUE"),
    ("data_dir=/tmp", "--data-dir"),
])
def test_bad_parameters_are_refused(pair, message):
    with pytest.raises(UsageError, match=message):
        parse_param_overrides([pair], [get_report("clinical_activity")])


def test_parameter_of_another_report_is_refused():
    with pytest.raises(UsageError, match="unknown parameter 'time_unit'"):
        parse_param_overrides(["time_unit=years"], [get_report("overview")])


def test_resolve_checks_types_from_notebook_values():
    report = get_report("clinical_activity")
    assert report.resolve({"confidence_level": 0.9})["confidence_level"] == 0.9
    with pytest.raises(UsageError, match="between"):
        report.resolve({"confidence_level": 1})
    with pytest.raises(UsageError):
        report.resolve({"include_single_arm": "yes"})
    with pytest.raises(UsageError):
        report.resolve({"confidence_level": True})


def test_unknown_report():
    with pytest.raises(UsageError, match="unknown report 'nope'; choose from: overview"):
        get_report("nope")


# --- a report is its notebook ------------------------------------------------------------------------

def _copy_notebooks(tmp_path):
    import shutil

    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, folder)
    return folder


def test_the_portfolio_is_read_from_the_notebooks_in_their_order(tmp_path):
    import json

    folder = _copy_notebooks(tmp_path)
    reports = portfolio(folder)
    orders = [r.order for r in reports.values()]
    assert orders == sorted(orders) and set(reports) == {p.stem for p in folder.glob("*.ipynb")}
    overview = json.loads((folder / "overview.ipynb").read_text())
    overview["metadata"]["crizotinib_reports"]["order"] = 99
    (folder / "overview.ipynb").write_text(json.dumps(overview))
    assert list(portfolio(folder))[-1] == "overview"  # read again when a notebook changes


@pytest.mark.parametrize(("edit", "message"), [
    (lambda nb: nb["metadata"].pop("crizotinib_reports"), "its metadata has no 'crizotinib_reports' block"),
    (lambda nb: nb["metadata"]["crizotinib_reports"]["parameters"].update(nowhere={"min": 1}),
     "constrains 'nowhere', which the parameters cell does not define"),
    (lambda nb: nb["metadata"]["crizotinib_reports"]["parameters"]["time_unit"].update(choicez=["a"]),
     "unknown constraint 'choicez'"),
    (lambda nb: nb["metadata"]["crizotinib_reports"]["parameters"]["time_unit"].update(choices=["weeks"]),
     "the default breaks its own constraint"),
    (lambda nb: nb["metadata"]["crizotinib_reports"].update(tables=[]), "must list the data tables"),
    (lambda nb: nb["metadata"].pop("title"), "its metadata has no 'title'"),
    (lambda nb: [c["metadata"].update(tags=[]) for c in nb["cells"]], "no cell is tagged 'parameters'"),
    (lambda nb: [c.update(source="".join(c["source"]).replace("open_report('clinical_relapses'",
                                                               "open_report('overview'")) for c in nb["cells"]],
     r"open_report\('overview', ...\) names another report; this notebook is 'clinical_relapses'"),
])
def test_a_notebook_that_does_not_define_a_report_is_one_line(tmp_path, edit, message):
    import json

    folder = _copy_notebooks(tmp_path)
    path = folder / "clinical_relapses.ipynb"
    notebook = json.loads(path.read_text())
    edit(notebook)
    path.write_text(json.dumps(notebook))
    with pytest.raises(UsageError, match=message) as caught:
        portfolio(folder)
    assert "clinical_relapses.ipynb" in str(caught.value) and "\n" not in str(caught.value)


def test_papermill_reads_the_same_parameters_as_the_portfolio():
    """The parameters cell is the one definition: papermill --help-notebook and the portfolio read it alike."""
    for report in portfolio().values():
        inferred = papermill.inspect_notebook(str(NOTEBOOK_DIR / report.notebook))
        assert [(n, p["inferred_type_name"], ast.literal_eval(p["default"]), p["help"]) for n, p in inferred.items()] \
            == [(p.name, p.type, p.default, p.help) for p in report.parameters], report.name


@pytest.mark.e2e
def test_adding_a_report_takes_a_notebook_and_no_python(tmp_path):
    """README 'Add a report', step by step: copy a notebook, edit its metadata and its open_report line, build."""
    import json

    folder = _copy_notebooks(tmp_path)
    notebook = json.loads((folder / "clinical_relapses.ipynb").read_text())
    notebook["metadata"]["title"] = "Relapses, in years"
    notebook["metadata"]["crizotinib_reports"].update(description="The relapse report, its time axis in years.",
                                                      order=10)
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        source = source.replace("open_report('clinical_relapses'", "open_report('relapses_in_years'")
        source = source.replace('time_unit: str = "months"', 'time_unit: str = "years"')
        cell["source"] = source
    (folder / "relapses_in_years.ipynb").write_text(json.dumps(notebook, indent=1))
    listed = cli("list", "--notebook-dir", str(folder))
    assert "relapses_in_years: Relapses, in years" in listed.stdout, listed.stderr
    out = tmp_path / "out"
    built = cli("build", "relapses_in_years", "--format", "html", "--jobs", "1", "--notebook-dir", str(folder),
                "--output-dir", str(out))
    assert built.returncode == 0, built.stderr
    html = (out / "relapses_in_years" / "relapses_in_years.html").read_text(encoding="utf-8")
    assert "<title>Relapses, in years</title>" in html and "Time points in years" in html  # the figure's alt text
    manifest = json.loads((out / "manifest.json").read_text())["reports"]["relapses_in_years"]
    assert manifest["parameters"]["time_unit"] == "years" and manifest["title"] == "Relapses, in years"


@pytest.mark.e2e
def test_papermill_runs_a_notebook_from_the_project_root(tmp_path):
    """The default '../data' is read from the notebook's folder, not from wherever papermill was started."""
    import subprocess

    from crizotinib_reports.paths import PROJECT_ROOT

    papermill_cli = [sys.executable, "-m", "papermill", "--log-level", "ERROR"]
    ran = subprocess.run([*papermill_cli, "notebooks/clinical_relapses.ipynb", str(tmp_path / "out.ipynb")],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    missing = subprocess.run([*papermill_cli, "notebooks/clinical_relapses.ipynb", str(tmp_path / "bad.ipynb"),
                              "-p", "data_dir", "no/such/folder"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             timeout=300)
    assert missing.returncode != 0
    assert "data folder" in missing.stderr and "not found" in missing.stderr and "set data_dir" in missing.stderr
