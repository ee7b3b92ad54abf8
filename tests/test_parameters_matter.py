"""Every parameter of every report changes what the report shows: a parameter that changes nothing still makes
variant folders and promises the reader a choice that is not there.

Each report's notebook runs in this process (tests/support/cells.py: no kernel, seconds) with its defaults and
with one other value of one parameter, and what it shows (tables' cells and notes, figures' drawings and
captions, prose) must differ.

Exempt, and why:
- `data_dir` names where the data are read, not what is shown of them (the data decide the content; the
  data-driven tests change the data instead).
- A parameter with `names_folder: false` (`changes_file`) is a setting of the occasion, not a variant: it
  makes no folder, and its effect (a run's change summary) is covered by tests/test_runs.py.
"""

from __future__ import annotations

from functools import cache

import pytest

from crizotinib_reports.evidence.analysis import newer_drugs
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.paths import DATA_DIR
from crizotinib_reports.publish.portfolio import Parameter, portfolio
from support.cells import describe, run_report

EXEMPT = {"data_dir"}


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


def content_parameters() -> list[tuple[str, Parameter]]:
    return [(name, p) for name, report in portfolio().items() for p in report.parameters
            if p.name not in EXEMPT and p.names_folder]


def other_value(parameter: Parameter, evidence) -> object:
    """A valid value other than the default, read from the parameter's own constraints."""
    if parameter.choices:
        return next(c for c in parameter.choices if c != parameter.default)
    if parameter.type == "bool":
        return not parameter.default
    if parameter.items is not None:  # one item of the data: a subset, not 'all'
        return parameter.items.allowed(getattr(evidence, parameter.items.table).to_dict("records"))[0]
    if parameter.type == "float" and parameter.minimum is not None:
        return round((parameter.minimum + parameter.default) / 2, 3)
    raise AssertionError(f"no rule for another value of {parameter.name}; add one here")


def shown_text(report: str, **parameters) -> list[str]:
    return [describe(item) for item in run_report(report, **parameters)]


@cache
def shown_by_default(report: str) -> tuple[str, ...]:
    return tuple(shown_text(report))


def test_every_report_has_a_content_parameter_or_none_is_exempt_by_accident():
    names = {name for name, _ in content_parameters()}
    assert {"clinical_activity", "alk_inhibitor_landscape", "clinical_relapses", "resistance_mechanisms"} <= names
    assert ("data_dir" not in {p.name for _, p in content_parameters()}
            and all(any(p.name == "data_dir" for p in r.parameters) for r in portfolio().values()))


@pytest.mark.parametrize(("report", "parameter"), content_parameters(),
                         ids=[f"{r}-{p.name}" for r, p in content_parameters()])
def test_parameter_changes_what_the_report_shows(report, parameter, evidence):
    value = other_value(parameter, evidence)
    parameter.check(value)  # a value the report accepts
    default, changed = list(shown_by_default(report)), shown_text(report, **{parameter.name: value})
    assert default and changed
    assert default != changed, f"{report}: {parameter.name}={value!r} shows exactly what the default shows"


def test_the_runner_sees_a_change_it_is_given(evidence):
    """The comparison can fail: the same parameters twice show the same, and one drug shows less than all."""
    assert shown_text("alk_inhibitor_landscape") == shown_text("alk_inhibitor_landscape", drugs="all")
    one = newer_drugs(evidence)[0]
    only = "\n".join(shown_text("alk_inhibitor_landscape", drugs=one))
    others = [d for d in newer_drugs(evidence)[1:] if d not in only]
    assert one in only and others
