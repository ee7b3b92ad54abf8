"""Offline HTML/PDF rendering of report notebooks (crizotinib_reports.publish.render).

Notebooks are built in memory: a '# ' title, a great_tables table (with a
Google-font @import that must be stripped), a matplotlib PNG, a code input that
must stay hidden, widget metadata that would pull the widget manager from a CDN,
and a markdown <img> pointing at the network. PDF renders are shared through
module fixtures to keep the file fast.
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import socket
import subprocess
import sys
from unittest import mock

import matplotlib
import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from pypdf import PdfReader
from traitlets.config import Config

matplotlib.use("Agg")

import great_tables as gt  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from crizotinib_reports.publish.offline_fetch import OfflineURLFetcher  # noqa: E402
from crizotinib_reports.publish.render import (  # noqa: E402
    hoist_inline_styles,
    print_pdf,
    Renderer,
    ReportHTMLExporter,
    WeasyPrintPDFExporter,
    css_string,
    first_heading,
    strip_remote_resources,
)

TITLE = "Test Report Title"
CODE_MARKER = "secret_code_marker"
TABLE_TITLE = "Crizotinib trial outcomes"
TABLE_CELL = "PROFILE 1014"
REMOTE_IMG = "http://example.invalid/x.png"

# Any reference a browser or WeasyPrint would load by itself.
RESOURCE_URL_RE = re.compile(
    r"""(?:\b(?:src|href|srcset|poster|data)\s*=\s*["']?\s*|url\(\s*["']?\s*|@import\s+["']?\s*)"""
    r"""(?:https?:)?//""",
    re.I,
)


# ---------------------------------------------------------------- builders


def _png_b64() -> str:
    fig, ax = plt.subplots(figsize=(4, 2.5), dpi=72, layout="constrained")
    ax.plot([0, 6, 12, 18, 24], [1.0, 0.8, 0.6, 0.45, 0.3], label="PFS")
    ax.set_xlabel("Months")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _gt_html(rows: int = 3, note_lines: int = 0) -> str:
    df = pd.DataFrame(
        {
            "Trial": [TABLE_CELL] + [f"ROW{i:03d}" for i in range(1, rows)],
            "ORR (%)": [74.0 - i * 0.1 for i in range(rows)],
            # note_lines > 0: notes of that many lines (markdown <br>), ending END<row>
            "Note": [
                "<br>".join(["evidence"] * note_lines + [f"END{i:03d}"]) if note_lines else "-"
                for i in range(rows)
            ],
        }
    )
    table = gt.GT(df).tab_header(title=TABLE_TITLE, subtitle="ALK-positive NSCLC")
    if note_lines:  # tall rows that WeasyPrint could split (more lines than orphans + widows)
        table = table.fmt_markdown(columns="Note")
    return table.opt_table_font(font=gt.google_font("IBM Plex Sans"))._repr_html_()


def _notebook(table_html: str, *, title_metadata: str | None = None) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell(f"# {TITLE}\n\nEvidence on crizotinib in ALK-positive NSCLC."),
        new_markdown_cell("## Response rates"),
        new_code_cell(
            f"{CODE_MARKER} = 1\nGT(df)",
            execution_count=1,
            outputs=[
                new_output(
                    "execute_result",
                    data={"text/html": table_html, "text/plain": "<GT>"},
                    execution_count=1,
                )
            ],
        ),
        new_markdown_cell("## Survival"),
        new_code_cell(
            "plt.plot()",
            execution_count=2,
            outputs=[new_output("display_data", data={"image/png": _png_b64(), "text/plain": "<Figure>"})],
        ),
        new_markdown_cell(f'## Notes\n\nA remote picture: <img src="{REMOTE_IMG}" alt="remote picture">'),
    ]
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    # Widget state makes nbconvert's lab template add the CDN widget manager.
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2, "version_minor": 0}
    }
    if title_metadata:
        nb.metadata["title"] = title_metadata
    nbformat.validate(nb)
    return nb


@contextlib.contextmanager
def _no_network():
    """Record (and block) every attempt to open a connection or resolve a host.

    Recorded rather than raised at the call: WeasyPrint swallows fetch errors.
    """
    attempts: list[tuple] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    with (
        mock.patch.object(socket.socket, "connect", refuse),
        mock.patch.object(socket.socket, "connect_ex", refuse),
        mock.patch.object(socket, "create_connection", refuse),
        mock.patch.object(socket, "getaddrinfo", refuse),
    ):
        yield attempts


