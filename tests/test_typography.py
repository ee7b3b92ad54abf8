"""Typography of the printed reports and of the figures, checked on what is laid out and drawn.

Tables are laid out by WeasyPrint with the report's own stylesheet, from HTML the real exporter makes of a small
notebook (tables.py's tables shown as a report shows them), and the boxes it makes are read: which line each piece
of a heading landed on, which page each row landed on. Figures are drawn and their artists' extents on the canvas
are compared: a value label must not cover a whisker, a bar or a dot, nor sit on the frame; a legend stays out of
the data area; log-axis ticks are readable numbers that do not print over each other. The end-to-end checks read
the PDFs of the shared build.
"""

from __future__ import annotations

import math
import re
import subprocess
from functools import cache
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import tinycss2
import weasyprint
from bs4 import BeautifulSoup
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.markers import MarkerStyle
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from pypdf import PdfReader

from crizotinib_reports.evidence import figures, tables
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.evidence.tables import ReportTable
from crizotinib_reports.paths import DATA_DIR
from crizotinib_reports.publish.offline_fetch import OfflineURLFetcher
from crizotinib_reports.publish.render import REPORT_CSS, Renderer, print_html
from support.pdfs import file_page_texts

AUTOMATIC_HYPHEN = "\u2010"  # what WeasyPrint prints where it hyphenates a word


@cache
def evidence():
    return load_evidence(DATA_DIR)


@cache
def renderer() -> Renderer:
    return Renderer()


# --- laying out a small report ---------------------------------------------------------------------------------


def display(html: str) -> object:
    return new_code_cell("", outputs=[new_output("display_data", data={"text/html": html})])


def prose(markdown: str) -> object:
    return new_code_cell("", outputs=[new_output("display_data", data={"text/markdown": markdown})])


def spacer(millimetres: float) -> object:
    """An output of a known height, to bring what follows it near a page foot."""
    return display(f'<div style="height: {millimetres}mm"></div>')


def laid_out(*cells, media: str = "print") -> weasyprint.Document:
    """The pages WeasyPrint makes of a notebook of these cells, printed as a report is (report.css, no lab CSS)."""
    html = renderer().html(new_notebook(cells=[new_markdown_cell("# Typography"), *cells]))
    return weasyprint.HTML(string=print_html(html), url_fetcher=OfflineURLFetcher(), media_type=media).render()


def boxes(box):
    yield box
    for child in getattr(box, "children", None) or []:
        yield from boxes(child)


def text_of(box) -> str:
    return "".join(b.text for b in boxes(box) if type(b).__name__ == "TextBox")


def element_text(box) -> str:
    return " ".join("".join(box.element.itertext()).split())


def pages_holding(document, needle: str) -> list[int]:
    """Pages (from 1) whose text holds `needle`, spaces and line ends ignored."""
    squeezed = re.sub(r"\s+", "", needle)
    return [number for number, page in enumerate(document.pages, 1)
            if squeezed in re.sub(r"\s+", "", text_of(page._page_box))]


def cells(document, tag: str = "td"):
    """(cell box, the text of each line it was laid out in) for every table cell of every page."""
    for page in document.pages:
        for box in boxes(page._page_box):
            if type(box).__name__ == "TableCellBox" and box.element_tag == tag:
                lines = [text_of(line) for line in boxes(box) if type(line).__name__ == "LineBox"]
                yield box, [line for line in lines if line.strip()]


def words_broken(element_text: str, lines: list[str]) -> list[str]:
    """Where a cell's lines end inside a word: the two halves, 'Respon|ders'. A break after a hyphen the text
    itself holds ('response-|evaluable') is a break between words."""
    text = " ".join(element_text.split())
    broken, position = [], 0
    for line, following in zip(lines, lines[1:]):
        position += len(line.rstrip(AUTOMATIC_HYPHEN).strip())
        while position < len(text) and text[position] == " ":
            position += 1
        before, after = text[position - 1:position], text[position:position + 1]
        if before.isalnum() and after.isalnum():
            broken.append(f"{line.strip()}|{following.strip()}")
    return broken


@cache
def wide_tables() -> weasyprint.Document:
    """The bundle's widest and narrowest-columned tables, laid out on A4 as a report prints them."""
    shown = [tables.efficacy_table(evidence()), tables.comparisons_table(evidence()),
             tables.landscape_table(evidence()), tables.pooled_orr_table(evidence())]
    return laid_out(*(display(table._repr_html_()) for table in shown))


