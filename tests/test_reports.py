"""The portfolio: parameter typing and checks, and agreement with every notebook's parameters cell."""

from __future__ import annotations

import ast

import papermill
import pytest

from crizotinib_reports.variants import parse_param_overrides
from crizotinib_reports.exceptions import UsageError
from crizotinib_reports.paths import NOTEBOOK_DIR
from crizotinib_reports.reports import get_report, portfolio

REPORTS = portfolio()


@pytest.mark.parametrize("name", list(REPORTS))
def test_notebook_parameters_cell_agrees_with_the_portfolio(name):
    report = REPORTS[name]
    inferred = papermill.inspect_notebook(str(NOTEBOOK_DIR / report.notebook))
    assert list(inferred) == [p.name for p in report.parameters]
    for parameter in report.parameters:
        cell = inferred[parameter.name]
        assert cell["inferred_type_name"] == parameter.type, parameter.name
        assert ast.literal_eval(cell["default"]) == parameter.default, parameter.name
        assert cell["help"] == parameter.help, parameter.name


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
    reports = [get_report("overview"), get_report("clinical_relapses")]
    parsed = parse_param_overrides(["time_unit=years", "confidence_level=0.9"], reports)
    assert parsed == {"overview": {"confidence_level": [0.9]},
                      "clinical_relapses": {"time_unit": ["years"], "confidence_level": [0.9]}}


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
