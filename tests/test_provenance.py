"""Every number traceable: table cells carry their data file, row, column, citation and derivation (HTML
attributes, CSV columns), and `crizotinib-reports trace` answers from the built HTML."""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from crizotinib_reports.cli import main
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.evidence.provenance import CellSource, from_rows, provenance_columns
from crizotinib_reports.evidence.tables import ReportTable, efficacy_table
from support.cli import cli

HOSTILE = '"><script>alert(1)</script>'
REPORTS = ("overview", "clinical_activity", "clinical_relapses", "resistance_mechanisms", "alk_inhibitor_landscape",
           "methods_appendix")


def tiny_table(provenance: list[dict] | None, group: bool = False) -> ReportTable:
    frame = pd.DataFrame({"Group": ["b", "a", "b"], "Trial": ["T1", "T2", HOSTILE], "ORR": ["74%", "45%", "12%"]})
    from crizotinib_reports.evidence.provenance import provenance_frame
    return ReportTable(name="tiny", title="Tiny", population="N=3", frame=frame, source_ids=(), source_text="src",
                       group_column="Group" if group else None,
                       provenance=provenance_frame(frame, provenance) if provenance is not None else None)


def cell(source: str, citation: str = "Review 2024 (P)", derived: str = "") -> CellSource:
    return CellSource((source,), citation, "P", derived)


def test_a_row_is_named_by_its_schema_key_and_cited_as_its_table_cites_it():
    evidence = load_evidence()
    row = evidence.outcomes[(evidence.outcomes["trial_id"] == "profile1014") & (evidence.outcomes["arm"] == "crizotinib")
                            & (evidence.outcomes["endpoint"] == "ORR")].iloc[0]
    source = from_rows(evidence, "outcomes", row, "value")
    assert source.sources == ("outcomes.csv#trial_id=profile1014,arm=crizotinib,endpoint=ORR,analysis=primary:value",)
    assert "Solomon et al. 2014" in source.citation and source.level == "P"


def test_efficacy_cells_trace_to_their_outcome_rows_and_derivations():
    table = efficacy_table(load_evidence())
    assert table.provenance.shape == table.frame.shape
    row = table.frame.index[table.frame["Trial"].str.startswith("PROFILE 1014") & (table.frame["Arm"] == "crizotinib")
                            & (table.frame["Analysis"] == "primary")][0]
    orr = table.provenance.at[row, "ORR"]
    assert table.frame.at[row, "ORR"] == "74%"
    assert orr.source == "outcomes.csv#trial_id=profile1014,arm=crizotinib,endpoint=ORR,analysis=primary:value"
    responders = table.provenance.at[row, "Responders (derived)"]
    assert responders.derived == "responders = round(74% × 172) = 127"
    assert "of 172" in table.provenance.at[row, "95% CI"].derived
    # N of a randomized arm is read in its own source (denominator_source_id), and cited as such
    assert table.provenance.at[row, "N"].citation == "Solomon et al. 2018 (P)"


def test_html_cells_get_their_own_provenance_in_drawn_order_with_groups():
    table = tiny_table([{"ORR": cell("outcomes.csv#k=1:value")}, {"ORR": cell("outcomes.csv#k=2:value")},
                        {"ORR": cell("outcomes.csv#k=3:value")}], group=True)
    soup = BeautifulSoup(table._repr_html_(), "html.parser")
    by_text = {td.get_text(strip=True): td for td in soup.select("tbody td")}
    # great_tables draws group b (rows 0 and 2) before group a (row 1): each cell keeps its own row's source
    assert by_text["74%"]["data-source"] == "outcomes.csv#k=1:value"
    assert by_text["45%"]["data-source"] == "outcomes.csv#k=2:value"
    assert by_text["12%"]["data-source"] == "outcomes.csv#k=3:value"
    assert "Source: outcomes.csv#k=1:value" in by_text["74%"]["title"]
    assert "data-source" not in by_text["T1"].attrs