def test_no_heading_or_cell_breaks_inside_a_word():
    headings = list(cells(wide_tables(), "th"))
    assert {"Responders (derived)", "Evidence"} <= {element_text(box) for box, _ in headings}
    for tag in ("th", "td"):
        for box, lines in cells(wide_tables(), tag):
            assert not any(AUTOMATIC_HYPHEN in line for line in lines), lines
            assert not words_broken(element_text(box), lines), (element_text(box), lines)


def test_a_pure_interval_cell_is_one_line():
    checked = 0
    for box, lines in cells(wide_tables()):
        text = element_text(box)
        if re.fullmatch(r"-?[\d.]+–-?[\d.]+%?", text):
            assert len(lines) == 1, lines
            checked += 1
    assert checked >= 10


def test_tables_print_in_the_reports_family():
    for box, _ in cells(wide_tables()):
        assert box.style["font_family"][0] == "DejaVu Sans"
    # and on screen: great_tables' own stack (Segoe UI ... Arial) no longer reaches its tables
    screen = laid_out(display(tables.comparisons_table(evidence())._repr_html_()), media="screen")
    for box, _ in cells(screen):
        assert box.style["font_family"][0] == "DejaVu Sans"


def test_screen_and_print_stacks_start_with_the_figures_font():
    rules = tinycss2.parse_stylesheet(REPORT_CSS.read_text(encoding="utf-8"), skip_comments=True,
                                      skip_whitespace=True)
    stacks = {}
    for rule in rules:
        if rule.type == "qualified-rule" and tinycss2.serialize(rule.prelude).strip() == ":root":
            for declaration in tinycss2.parse_declaration_list(rule.content, skip_comments=True,
                                                               skip_whitespace=True):
                if declaration.type == "declaration" and declaration.name in ("--report-font", "--report-mono"):
                    stacks[declaration.name] = tinycss2.serialize(declaration.value).strip()
    assert stacks["--report-font"].startswith('"DejaVu Sans"'), stacks
    assert stacks["--report-mono"].startswith('"DejaVu Sans Mono"'), stacks
    drawn = {text.get_fontname() for text in figures.pfs_figure(evidence()).figure.findobj(Text) if text.get_text()}
    assert drawn == {"DejaVu Sans"}


def no_hyphens_auto(css: str) -> list[str]:
    """Every rule of `css` (in @media blocks too) that turns automatic hyphenation on."""
    found = []

    def walk(rules):
        for rule in rules:
            if rule.type == "at-rule" and rule.content is not None and rule.lower_at_keyword == "media":
                walk(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True))
            elif rule.type == "qualified-rule":
                for declaration in tinycss2.parse_declaration_list(rule.content, skip_comments=True,
                                                                   skip_whitespace=True):
                    if declaration.type == "declaration" and declaration.name == "hyphens" and \
                            tinycss2.serialize(declaration.value).strip() == "auto":
                        found.append(tinycss2.serialize(rule.prelude).strip())

    walk(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True))
    return found


def test_the_stylesheet_turns_automatic_hyphenation_on_nowhere():
    assert no_hyphens_auto(REPORT_CSS.read_text(encoding="utf-8")) == []
    assert no_hyphens_auto("@media print { p { color: red } th { hyphens: auto } }") == ["th"]


# --- page breaks -------------------------------------------------------------------------------------------------


def table_of(rows: int, name: str = "rows") -> ReportTable:
    import pandas as pd

    frame = pd.DataFrame({"Trial": [f"{name} {i:02d}" for i in range(1, rows + 1)],
                          "95% CI": [f"{40 + i}.0–{60 + i}.0%" for i in range(rows)]})
    return ReportTable(name, f"Table of {name}", "N=1", frame, (), "Source: the test",
                       footnotes=(f"Note under {name}.",))


def test_a_short_table_moves_whole_to_the_next_page_with_its_heading():
    document = laid_out(spacer(150), new_markdown_cell("## Short section\n\nWhat the table shows."),
                        display(table_of(10, "short")._repr_html_()))
    assert pages_holding(document, "short 01") == pages_holding(document, "short 10") == [2]
    assert pages_holding(document, "Short section") == [2]


def test_a_table_of_eleven_rows_starts_where_it_stands():
    document = laid_out(spacer(170), display(table_of(11, "eleven")._repr_html_()))
    assert pages_holding(document, "eleven 01") == [1] and pages_holding(document, "eleven 11") == [2]


