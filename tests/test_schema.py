"""Validation: the shipped data passes; each way of breaking a file names file, line, column, rule."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest

from crizotinib_reports.evidence.data import load_evidence, validate
from crizotinib_reports.evidence.schema import ROW_RULES, validate_tables
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


def test_a_blank_line_mid_file_is_skipped_and_the_rows_after_it_are_kept(tiny: Path):
    header = list(TINY_ROWS[0])
    lines = [",".join(header)] + [",".join(row[c] for c in header) for row in TINY_ROWS]
    (tiny / "schema.yaml").write_text(TINY_SCHEMA, encoding="utf-8")
    (tiny / "sources.csv").write_text(TINY_SOURCES, encoding="utf-8")
    (tiny / "rows.csv").write_text("\n".join([lines[0], lines[1], "", " , ", lines[2]]) + "\n", encoding="utf-8")
    tables, found = validate_tables(tiny, ("sources", "rows"))
    assert found == [] and list(tables["rows"]["row_id"]) == ["r1", "r2"]


def test_bytes_that_are_not_utf8_name_their_line(data_copy: Path):
    path = data_copy / "outcomes.csv"
    lines = path.read_bytes().split(b"\n")
    lines[4] = lines[4] + b"\xff"
    path.write_bytes(b"\n".join(lines))
    found = problems(data_copy)
    assert len(found) == 1 and found[0].endswith("outcomes.csv, line 5: not valid UTF-8 text; save the file as UTF-8"), found


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


# --- every rule the schema applies, one at a time, on a tiny table -------------------------------------

TINY_SCHEMA = """\
tables:
  sources:
    description: Citations.
    key: [source_id]
    columns:
      source_id: {type: str, pattern: '[a-z][a-z0-9]*'}
  rows:
    description: One column of each kind, and every row rule.
    key: [row_id]
    rules: [percent_at_most_100, frequency_low_not_above_high, value_or_not_reached, interval_contains_estimate,
            attribution_consistent]
    columns:
      row_id: {type: str, pattern: '[a-z][a-z0-9]*'}
      label: {type: str}
      kind: {type: str, choices: [single-arm, randomized]}
      count: {type: int, nullable: true, min: 1, max: 1000}
      day: {type: date, nullable: true}
      value: {type: float, nullable: true, min: 0}
      unit: {type: str, choices: ['%', months]}
      note: {type: str, nullable: true, choices: [not reached]}
      frequency_low_pct: {type: float, nullable: true}
      frequency_high_pct: {type: float, nullable: true}
      estimate: {type: float, nullable: true}
      ci_low: {type: float, nullable: true}
      ci_high: {type: float, nullable: true}
      source_id: {type: str, references: sources.source_id}
      also_in: {type: str, nullable: true, references: sources.source_id}
      verification: {type: str, choices: [primary, secondary, review only, not verified]}
      primary_source_id: {type: str, nullable: true, references: sources.source_id}
      verified_in_id: {type: str, nullable: true, references: sources.source_id}
      review_section: {type: str, nullable: true}
      remark: {type: str, required: false, nullable: true}