def _outline_titles(outline) -> list[str]:
    titles = []
    for item in outline:
        if isinstance(item, list):
            titles.extend(_outline_titles(item))
        else:
            titles.append(item.title)
    return titles


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def gt_html() -> str:
    return _gt_html(rows=40)


@pytest.fixture(scope="module")
def notebook(gt_html):
    return _notebook(gt_html)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.fixture(scope="module")
def html(renderer, notebook) -> str:
    return renderer.html(notebook)


@pytest.fixture(scope="module")
def pdf_and_network(renderer, notebook):
    with _no_network() as attempts:
        pdf = renderer.pdf(notebook)
    return pdf, list(attempts)


@pytest.fixture(scope="module")
def pdf_reader(pdf_and_network) -> PdfReader:
    return PdfReader(io.BytesIO(pdf_and_network[0]))


# ---------------------------------------------------------------- HTML


def test_great_tables_output_really_has_a_remote_import(gt_html):
    # Guards the next test: without the stripping it would find this URL.
    assert "@import url('https://fonts.googleapis.com" in gt_html


def test_html_loads_nothing_from_the_network(html):
    assert RESOURCE_URL_RE.findall(html) == []
    assert "googleapis" not in html
    assert "example.invalid" not in html
    # What held those URLs is still there: the great_tables table and the cell with the remote picture.
    assert TABLE_TITLE in html and TABLE_CELL in html and "A remote picture:" in html


def test_html_has_no_cdn_scripts(html):
    lowered = html.lower()
    assert "require.js" not in lowered and "require.min.js" not in lowered
    assert "mathjax" not in lowered
    assert "mermaid" not in lowered
    assert "unpkg" not in lowered and "html-manager" not in lowered
    assert "<script src" not in lowered
    assert TABLE_TITLE.lower() in lowered and "data:image/png;base64," in lowered  # the report itself is there


def test_html_hides_code_and_keeps_content(html):
    assert CODE_MARKER not in html
    assert TABLE_TITLE in html and TABLE_CELL in html
    assert "data:image/png;base64," in html
    assert re.search(r"<title>\s*Test Report Title\s*</title>", html)
    assert '<html lang="en">' in html


def test_html_inlines_report_css(html):
    assert "string-set: report-title" in html
    assert "counter(pages)" in html
    assert "<link" not in html.lower()


def test_title_metadata_wins_over_heading(renderer, gt_html):
    html = renderer.html(_notebook(gt_html, title_metadata='Crizotinib "A" <report>'))
    assert "<title>Crizotinib &quot;A&quot; &lt;report&gt;</title>" in html or (
        '<title>Crizotinib "A" &lt;report&gt;</title>' in html
    )
    # The running header's CSS string is escaped, not broken by the quotes.
    assert r'"Crizotinib \"A\" \3c report\3e "' in html


def test_exclude_input_can_be_turned_off(notebook):
    config = Config({"ReportHTMLExporter": {"exclude_input": False}})
    html, _ = ReportHTMLExporter(config=config).from_notebook_node(notebook)
    assert CODE_MARKER in html
    # The PDF exporter inherits the section, and Renderer passes config through.
    assert Renderer(config).pdf_exporter.exclude_input is False
    assert WeasyPrintPDFExporter().exclude_input is True


def test_removed_urls_are_reported(notebook):
    _, resources = ReportHTMLExporter().from_notebook_node(notebook)
    removed = resources["removed_remote_urls"]
    assert REMOTE_IMG in removed
    assert any("fonts.googleapis.com" in url for url in removed)


# ---------------------------------------------------------------- PDF


def test_pdf_is_a_pdf_and_rendering_used_no_network(pdf_and_network):
    pdf, attempts = pdf_and_network
    assert pdf.startswith(b"%PDF")
    assert attempts == []


def test_pdf_text_has_table_and_page_footer(pdf_reader):
    first = pdf_reader.pages[0].extract_text()
    assert TABLE_TITLE in first and TABLE_CELL in first
    assert f"Page 1 of {len(pdf_reader.pages)}" in first
    all_text = "".join(page.extract_text() for page in pdf_reader.pages)
    assert CODE_MARKER not in all_text
    assert "¶" not in all_text
    assert "Response rates" in all_text and "Survival" in all_text  # the headings that had the '¶' anchors