def test_a_long_table_splits_between_rows_with_its_headings_repeated_and_its_notes_once():
    long = table_of(40, "long")
    document = laid_out(spacer(120), display(long._repr_html_()))
    title_pages = pages_holding(document, "Table of long")
    assert len(title_pages) >= 2  # split, and the title and column headings come again
    assert all(page in pages_holding(document, "95% CI") for page in title_pages)
    assert pages_holding(document, "Note under long.") == [title_pages[-1]] == pages_holding(document, "long 40")
    for row in range(1, 41):
        assert len(pages_holding(document, f"long {row:02d}")) == 1


def test_a_group_heading_row_never_ends_a_page():
    frame = tables.landscape_table(evidence())
    for height in (40, 80, 120, 160):
        document = laid_out(spacer(height), display(frame._repr_html_()))
        for page in document.pages:
            rows = [row for group in boxes(page._page_box) if type(group).__name__ == "TableRowGroupBox"
                    and group.element_tag == "tbody" for row in group.children]
            assert not rows or "gt_group_heading_row" not in (rows[-1].element.get("class") or ""), height


def test_a_lone_bullet_keeps_with_what_follows():
    document = laid_out(spacer(215), prose("- A lone bullet near the foot."),
                        display(table_of(4, "next")._repr_html_()))
    assert pages_holding(document, "A lone bullet near the foot.") == pages_holding(document, "next 01") == [2]


def test_the_first_page_keeps_its_prose_when_the_first_table_moves_on():
    """Title, lead-in bullet and paragraph stay on page 1; only the section that does not fit moves on."""
    document = laid_out(new_markdown_cell("The report's lead-in."), spacer(120), prose("- The one bullet."),
                        prose("Trials shown: a paragraph."), new_markdown_cell("## First section\n\nIts lead-in."),
                        display(table_of(10, "first")._repr_html_()))
    assert pages_holding(document, "The one bullet.") == pages_holding(document, "Trials shown: a paragraph.") == [1]
    assert pages_holding(document, "First section") == pages_holding(document, "first 10") == [2]


# --- figures: labels, legends and ticks -------------------------------------------------------------------------

FIGURES = {
    "response_rates": lambda e: figures.response_rate_figure(e),
    "response_rates_first_line": lambda e: figures.response_rate_figure(e, setting="first-line"),
    "pfs_medians": figures.pfs_figure,
    "approval_timeline": figures.approval_timeline_figure,
    "relapse_timescale": figures.relapse_timescale_figure,
    "relapse_timescale_years": lambda e: figures.relapse_timescale_figure(e, time_unit="years"),
    "resistance_mechanisms": figures.mechanisms_figure,
    "hazard_ratio_forest": figures.hazard_ratio_forest,
    "orr_difference_forest": figures.orr_difference_forest,
    "pooled_orr_forest": figures.pooled_orr_forest,
    "landscape_forest": figures.hazard_ratio_landscape_forest,
    "crizotinib_medians": figures.crizotinib_medians_figure,
    "cns_outcomes": figures.cns_figure,
}


def drawn(figure: Figure):
    """The figure drawn on an Agg canvas, as it is saved; its renderer, for artists' extents in pixels."""
    canvas = FigureCanvasAgg(figure)
    with matplotlib.rc_context(figures.LITERAL_TEXT):
        canvas.draw()
    return canvas.get_renderer()


def labels(ax) -> list[Text]:
    return [t for t in ax.texts if t.get_text().strip()]


def painted(text: Text, renderer) -> Bbox:
    """What a label covers: its box where it has one, else its glyphs."""
    patch = text.get_bbox_patch()
    return patch.get_window_extent(renderer) if patch is not None else text.get_window_extent(renderer)