"""
TINY_SOURCES = "source_id\nreview\nprimary\nsummary\n"
# Two rows that keep every rule; each case breaks the second (line 3), so the line number is not a default.
TINY_ROWS = [
    {"row_id": "r1", "label": "Phase I", "kind": "single-arm", "count": "119", "day": "2011-08-26", "value": "61",
     "unit": "%", "note": "", "frequency_low_pct": "22", "frequency_high_pct": "36", "estimate": "61",
     "ci_low": "52", "ci_high": "70", "source_id": "review", "also_in": "review;primary", "verification": "primary",
     "primary_source_id": "primary", "verified_in_id": "", "review_section": ""},
    {"row_id": "r2", "label": "PFS", "kind": "randomized", "count": "", "day": "", "value": "7.7", "unit": "months",
     "note": "", "frequency_low_pct": "", "frequency_high_pct": "", "estimate": "", "ci_low": "", "ci_high": "",
     "source_id": "review", "also_in": "", "verification": "review only", "primary_source_id": "",
     "verified_in_id": "", "review_section": "clinical activity"},
]
ATTRIBUTION = ROW_RULES["attribution_consistent"].text


def tiny_problems(folder: Path, rows: list[dict], header: list[str] | None = None) -> list[str]:
    """Every problem validation finds in the tiny tables, as the one-line messages people read."""
    (folder / "schema.yaml").write_text(TINY_SCHEMA, encoding="utf-8")
    (folder / "sources.csv").write_text(TINY_SOURCES, encoding="utf-8")
    header = header or list(rows[0])
    with open(folder / "rows.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([row.get(column, "") for column in header] for row in rows)
    _tables, found = validate_tables(folder, ("sources", "rows"))
    return [str(p) for p in found]


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # messages name rows.csv as a person in this folder would
    return tmp_path


def test_the_tiny_tables_keep_every_rule(tiny: Path):
    assert tiny_problems(tiny, TINY_ROWS) == []
    reached = {**TINY_ROWS[1], "value": "", "note": "not reached"}
    assert tiny_problems(tiny, [TINY_ROWS[0], reached]) == []  # a median not reached needs no value
    assert tiny_problems(tiny, TINY_ROWS, header=[c for c in TINY_ROWS[0]] + ["remark"]) == []


# (rule, the cells of row 2 changed, column named, message): every check schema.py makes on a cell or a row.
CELL_AND_ROW_RULES = [
    ("number", {"count": "1x"}, "count", "not a number (got '1x')"),
    ("finite", {"count": "inf"}, "count", "not a finite number (got 'inf')"),
    ("whole", {"count": "1.5"}, "count", "not a whole number (or too large) (got '1.5')"),
    ("date", {"day": "2011-02-30"}, "day", "not a real date in the form YYYY-MM-DD (got '2011-02-30')"),
    ("min", {"count": "0"}, "count", "must be at least 1 (got 0)"),
    ("max", {"count": "1001"}, "count", "must be at most 1000 (got 1001)"),
    ("choices", {"kind": "phase-iii"}, "kind", "must be one of single-arm, randomized (got 'phase-iii')"),
    ("nullable", {"label": ""}, "label", "must not be empty"),
    ("pattern", {"row_id": "R2"}, "row_id", "must match the pattern [a-z][a-z0-9]* (got 'R2')"),
    ("key", {"row_id": "r1"}, "row_id", "duplicate key (row_id): each must be unique (got 'r1')"),
    ("references", {"source_id": "nobody"}, "source_id",
     "does not resolve in sources.csv column 'source_id' (got 'nobody')"),
    ("references", {"also_in": "review;nobody"}, "also_in",
     "does not resolve in sources.csv column 'source_id' (got 'nobody')"),
    ("control characters", {"label": "PFS\x1b[2J"}, "label",
     "contains a control or bidirectional-formatting character; remove it (got 'PFS\\x1b[2J')"),
    ("percent_at_most_100", {"unit": "%", "value": "161"}, "value", "a percentage must be at most 100 (got 161)"),
    ("frequency_low_not_above_high", {"frequency_low_pct": "36", "frequency_high_pct": "22"}, "frequency_low_pct",
     "low bound must not be above frequency_high_pct (got 36)"),
    ("value_or_not_reached", {"value": ""}, "value",
     "needs a value, or note 'not reached' for a median not reached"),
    ("interval_contains_estimate", {"estimate": "40", "ci_low": "52", "ci_high": "70"}, "ci_low",
     "need ci_low <= estimate <= ci_high (got 52)"),
    ("interval_contains_estimate", {"estimate": "75", "ci_low": "52", "ci_high": "70"}, "ci_low",
     "need ci_low <= estimate <= ci_high (got 52)"),
    ("interval_contains_estimate", {"ci_low": "70", "ci_high": "52"}, "ci_low",  # no estimate: the bounds alone
     "need ci_low <= estimate <= ci_high (got 70)"),
    ("attribution_consistent", {"verification": "primary"}, "verification", f"{ATTRIBUTION} (got 'primary')"),
    ("attribution_consistent", {"verification": "secondary"}, "verification", f"{ATTRIBUTION} (got 'secondary')"),
    ("attribution_consistent", {"primary_source_id": "primary"}, "verification",
     f"{ATTRIBUTION} (got 'review only')"),
    ("attribution_consistent", {"verified_in_id": "summary"}, "verification", f"{ATTRIBUTION} (got 'review only')"),
    ("attribution_consistent", {"review_section": ""}, "verification", f"{ATTRIBUTION} (got 'review only')"),
    ("attribution_consistent", {"verification": "not verified", "verified_in_id": "summary"}, "verification",
     f"{ATTRIBUTION} (got 'not verified')"),
]


@pytest.mark.parametrize(("rule", "cells", "column", "message"), CELL_AND_ROW_RULES,
                         ids=[f"{case[0]}-{'-'.join(case[1])}" for case in CELL_AND_ROW_RULES])
def test_each_rule_broken_alone_is_one_line_naming_file_row_column_and_rule(tiny: Path, rule, cells, column,
                                                                           message):
    broken = {**TINY_ROWS[1], **cells}
    assert tiny_problems(tiny, [TINY_ROWS[0], broken]) == [f"rows.csv, line 3, column '{column}': {message}"]


def test_every_row_rule_has_a_case():
    assert {case[0] for case in CELL_AND_ROW_RULES} >= set(ROW_RULES)


@pytest.mark.parametrize(("header", "message"), [
    ([*TINY_ROWS[0], "extra"], "rows.csv, line 1, column 'extra': unexpected column; remove it or declare it in "
                               "data/schema.yaml"),
    ([c for c in TINY_ROWS[0] if c != "label"], "rows.csv, line 1, column 'label': required column is missing "
                                                "from the header"),
])
def test_a_header_rule_broken_alone_is_one_line(tiny: Path, header: list[str], message: str):
    assert tiny_problems(tiny, TINY_ROWS, header=header) == [message]


# --- the third seeded sample's survivors in schema.py (docs/testing.md) --------------------------------------

def tiny_csv_problems(folder: Path, body: str) -> list[str]:
    """Problems of rows.csv written as raw text (after the tiny header), for faults csv.writer cannot make."""
    (folder / "schema.yaml").write_text(TINY_SCHEMA, encoding="utf-8")
    (folder / "sources.csv").write_text(TINY_SOURCES, encoding="utf-8")
    header = list(TINY_ROWS[0])
    rows = [",".join(row[c] for c in header) for row in TINY_ROWS]
    (folder / "rows.csv").write_text("\n".join([",".join(header), *rows]) + "\n" + body, encoding="utf-8")
    return [str(p) for p in validate_tables(folder, ("sources", "rows"))[1]]


def test_a_closed_quote_holding_a_line_break_is_named_on_its_line(tiny: Path):
    cells = [TINY_ROWS[1][c] for c in TINY_ROWS[1]]
    cells[1] = '"two\nlines"'
    cells[0] = "r3"
    assert tiny_csv_problems(tiny, ",".join(cells) + "\n") == [
        "rows.csv, line 4: a quoted cell runs over several lines (unclosed quote?)"]


def test_a_quote_never_closed_is_named_by_the_line_its_row_starts_on(tiny: Path):
    cells = [TINY_ROWS[1][c] for c in TINY_ROWS[1]]
    cells[1] = '"never closed'
    assert tiny_csv_problems(tiny, ",".join(cells) + "\n") == [
        "rows.csv, line 4: a quote opened in the row starting on line 4 is never closed"]


def test_rules_that_are_not_a_list_are_refused_with_the_known_names(data_copy: Path):
    edit(data_copy / "schema.yaml", "rules: [attribution_consistent]", "rules: attribution_consistent")
    found = problems(data_copy)
    assert len(found) == 1 and "rules must be a list of rule names (known: " in found[0], found
    assert all(rule in found[0] for rule in ROW_RULES)


def test_the_same_broken_schema_in_two_folders_names_each_its_own_file(tmp_path: Path):
    """A schema's text is parsed once however many copies hold it; each problem still names the file it is in."""
    texts = {"rules": ("rules: [attribution_consistent]", "rules: attribution_consistent"),
             "yaml": ("tables:", "tables: [")}
    for kind, (old, new) in texts.items():
        found = []
        for folder in ("first", "second"):
            data = tmp_path / kind / folder
            shutil.copytree(DATA_DIR, data)
            edit(data / "schema.yaml", old, new)
            found.append(problems(data))
        for folder, listed in zip(("first", "second"), found):
            assert len(listed) == 1 and f"{folder}/schema.yaml" in listed[0].replace("\\", "/"), (kind, listed)


