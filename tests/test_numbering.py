"""Numbered tables and figures a reader can cite ("Table 2.3"), a contents block per report, bookmarks for each,
the table CSS inlined for JupyterLab, and no build-machine path in what a reader gets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from matplotlib.figure import Figure
from pypdf import PdfReader

from crizotinib_reports import notebook as notebook_module
from crizotinib_reports.evidence.figures import ReportFigure, first_clause
from crizotinib_reports.evidence.tables import ReportTable
from crizotinib_reports.notebook import ReportSession, report_number
from crizotinib_reports.paths import NOTEBOOK_DIR, PROJECT_ROOT
from crizotinib_reports.publish.portfolio import TABLE_METADATA_KEY, get_report, portfolio
from crizotinib_reports.publish.render import CONTENTS_HEADING, add_contents
from support.pdfs import file_page_texts

REPORTS = portfolio()
NUMBERED = re.compile(r"(table|figure)-(\d+)-(\d+)")


def tiny_table(name: str, title: str) -> ReportTable:
    return ReportTable(name=name, title=title, population="N=3", frame=pd.DataFrame({"Arm": ["a"], "N": [3]}),
                       source_ids=(), source_text="Source: a test.")


def tiny_figure(name: str, caption: str) -> ReportFigure:
    figure = Figure(figsize=(2, 1))
    figure.subplots().plot([0, 1], [0, 1])
    return ReportFigure(name, figure, caption, "a line", (), "Source: a test.")


# --- unit: the session numbers what it shows -------------------------------------------------------------------

def test_a_report_numbers_its_tables_and_figures_in_the_order_it_shows_them(monkeypatch):
    shown = []
    monkeypatch.setattr(notebook_module, "display", lambda obj, metadata=None: shown.append((obj.data, metadata)))
    session = ReportSession(get_report("clinical_activity"), {}, evidence=None, number=3)
    session.show(tiny_table("first", "Efficacy"))
    session.show(tiny_figure("rates", "Response rate by arm, with intervals. More words."))
    session.show(tiny_table("second", "Harms"))
    (first, first_meta), (figure, _), (second, second_meta) = shown
    assert 'id="table-3-1"' in first and "Table 3.1. Efficacy" in first and "Table 3.2" not in first
    assert 'id="table-3-2"' in second and "Table 3.2. Harms" in second
    assert 'id="figure-3-1"' in figure and "Figure 3.1. Response rate by arm, with intervals." in figure
    assert 'data-label="Figure 3.1. Response rate by arm"' in figure
    assert first_meta[TABLE_METADATA_KEY]["number"] == "3.1" and second_meta[TABLE_METADATA_KEY]["number"] == "3.2"
    assert second_meta[TABLE_METADATA_KEY]["title"] == "Harms"  # the CSV's title stays the title alone


def test_an_item_not_yet_numbered_keeps_its_own_title():
    assert tiny_table("t", "Efficacy").label == "Efficacy" and tiny_table("t", "E").anchor == "table-t"
    assert tiny_figure("f", "Rates").label == "" and tiny_figure("f", "Rates.").contents_label == "Rates"


def test_a_report_is_numbered_by_its_place_in_the_portfolio():
    assert [report_number(r, NOTEBOOK_DIR) for r in REPORTS.values()] == list(range(1, len(REPORTS) + 1))
    assert report_number(REPORTS["overview"], NOTEBOOK_DIR) == 1


@pytest.mark.parametrize(("caption", "clause"), [
    ("Objective response rate by trial and arm, single-arm trials apart.", "Objective response rate by trial and arm"),
    ("Phase I trial (ALK+, cohort), Phase II trial", "Phase I trial (ALK+, cohort)"),
    ("Version 1.5 of the data; more", "Version 1.5 of the data"),
    ("No clause at all.", "No clause at all"),
])
def test_the_contents_label_of_a_figure_is_its_captions_first_clause(caption, clause):
    assert first_clause(caption) == clause


def test_tables_carry_their_css_inline_for_jupyterlab():
    html = tiny_table("t", "Efficacy").__class__._repr_html_(tiny_table("t", "Efficacy"))
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("style") is None  # JupyterLab drops <style> from output it does not trust
    table = soup.find("table", class_="gt_table")
    assert "border-top-style: solid" in table["style"] and "DejaVu Sans" in table["style"]
    assert "font-size" in soup.find(class_="gt_title")["style"]


# --- unit: the contents block ----------------------------------------------------------------------------------

PAGE = ('<html><body><div class="jp-Cell"><h1>Report</h1><p>Intro</p></div>'
        '<div class="jp-Cell"><div class="report-table" id="table-2-1" data-label="Table 2.1. A &lt;b&gt;x&lt;/b&gt;">'
        '</div><figure class="report-figure" id="figure-2-1" data-label="Figure 2.1. Rates"></figure></div>'
        '</body></html>')


def test_the_contents_block_lists_every_numbered_item_after_the_opening_cell():
    soup = BeautifulSoup(add_contents(PAGE), "html.parser")
    nav = soup.find("nav", class_="report-contents")
    cell = nav.find_parent(class_="jp-Cell")
    assert cell.find_previous_sibling("div").h1 is not None  # right after the cell holding the title
    assert nav.h2.get_text() == CONTENTS_HEADING
    links = [(a["href"], a.get_text()) for a in nav.find_all("a")]
    assert links == [("#table-2-1", "Table 2.1. A <b>x</b>"), ("#figure-2-1", "Figure 2.1. Rates")]
    assert nav.find("b") is None  # a label is text, never markup


def test_a_page_without_numbered_items_or_title_is_left_as_it_is():
    plain = '<html><body><h1>R</h1><p>No tables</p></body></html>'
    assert add_contents(plain) == plain
    untitled = PAGE.replace("<h1>Report</h1>", "")
    assert add_contents(untitled) == untitled


# --- end to end: the shared build ------------------------------------------------------------------------------

def numbered_items(html: str) -> list[tuple[str, str]]:
    soup = BeautifulSoup(html, "html.parser")
    return [(tag["id"], tag["data-label"]) for tag in soup.find_all(class_=("report-table", "report-figure"))]


@pytest.mark.e2e
@pytest.mark.parametrize("name", list(REPORTS))
def test_every_table_and_figure_is_numbered_listed_and_bookmarked(output_dir: Path, name: str):
    folder = output_dir / name
    html = (folder / f"{name}.html").read_text(encoding="utf-8")
    items = numbered_items(html)
    number = list(REPORTS).index(name) + 1
    assert items, f"{name} shows no numbered table or figure"
    for kind in ("table", "figure"):
        numbers = [NUMBERED.fullmatch(anchor).groups() for anchor, _ in items if anchor.startswith(kind)]
        assert [(k, int(r), int(i)) for k, r, i in numbers] == [(kind, number, i) for i in range(1, len(numbers) + 1)]
    soup = BeautifulSoup(html, "html.parser")
    for anchor, label in items:
        assert label.startswith(f"{anchor.split('-')[0].title()} {number}.{anchor.split('-')[2]}. ")
        shown = soup.find(id=anchor)
        caption = shown.find(class_="gt_title") or shown.find("figcaption")
        assert " ".join(caption.get_text().split()).startswith(label.split(". ")[0] + ". ")
    nav = soup.find("nav", class_="report-contents")
    assert [(a["href"][1:], a.get_text()) for a in nav.find_all("a")] == items

    # The PDF: a bookmark per item, on the page where the item is; the contents block gives that page.
    reader = PdfReader(folder / f"{name}.pdf")
    pages = file_page_texts(folder / f"{name}.pdf")
    bookmarks = {}

    def walk(outline):
        for entry in outline:
            if isinstance(entry, list):
                walk(entry)
            else:
                bookmarks[entry.title] = reader.get_destination_page_number(entry) + 1
    walk(reader.outline)
    labels = [label for _, label in items]
    assert [t for t in bookmarks if t in labels] == labels
    contents = " ".join("\n".join(pages[:2]).split())
    for label in labels:
        start = contents.index(label.split(". ")[0] + ". ")
        listed = int(re.search(r"\.{3,}\s*(\d+)", contents[start:]).group(1))
        assert listed == bookmarks[label], f"{label}: contents says page {listed}, the bookmark {bookmarks[label]}"
        assert label.split(". ")[0] + "." in pages[listed - 1]


@pytest.mark.e2e
def test_the_manifest_records_each_table_csv_with_its_number_and_title(output_dir: Path):
    manifest = json.loads((output_dir / "manifest.json").read_text(encoding="utf-8"))
    for name in REPORTS:
        html = (output_dir / name / f"{name}.html").read_text(encoding="utf-8")
        shown = {label for anchor, label in numbered_items(html) if anchor.startswith("table-")}
        records = {k: v for k, v in manifest["reports"][name]["outputs"].items() if k.startswith("tables/")}
        assert records and {f"Table {r['number']}. {r['title']}" for r in records.values()} == shown


# Paths of the machine that built the reports, in any form a reader could meet them.
MACHINE_PATHS = [str(PROJECT_ROOT), "/tmp/", "/root/", "/home/", ".partial"]


@pytest.mark.e2e
def test_nothing_a_reader_gets_names_a_path_of_the_build_machine(output_dir: Path):
    checked = 0
    for path in sorted(output_dir.glob("*/*")):
        if path.suffix in (".html", ".ipynb"):
            text = path.read_text(encoding="utf-8")
        elif path.suffix == ".pdf":
            text = "\n".join(file_page_texts(path))
        else:
            continue
        found = [p for p in MACHINE_PATHS if p in text]
        assert not found, f"{path.name} names {found}"
        checked += 1
    assert checked == 3 * len(REPORTS)
    executed = json.loads((output_dir / "clinical_activity" / "clinical_activity.ipynb").read_text(encoding="utf-8"))
    assert executed["metadata"]["papermill"]["parameters"]["data_dir"] == "../data"  # as the notebook names it