def test_hostile_text_in_provenance_and_cells_stays_text():
    table = tiny_table([{"ORR": cell(HOSTILE, citation=HOSTILE, derived=HOSTILE), "Trial": cell(HOSTILE)}, {}, {}])
    html = table._repr_html_()
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("script") is None
    assert "<script>" not in html
    td = [td for td in soup.select("tbody td") if td.get_text(strip=True) == "74%"][0]
    assert td["data-source"] == HOSTILE and td["data-citation"] == HOSTILE and td["data-derived"] == HOSTILE
    assert table._repr_html_() == html  # deterministic: the same bytes every time


def test_a_cell_whose_text_is_not_its_frame_value_gets_no_provenance():
    from crizotinib_reports.evidence.provenance import annotate_table_html
    frame = pd.DataFrame({"ORR": ["74%"]})
    provenance = pd.DataFrame({"ORR": [cell("outcomes.csv#k=1:value")]}, dtype=object)
    html = "<table><tbody><tr><td>45%</td></tr></tbody></table>"
    assert "data-source" not in annotate_table_html(html, frame, provenance, [0], ["ORR"])


def test_csv_carries_source_citation_and_derivation_columns_formula_safe():
    table = tiny_table([{"ORR": cell("=HYPERLINK(\"x\")", derived="responders = round(74% × 172)")}, {}, {}])
    rows = list(csv.DictReader(io.StringIO(table.csv_text())))
    assert rows[0]["ORR"] == "74%"
    assert rows[0]["ORR source"] == "'=HYPERLINK(\"x\")"
    assert rows[0]["ORR derived"] == "responders = round(74% × 172)"
    assert rows[0]["ORR citation"] == "Review 2024 (P)"
    assert rows[1]["ORR source"] == ""
    assert "Trial source" not in rows[0]


def test_csv_rows_carry_the_provenance_of_the_shown_row_they_are_in():
    frame = pd.DataFrame({"a": [1, 2, 3]})
    provenance = pd.DataFrame({"A": [cell("x"), cell("y")]}, dtype=object)
    assert list(provenance_columns(frame, provenance).columns) == ["a"]  # no mapping: no columns, never a guess
    assert list(provenance_columns(frame, provenance, [0, 1, 1])["A source"]) == ["x", "y", "y"]
    assert list(provenance_columns(frame, provenance, [0, 2, 1]).columns) == ["a"]  # a row not shown: no guess


@pytest.mark.parametrize("builder", ["survival_table", "landscape_survival_table", "landscape_safety_table",
                                     "all_analyses_table", "pooled_orr_table"])
def test_each_csv_row_of_a_gathering_table_is_traced_to_its_own_trial(builder):
    from crizotinib_reports.evidence import tables
    table = getattr(tables, builder)(load_evidence())
    rows = list(csv.DictReader(io.StringIO(table.csv_text())))
    sources = [c for c in rows[0] if c.endswith(" source")]
    assert sources, builder
    for row in rows:
        named = " ".join(row[c] for c in sources)
        own = f"finding_id={row['finding_id']}" if row.get("finding_id") else f"trial_id={row['trial_id']}"
        assert own in named, (builder, own, named)


def _report(tmp_path, body: str):
    folder = tmp_path / "clinical_activity"
    folder.mkdir()
    (folder / "clinical_activity.html").write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return tmp_path


def test_trace_names_the_cell_its_evidence_and_the_prose_that_rests_on_it(tmp_path, capsys):
    table = tiny_table([{"ORR": cell("outcomes.csv#trial_id=t1:value")}, {}, {}])
    output = _report(tmp_path, table._repr_html_() + "<p>ORR was 74% in T1, not 174%.</p>")
    assert main(["trace", "clinical_activity", "74%", "--output-dir", str(output)]) == 0
    out = capsys.readouterr().out
    assert "column: ORR: 74%" in out
    assert "data: outcomes.csv, row trial_id=t1, column value" in out
    assert "cited: Review 2024 (P)" in out and "evidence: P" in out
    assert "prose: \"ORR was 74% in T1, not 174%.\"" in out and "traced through that cell" in out