def test_pdf_running_header_shows_title(pdf_reader):
    assert len(pdf_reader.pages) >= 2, "the fixture table should run onto a second page"
    second = pdf_reader.pages[1].extract_text()
    assert TITLE in second
    assert f"Page 2 of {len(pdf_reader.pages)}" in second


def test_pdf_outline_has_headings_without_anchor_marks(pdf_reader):
    titles = _outline_titles(pdf_reader.outline)
    assert TITLE in titles
    assert "Response rates" in titles and "Survival" in titles
    assert not any("¶" in title for title in titles)


def test_pdf_metadata_title(pdf_reader):
    assert pdf_reader.metadata.title == TITLE


def test_long_table_spans_pages_without_splitting_rows(renderer):
    rows = 120
    nb = _notebook(_gt_html(rows=rows, note_lines=5))
    reader = PdfReader(io.BytesIO(renderer.pdf(nb)))
    texts = [page.extract_text() for page in reader.pages]
    assert len(texts) >= 4
    assert f"Page {len(texts)} of {len(texts)}" in texts[-1]
    for i in range(1, rows):
        row_id, row_end = f"ROW{i:03d}", f"END{i:03d}"
        pages = [n for n, text in enumerate(texts) if row_id in text]
        assert len(pages) == 1, f"{row_id} on pages {pages}"
        assert row_end in texts[pages[0]], f"{row_id} split across pages"


# ---------------------------------------------------------------- offline fetching


def test_offline_fetcher_allows_data_and_refuses_network():
    fetcher = OfflineURLFetcher()
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    for url in (REMOTE_IMG, "https://example.invalid/a.css", "//example.invalid/x", "file:///etc/passwd"):
        with pytest.raises(ValueError, match="refused"):
            fetcher.fetch(url)
    assert REMOTE_IMG in fetcher.refused


def test_pdf_of_html_with_remote_image_refuses_it_and_still_renders():
    # Bypass the HTML stripping: the fetcher alone must keep WeasyPrint offline.
    html = (
        "<!DOCTYPE html><html lang='en'><head><title>t</title>"
        "<style>@import url('https://example.invalid/font.css');</style></head>"
        f"<body><h1>Offline</h1><img src='{REMOTE_IMG}' alt='remote'></body></html>"
    )
    fetcher = OfflineURLFetcher()
    with mock.patch.object(fetcher, "fetch", wraps=fetcher.fetch) as spy, _no_network() as attempts:
        pdf = WeasyPrintPDFExporter().html_to_pdf(html, url_fetcher=fetcher)
    assert pdf.startswith(b"%PDF")
    called = [call.args[0] for call in spy.call_args_list]
    assert REMOTE_IMG in called
    assert REMOTE_IMG in fetcher.refused
    assert "https://example.invalid/font.css" in fetcher.refused
    assert attempts == []
    assert "Offline" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


# ---------------------------------------------------------------- helpers


def test_strip_remote_resources_keeps_citation_links():
    page = (
        "<html><head><link rel='stylesheet' href='https://cdn.example/x.css'>"
        "<script src='https://cdn.example/x.js'></script>"
        "<style>@import url('https://fonts.googleapis.com/css2?family=A:wght@4;7');"
        " .a > .b { background: url(https://x.example/y.png) } .c { background: url(data:,x) }</style>"
        "</head><body><a href='https://doi.org/10.1056/NEJMoa1408440'>Solomon 2014</a>"
        "<img src='//x.example/a.png' srcset='a.png 1x, https://x.example/b.png 2x' alt='a'>"
        "<div style=\"background:url('http://x.example/z.png')\">z</div></body></html>"
    )
    cleaned, removed = strip_remote_resources(page)
    assert RESOURCE_URL_RE.findall(cleaned.replace("https://doi.org", "")) == []
    assert 'href="https://doi.org/10.1056/NEJMoa1408440"' in cleaned
    assert ".a > .b" in cleaned and "url(data:,x)" in cleaned
    assert "<script" not in cleaned and "<link" not in cleaned
    assert len(removed) == 7


def test_remote_links_can_be_stripped_too():
    nb = new_notebook(cells=[new_markdown_cell("# T\n\nSee [Solomon 2014](https://doi.org/10.1056/NEJMoa1408440).")])
    kept = ReportHTMLExporter().from_notebook_node(nb)[0]
    assert 'href="https://doi.org/10.1056/NEJMoa1408440"' in kept
    config = Config({"ReportHTMLExporter": {"strip_remote_links": True}})
    stripped = ReportHTMLExporter(config=config).from_notebook_node(nb)[0]
    assert RESOURCE_URL_RE.findall(stripped) == []
    assert "Solomon 2014" in stripped


