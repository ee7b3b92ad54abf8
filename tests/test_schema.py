"""Validation: the shipped data passes; each way of breaking a file names file, line, column, rule."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crizotinib_reports.evidence.data import load_evidence, validate
from crizotinib_reports.exceptions import DataValidationError
from crizotinib_reports.paths import DATA_DIR


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(data_dir: Path) -> list[str]:
    with pytest.raises(DataValidationError) as caught:
        validate(data_dir)
    return caught.value.problems


def test_shipped_data_is_valid():
    tables = validate(DATA_DIR)
    assert set(tables) == {"sources", "trials", "outcomes", "hazard_ratios", "published_intervals", "approvals",
                           "findings", "relapse_patterns", "resistance_measures", "resistance_mechanisms",
                           "adverse_events", "study_measures"}
    assert all(len(t) > 0 for t in tables.values())


def test_every_row_has_a_source_that_resolves():
    evidence = load_evidence(DATA_DIR)
    known = set(evidence.sources["source_id"])
    for name in ("trials", "outcomes", "approvals", "findings", "relapse_patterns", "resistance_measures",
                 "resistance_mechanisms"):
        frame = getattr(evidence, name)
        assert frame["source_id"].notna().all(), name
        assert set(frame["source_id"]) <= known, name


def test_types_are_coerced():
    evidence = load_evidence(DATA_DIR)
    assert str(evidence.approvals["date"].dtype).startswith("datetime64")
    assert evidence.outcomes["value"].dtype == "Float64"
    assert evidence.trials["patients_evaluated"].dtype == "Int64"


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("outcomes.csv", "phase1,crizotinib,ORR,primary,,,61,", "phase1,crizotinib,ORR,primary,,,161,",
         "outcomes.csv, line 2, column 'value': a percentage must be at most 100 (got 161)"),
        ("outcomes.csv", "phase1,crizotinib,ORR,primary,,,61,", "phase1,crizotinib,ORR,primary,,,6x1,",
         "outcomes.csv, line 2, column 'value': not a number (got '6x1')"),
        ("outcomes.csv", "phase1,crizotinib,ORR,primary,,,61,", "phase1,crizotinib,ORR,primary,,,-61,",
         "outcomes.csv, line 2, column 'value': must be at least 0 (got -61)"),
        ("trials.csv", ",119,", ",-3,", "trials.csv, line 2, column 'patients_evaluated': must be at least 1 (got -3)"),
        ("trials.csv", ",119,", ",11.5,", "trials.csv, line 2, column 'patients_evaluated': not a whole number"),
        ("approvals.csv", "2013-11-20", "2013-02-30",
         "approvals.csv, line 3, column 'date': not a real date in the form YYYY-MM-DD (got '2013-02-30')"),
        ("outcomes.csv", "phase2,crizotinib,ORR,primary,,,50,%,,136,,review2024", "phase2,crizotinib,ORR,primary,,,50,%,,136,,nobody2020",
         "outcomes.csv, line 5, column 'source_id': does not resolve in sources.csv column 'source_id' (got 'nobody2020')"),
        ("outcomes.csv", "phase2,crizotinib,ORR,primary,,,50,%,,136,,review2024,malik2014,,primary,",
         "phase2,crizotinib,ORR,primary,,,50,%,,136,,review2024,,,primary,",
         "outcomes.csv, line 5, column 'verification': primary needs primary_source_id"),
        ("outcomes.csv", "phase2,crizotinib,ORR,primary,,,50,%,,136,,review2024,malik2014,,primary,",
         "phase2,crizotinib,ORR,primary,,,50,%,,136,,review2024,malik2014,,secondary,",
         "outcomes.csv, line 5, column 'verification': primary needs primary_source_id; secondary needs verified_in_id"),
        ("relapse_patterns.csv", ",review2024,,,review only,clinical relapses,", ",review2024,camidge2012,,review only,clinical relapses,",
         "relapse_patterns.csv, line 2, column 'verification': primary needs"),
        ("approvals.csv", "phase1;phase2", "phase1;phase9",
         "approvals.csv, line 2, column 'basis_trial_ids': does not resolve in trials.csv column 'trial_id' (got 'phase9')"),
        ("outcomes.csv", "profile1014,chemotherapy,ORR", "profile1014,crizotinib,ORR",
         "outcomes.csv, line 14, column 'trial_id': duplicate key (trial_id, arm, endpoint, analysis)"),
        ("resistance_mechanisms.csv", ",22,36,", ",36,22,",
         "resistance_mechanisms.csv, line 2, column 'frequency_low_pct': low bound must not be above frequency_high_pct"),
        ("resistance_mechanisms.csv", ",22,36,", ",22,136,",
         "resistance_mechanisms.csv, line 2, column 'frequency_high_pct': must be at most 100"),
        ("trials.csv", ",III,randomized,", ",IV,randomized,",
         "trials.csv, line 4, column 'phase': must be one of I, II, III (got 'IV')"),
        ("trials.csv", "trial_id,trial_name,", "trial_id,name,",
         "trials.csv, line 1, column 'name': unexpected column"),
        ("sources.csv", "Dagogo-Jack I, Shaw AT", "",
         "sources.csv, line 3, column 'authors': must not be empty"),
    ],
)
def test_each_broken_rule_is_named(data_copy: Path, file: str, old: str, new: str, expected: str):
    edit(data_copy / file, old, new)
    found = problems(data_copy)
    assert any(expected in p for p in found), found


def test_missing_column(data_copy: Path):
    path = data_copy / "trials.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["trial_name"])
    frame.to_csv(path, index=False)
    found = problems(data_copy)
    assert any("trials.csv, line 1, column 'trial_name': required column is missing" in p for p in found), found


def test_all_problems_are_listed_not_only_the_first(data_copy: Path):
    edit(data_copy / "outcomes.csv", "phase1,crizotinib,ORR,primary,,,61,", "phase1,crizotinib,ORR,primary,,,161,")
    edit(data_copy / "approvals.csv", "2013-11-20", "2013-13-20")
    edit(data_copy / "trials.csv", ",136,", ",0,")
    found = problems(data_copy)
    assert len(found) == 3
    assert {p.split(",")[0].rsplit("/", 1)[-1] for p in found} == {"outcomes.csv", "approvals.csv", "trials.csv"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "file is empty"),
        (b"\xff\xfe\x00bad", "not valid UTF-8"),
        (b'trial_id,arm,endpoint,analysis,value,unit,note,denominator,denominator_source_id,source_id,review_quote\nphase1,crizotinib,ORR,primary,61,%,,119,,review2024,"open\n',
         "is never closed"),
        (b"trial_id,arm,endpoint,analysis,value,unit,note,denominator,denominator_source_id,source_id,review_quote\nphase1,crizotinib,ORR,primary,61,%,,119,,review2024,q,extra\n",
         "row has 12 fields but the header has 11"),
    ],
)
def test_unreadable_files(data_copy: Path, content: bytes, expected: str):
    (data_copy / "outcomes.csv").write_bytes(content)
    found = problems(data_copy)
    assert any("outcomes.csv" in p and expected in p for p in found), found


def test_missing_file(data_copy: Path):
    (data_copy / "approvals.csv").unlink()
    assert any("approvals.csv: file not found" in p for p in problems(data_copy))


def test_error_message_is_one_line_per_problem(data_copy: Path):
    edit(data_copy / "outcomes.csv", "phase1,crizotinib,ORR,primary,,,61,", "phase1,crizotinib,ORR,primary,,,161,")
    with pytest.raises(DataValidationError) as caught:
        validate(data_copy)
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid data: 1 problem"
    assert len(lines) == 2


@pytest.mark.parametrize(("cell", "expected"), [
    ("1e999", "column 'patients_evaluated': not a finite number (got '1e999')"),
    ("1e30", "column 'patients_evaluated': not a whole number (or too large) (got '1e30')"),
    ("11.5", "column 'patients_evaluated': not a whole number (or too large) (got '11.5')"),
])
def test_numbers_that_parse_but_cannot_be_used(data_copy: Path, cell: str, expected: str):
    """Found by the hypothesis test: these once ended in a pandas traceback, or passed as infinity."""
    edit(data_copy / "trials.csv", ",119,", f",{cell},")
    found = problems(data_copy)
    assert found == [f"{found[0].split(',')[0]}, line 2, {expected}"], found


def test_an_infinite_float_is_refused(data_copy: Path):
    edit(data_copy / "outcomes.csv", "phase1,crizotinib,ORR,primary,,,61,", "phase1,crizotinib,ORR,primary,,,inf,")
    assert any("column 'value': not a finite number (got 'inf')" in p for p in problems(data_copy))