def test_the_same_broken_table_in_two_folders_names_each_its_own_file(tmp_path: Path):
    """A table's text is checked once however many copies hold it; each problem still names the file it is in,
    and a copy that is fine stays fine after a broken one was checked."""
    found = []
    for folder in ("first", "second"):
        data = tmp_path / folder
        shutil.copytree(DATA_DIR, data)
        edit(data / "trials.csv", "PROFILE 1014", "PROFILE 1014\u200f")
        found.append(problems(data))
    for folder, listed in zip(("first", "second"), found):
        assert len(listed) == 1 and f"{folder}/trials.csv, line " in listed[0].replace("\\", "/"), listed
        assert "control or bidirectional" in listed[0]
    assert found[0][0].replace("first", "second") == found[1][0]
    validate(DATA_DIR)


def test_each_validation_hands_out_frames_of_its_own():
    """Frames checked once are copied to every caller: what one report does to its frame reaches no other."""
    first = validate(DATA_DIR)
    first["trials"].loc[:, "trial_name"] = "changed"
    first["outcomes"].loc[:, "value"] = -1.0
    second = validate(DATA_DIR)
    assert "changed" not in set(second["trials"]["trial_name"]) and (second["outcomes"]["value"] != -1.0).any()


def test_a_missing_schema_says_to_restore_it(data_copy: Path):
    (data_copy / "schema.yaml").unlink()
    found = problems(data_copy)
    assert len(found) == 1 and found[0].endswith("schema.yaml: schema file not found; restore it from git"), found