def ink(ax, renderer) -> list[tuple[str, Bbox]]:
    """Extents of the marks that carry data: bars and diamonds, whisker and connecting lines, caps and markers,
    dots, arrows. Not the grid, nor a reference line across the whole axis (a boxed label may sit over those)."""
    found = []
    scale = ax.figure.dpi / 72
    for patch in ax.patches:
        found.append(("patch", patch.get_window_extent(renderer)))
    for collection in ax.collections:
        if isinstance(collection, LineCollection):
            width = max(collection.get_linewidths(), default=1) * scale / 2
            for segment in collection.get_segments():
                found.append(("line", Bbox(collection.get_transform().transform(segment)).padded(width)))
        elif isinstance(collection, PathCollection):
            sizes = collection.get_sizes()
            for index, (x, y) in enumerate(collection.get_offset_transform().transform(collection.get_offsets())):
                radius = math.sqrt(sizes[index if len(sizes) > 1 else 0]) / 2 * scale
                found.append(("dot", Bbox([[x - radius, y - radius], [x + radius, y + radius]])))
    for line in ax.lines:
        if line.get_transform() in (ax.get_xaxis_transform(which="grid"), ax.get_yaxis_transform(which="grid")):
            continue
        points = line.get_transform().transform(line.get_xydata())
        points = points[np.isfinite(points).all(axis=1)]  # seaborn leaves empty error bars as NaN lines
        if line.get_marker() not in (None, "None", "", " ") and len(points):
            marker = MarkerStyle(line.get_marker())
            shape = marker.get_path().transformed(marker.get_transform()).get_extents()  # a cap '|' is narrow
            pad = line.get_markeredgewidth() / 2
            half_x = (max(abs(shape.x0), abs(shape.x1)) * line.get_markersize() + pad) * scale
            half_y = (max(abs(shape.y0), abs(shape.y1)) * line.get_markersize() + pad) * scale
            found += [("marker", Bbox([[x - half_x, y - half_y], [x + half_x, y + half_y]])) for x, y in points]
        if line.get_linestyle() not in ("None", "", " ") and len(points) > 1:
            found.append(("line", Bbox(points).padded(line.get_linewidth() * scale / 2)))
    for text in ax.texts:
        if isinstance(text, Annotation) and text.arrow_patch is not None:
            found.append(("arrow", text.arrow_patch.get_window_extent(renderer)))
    return found


def overlap(a: Bbox, b: Bbox, tolerance: float = 0.5) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance and min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance


def label_faults(figure: Figure) -> list[str]:
    """Every label that covers data, another label or the axes' frame, or that a gridline could run through."""
    renderer = drawn(figure)
    faults = []
    for ax in figure.axes:
        frame = ax.get_window_extent(renderer)
        grid = max(line.get_zorder() for line in ax.xaxis.get_gridlines() + ax.yaxis.get_gridlines() + ax.lines)
        shown = labels(ax)
        for index, text in enumerate(shown):
            extent, name = painted(text, renderer), repr(text.get_text())
            patch = text.get_bbox_patch()
            if patch is None or matplotlib.colors.to_hex(patch.get_facecolor(), keep_alpha=True) != "#ffffffff" \
                    or text.get_zorder() <= grid:
                faults.append(f"{name} has no white box above the grid and lines")
            if not (frame.x0 <= extent.x0 and extent.x1 <= frame.x1 and frame.y0 <= extent.y0
                    and extent.y1 <= frame.y1):
                faults.append(f"{name} crosses the frame")
            faults += [f"{name} covers a {kind}" for kind, mark in ink(ax, renderer) if overlap(extent, mark)]
            faults += [f"{name} covers {other.get_text()!r}" for other in shown[index + 1:]
                       if overlap(extent, painted(other, renderer))]
    return faults


@pytest.mark.parametrize("name", FIGURES)
def test_value_labels_cover_no_data_no_other_label_and_no_frame(name):
    assert label_faults(FIGURES[name](evidence()).figure) == []


def test_the_label_check_sees_a_label_on_a_whisker():
    figure = Figure(figsize=(4, 2))
    ax = figure.subplots()
    ax.errorbar([50], [0], xerr=[[10], [10]], fmt="none", capsize=4)
    ax.set_xlim(0, 100)
    ax.text(59, 0, "20%", va="center", bbox=figures.LABEL_BOX, zorder=figures.LABEL_ZORDER)  # on its own cap
    ax.text(95, 0.04, "at the frame", bbox=figures.LABEL_BOX, zorder=figures.LABEL_ZORDER)
    ax.text(20, -0.02, "plain")
    faults = label_faults(figure)
    assert "'20%' covers a line" in faults and "'20%' covers a marker" in faults
    assert "'at the frame' crosses the frame" in faults
    assert "'plain' has no white box above the grid and lines" in faults


@pytest.mark.parametrize("name", FIGURES)
def test_legends_lie_outside_the_data_area(name):
    figure = FIGURES[name](evidence()).figure
    renderer = drawn(figure)
    for ax in figure.axes:
        legend = ax.get_legend()
        if legend is not None:
            assert not overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer)), name