def test_trace_of_text_in_no_traced_cell_is_one_line_and_exit_1(tmp_path, capsys):
    table = tiny_table([{"ORR": cell("outcomes.csv#trial_id=t1:value")}, {}, {}])
    output = _report(tmp_path, table._repr_html_() + "<p>7 of 9</p>")
    for text in ("99%", "4%", "7"):  # absent; a part of '74%'; in prose only
        assert main(["trace", "clinical_activity", text, "--output-dir", str(output)]) == 1
        out = capsys.readouterr().out.strip().splitlines()
        assert out == [f"'{text}' is not a traced number in clinical_activity (no table cell with provenance holds it)"]


def test_trace_of_nothing_is_refused_not_every_cell(tmp_path, capsys):
    table = tiny_table([{"ORR": cell("outcomes.csv#trial_id=t1:value")}, {}, {}])
    output = _report(tmp_path, table._repr_html_())
    for text in ("", "  "):
        assert main(["trace", "clinical_activity", text, "--output-dir", str(output)]) == 2
        captured = capsys.readouterr()
        assert not captured.out and captured.err.count("\n") == 1 and "text of a number" in captured.err


def test_trace_of_a_report_not_built_is_one_line_exit_2(tmp_path):
    result = cli("trace", "overview", "74%", "--output-dir", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and not result.stdout


# --- the shared build ---------------------------------------------------------------------------------------

#: Columns that name sources rather than show figures: a year or reference number in them is a citation.
CITATION_COLUMNS = {"Source", "Read in", "Primary publication", "Checked in", "Evidence"}


def numeric_cells(html: str):
    """Coverage's definition: every body cell of a report table whose text holds a digit, except the References
    table (a bibliography: years, volumes, pages, identifiers) and the citation columns above."""
    soup = BeautifulSoup(html, "html.parser")
    for div in soup.select("div.report-table"):
        label = div.get("data-label", "")
        if label.endswith(". References") or label == "References":
            continue
        headers = [" ".join(th.get_text(" ").split()) for th in div.select("thead th.gt_col_heading")]
        for tr in div.select("tbody tr"):
            for i, td in enumerate(tr.find_all("td", recursive=False)):
                column = headers[i] if i < len(headers) else str(i)
                if column in CITATION_COLUMNS or not re.search(r"\d", td.get_text()):
                    continue
                yield label, column, " ".join(td.get_text(" ").split()), bool(td.get("data-source")
                                                                               or td.get("data-derived"))


@pytest.mark.e2e
def test_numeric_cells_carry_provenance(output_dir):
    covered = total = 0
    uncovered = []
    for report in REPORTS:
        cells = list(numeric_cells((output_dir / report / f"{report}.html").read_text(encoding="utf-8")))
        mine = sum(c[3] for c in cells)
        print(f"{report}: {mine}/{len(cells)} numeric cells traced ({mine / max(len(cells), 1):.1%})")
        covered, total = covered + mine, total + len(cells)
        uncovered += [f"{report}: {label} / {column}: {text[:60]}" for label, column, text, ok in cells if not ok]
    print(f"all reports: {covered}/{total} ({covered / total:.1%})")
    assert total > 300
    assert covered / total >= 0.95, f"{covered}/{total} traced; uncovered:\n" + "\n".join(uncovered)


#: A number each report shows, and the data row it must trace to.
TRACED = {
    "clinical_activity": ("74%", "outcomes.csv, row trial_id=profile1014,arm=crizotinib,endpoint=ORR,analysis=primary"),
    "overview": ("74%", "outcomes.csv, row trial_id=profile1014,arm=crizotinib,endpoint=ORR,analysis=primary"),
    "clinical_relapses": ("6 years", "relapse_patterns.csv, row pattern_id=prolonged_response"),
    "resistance_mechanisms": ("91%", "resistance_measures.csv, row measure_id=disease_control_rate"),
    "alk_inhibitor_landscape": ("0.47", "hazard_ratios.csv, row trial_id=alex"),
    "methods_appendix": ("127", "outcomes.csv, row trial_id=profile1014,arm=crizotinib,endpoint=ORR,analysis=primary"),
}


@pytest.mark.e2e
@pytest.mark.parametrize("report", REPORTS)
def test_trace_on_the_shared_build(output_dir, report):
    text, row = TRACED[report]
    result = cli("trace", report, text, "--output-dir", str(output_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"data: {row}" in result.stdout, result.stdout
    assert re.search(r"evidence: [PSRN]", result.stdout), result.stdout