# --- the fourth seeded sample's survivors in schema.py ------------------------------------------------------

def test_a_table_without_a_description_is_valid(tiny: Path):
    undescribed = TINY_SCHEMA.replace("    description: Citations.\n", "", 1)
    assert undescribed != TINY_SCHEMA
    (tiny / "schema.yaml").write_text(undescribed, encoding="utf-8")
    (tiny / "sources.csv").write_text(TINY_SOURCES, encoding="utf-8")
    header = list(TINY_ROWS[0])
    (tiny / "rows.csv").write_text("\n".join([",".join(header), *(",".join(r[c] for c in header) for r in TINY_ROWS)])
                                   + "\n", encoding="utf-8")
    assert validate_tables(tiny, ("sources", "rows"))[1] == []


def test_a_row_with_too_many_fields_says_how_to_fix_it(tiny: Path):
    cells = [TINY_ROWS[1][c] for c in TINY_ROWS[1]] + ["extra"]
    (found,) = tiny_csv_problems(tiny, ",".join(cells) + "\n")
    assert found.endswith("(quote cells that contain commas, or name the missing column in the header)"), found
    cells = [TINY_ROWS[1][c] for c in TINY_ROWS[1]][:-1]
    (found,) = tiny_csv_problems(tiny, ",".join(cells) + "\n")
    assert found.endswith("(add the missing cells (empty is fine: a,,b))"), found