@pytest.mark.parametrize("name", ["hazard_ratio_forest", "landscape_forest"])
def test_log_axis_ticks_are_readable_and_apart(name):
    figure = FIGURES[name](evidence()).figure
    renderer = drawn(figure)
    (ax,) = figure.axes
    low, high = ax.get_xlim()
    shown = [t for t in ax.get_xticklabels() if t.get_visible() and low <= t.get_position()[0] <= high]
    values = [float(t.get_text()) for t in shown]
    assert 1.0 in values and len(values) >= 3
    for value, text in zip(values, shown):
        assert round(value / 10 ** math.floor(math.log10(value)), 9) in figures.LOG_TICK_STEPS, text.get_text()
        assert text.get_text() == f"{value:g}"
    extents = sorted((t.get_window_extent(renderer) for t in shown), key=lambda b: b.x0)
    assert all(right.x0 - left.x1 >= 4 for left, right in zip(extents, extents[1:])), name
    whiskers = [x for collection in ax.collections if isinstance(collection, LineCollection)
                for segment in collection.get_segments() for x, _ in segment]
    assert min(values) <= min(whiskers) and max(whiskers) <= max(values)


def test_log_ticks():
    assert figures._log_ticks(0.13, 1) == [0.1, 0.2, 0.5, 1]
    assert figures._log_ticks(0.081, 1.54) == [0.05, 0.1, 0.2, 0.5, 1, 2]
    assert figures._log_ticks(0.2, 1) == [0.2, 0.5, 1]
    assert figures._log_ticks(0.6, 0.9) == [0.5, 1]
    assert figures._log_ticks(0.002, 30) == [0.001, 0.01, 0.1, 1, 10, 100]


# --- the shared build -------------------------------------------------------------------------------------------


def pdf_pages(output_dir: Path, name: str) -> list[str]:
    return file_page_texts(output_dir / name / f"{name}.pdf")


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


REPORT_NAMES = ["overview", "clinical_activity", "clinical_relapses", "resistance_mechanisms",
                "alk_inhibitor_landscape", "methods_appendix"]


@pytest.mark.e2e
def test_printed_headings_are_whole_words_and_one_family(output_dir):
    text = "\n".join(pdf_pages(output_dir, "clinical_activity"))
    for heading in ("Evidence", "Responders (derived)", "Difference 95% CI", "Analysis"):
        assert squeezed(heading) in squeezed(text), heading
    for name in REPORT_NAMES:
        text = "\n".join(pdf_pages(output_dir, name))
        assert AUTOMATIC_HYPHEN not in text, name
        fonts = subprocess.run(["pdffonts", str(output_dir / name / f"{name}.pdf")], capture_output=True, text=True,
                               check=True).stdout.splitlines()[2:]
        families = {line.split()[0].split("+")[-1].removesuffix("-Bold") for line in fonts if line.strip()}
        assert families <= {"DejaVu-Sans", "DejaVu-Sans-Mono"} and "DejaVu-Sans" in families, (name, families)


@pytest.mark.e2e
@pytest.mark.parametrize("name", REPORT_NAMES)
def test_short_tables_print_on_one_page_and_no_heading_ends_a_page(output_dir, name):
    pages = [squeezed(page) for page in pdf_pages(output_dir, name)]
    soup = BeautifulSoup((output_dir / name / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
    for table in soup.select("table.gt_table"):
        rows = table.select("tbody > tr")
        if len(rows) > 10 or table.select('th[id$="Reference"]'):
            continue  # a long table or a reference list may break between rows
        body = [row for row in rows if "gt_group_heading_row" not in (row.get("class") or [])]
        title = squeezed(table.select_one(".gt_title").get_text())
        # Its first and last rows' numbers and long words, all on one page with its title.
        needed = {squeezed(word) for row in (body[0], body[-1]) for cell in row.find_all("td")
                  for word in cell.get_text(" ").split() if re.search(r"\d", word) or len(word) >= 6}
        assert any(title in page and all(word in page for word in needed) for page in pages), title
    reader = PdfReader(output_dir / name / f"{name}.pdf")
    running = squeezed(reader.outline[0].title)  # the running title, printed last on every page but the first
    for item in [entry for entry in reader.outline[1] if not isinstance(entry, list)]:  # the sections' headings
        page = re.sub(r"Page\d+of\d+$", "", pages[reader.get_destination_page_number(item)]).removesuffix(running)
        assert squeezed(item.title) in page and not page.endswith(squeezed(item.title)), f"{item.title!r} ends its page"