def test_first_heading_skips_code_fences_and_markup():
    nb = new_notebook(
        cells=[
            new_code_cell("# not a title"),
            new_markdown_cell("```python\n# not a title either\n```\n\n# The *real* [title](x.md) #"),
        ]
    )
    assert first_heading(nb) == "The real title"
    assert first_heading(new_notebook(cells=[new_markdown_cell("## only h2")])) is None


def test_css_string_cannot_escape_its_string():
    assert css_string('a"b\\c</style>') == 'a\\"b\\\\c\\3c /style\\3e '


# ---------------------------------------------------------------- WeasyPrint only for PDFs


def test_an_html_only_render_worker_never_loads_weasyprint():
    """A render worker warmed for HTML renders a report without importing WeasyPrint (about a second of CPU
    a worker); warmed for PDFs, it imports it before the first report arrives."""
    code = ("import sys, nbformat\n"
            "from crizotinib_reports.publish import render\n"
            "render.warm_up_worker(pdf=False)\n"
            "cell = nbformat.v4.new_markdown_cell('# A report')\n"
            "outputs, _ = render._WORKER_RENDERER.render(nbformat.v4.new_notebook(cells=[cell]), ('html',))\n"
            "print(b'A report' in outputs['html'], 'weasyprint' in sys.modules)\n"
            "render.warm_up_worker(pdf=True)\n"
            "print('weasyprint' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["True", "False", "True"], result.stderr[-2000:]


# ---------------------------------------------------------------- entry point


def test_nbconvert_entry_point_writes_a_pdf(tmp_path):
    nb = _notebook(_gt_html(rows=3))
    path = tmp_path / "report.ipynb"
    nbformat.write(nb, path)
    module = "jupyter" if _has_module("jupyter") else "nbconvert"
    args = [sys.executable, "-m", module] + (["nbconvert"] if module == "jupyter" else [])
    result = subprocess.run(
        [*args, "--to", "crizotinib_pdf", str(path), "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert TABLE_TITLE in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_html_exporter_is_registered():
    from nbconvert.exporters import get_exporter

    assert get_exporter("crizotinib_html") is ReportHTMLExporter
    assert get_exporter("crizotinib_pdf") is WeasyPrintPDFExporter


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# --- inline styles hoisted for print --------------------------------------------------------------------

HOIST_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>t</title>'
    "<style>td { color: blue !important; } p { color: red; } .x { padding: 9px; }</style></head><body>"
    '<p style="color: green; font-family: &quot;DejaVu Sans&quot;">an inline style beats a normal rule</p>'
    '<table><tr><td style="color: green">an !important rule beats an inline style</td>'
    '<td class="x" style="padding: 2px">the class is kept beside the hoisted one</td>'
    '<td style="color: green !important">an !important inline style stays inline</td></tr></table>'
    '<p style="color: green; font-family: &quot;DejaVu Sans&quot;">the same style, the same class</p>'
    '<p>text saying style="color: red" is text</p></body></html>')


def test_inline_styles_hoisted_into_classes_print_the_same_pdf(monkeypatch):
    import logging

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    hoisted = hoist_inline_styles(HOIST_PAGE)
    assert hoisted.count('style="') == 2  # the !important one, and the one in the text
    assert 'style="color: green !important"' in hoisted and 'text saying style="color: red" is text' in hoisted
    assert re.search(r'<td class="x crz-s-[0-9a-f]{12}">', hoisted)
    assert len(set(re.findall(r'<p class="(crz-s-[0-9a-f]{12})">', hoisted))) == 1
    assert re.search(r'<head><style type="text/css">:where\(\.crz-s-[0-9a-f]{12}\)\{color: green !important; '
                     r'font-family: "DejaVu Sans" !important\}', hoisted)
    log = logging.getLogger("test")
    assert print_pdf(hoisted, log) == print_pdf(HOIST_PAGE, log)


def test_a_style_that_could_close_its_element_is_left_inline():
    page = '<html><head></head><body><p style="content: \'</style>\'">x</p></body></html>'
    assert hoist_inline_styles(page) == page
    assert hoist_inline_styles("<html><head></head><body><p>no styles</p></body></html>").count("<style") == 0
