"""Text from the data is only ever text: never a link, an image, a file read into the page, a formula or mathtext.

Prose is the package's Markdown with every data value escaped (plain_text.markdown), the rendered page
keeps no active content (render.strip_active_content), figures draw '$' as a dollar, and table CSVs
neutralise formula cells. One end-to-end build of every report, from data carrying hostile text and with the
network refused, puts all of it together.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import matplotlib
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MultipleLocator
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from pypdf import PdfReader

from crizotinib_reports.evidence import figures, text
from crizotinib_reports.evidence.data import TABLE_NAMES, load_evidence, validate
from crizotinib_reports.evidence.schema import read_schema
from crizotinib_reports import notebook
from crizotinib_reports.notebook import ReportSession
from crizotinib_reports.paths import DATA_DIR
from crizotinib_reports.plain_text import ReportMarkdown, markdown, markdown_escaped, spreadsheet_safe
from crizotinib_reports.publish.portfolio import portfolio
from crizotinib_reports.publish.render import strip_active_content
from crizotinib_reports.evidence.tables import ReportTable
from support.cli import cli
from support.pdfs import file_page_texts

LINK = "[x](javascript:alert(1))"
IMAGE = "![y](.git/config)"
FORMULA = '=HYPERLINK("http://evil")'
DOLLARS = "US$ 5 to $10 $$"
HOSTILE = [LINK, IMAGE, "$$", "$x$ and $$y$$", DOLLARS, "**bold** _it_ `code`", "<script>alert(1)</script>",
           "<img src=x onerror=alert(1)>", "\\[x\\] \\(y\\) \\begin{equation}z\\end{equation}", "# heading",
           "- item | a | b |", "http://evil.example <http://evil.example>", "[r]: javascript:alert(1)", FORMULA]


class MathSpy(IPythonRenderer):
    """nbconvert's renderer, marking each place where it would hand math to MathJax."""

    def inline_math(self, body: str) -> str:
        return "<math-found/>"

    def block_math(self, body: str) -> str:
        return "<math-found/>"

    def latex_environment(self, name: str, body: str) -> str:
        return "<math-found/>"


def as_nbconvert_renders(markdown_text: str) -> str:
    """The HTML nbconvert makes of Markdown (as for a display(Markdown(...)) output), math marked."""
    # Headings without nbconvert's own '¶' anchor links, so any <a> comes from the text.
    return MarkdownWithMath(renderer=MathSpy(escape=False, exclude_anchor_links=True)).render(markdown_text)


def tags(html: str) -> set[str]:
    return {tag.name for tag in BeautifulSoup(html, "html.parser").find_all(True)}


def shown_text(html: str) -> str:
    return BeautifulSoup(html, "html.parser").get_text()


# --- Markdown escaping ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_escaped_value_renders_as_exactly_its_text(value):
    html = as_nbconvert_renders(markdown_escaped(value))
    assert tags(html) == {"p"}  # no <a>, <img>, <script>, heading, list, table, code or math
    assert "<math-found/>" not in html
    assert shown_text(html).strip() == value


@pytest.mark.parametrize(("value", "interpreted"), [(LINK, "a"), (IMAGE, "img"), ("**bold**", "strong"),
                                                    ("<script>alert(1)</script>", "script"), ("# heading", "h1")])
def test_the_same_values_unescaped_would_be_interpreted(value, interpreted):
    # Guards the test above: these are Markdown that nbconvert does interpret.
    assert interpreted in tags(as_nbconvert_renders(value))


@pytest.mark.parametrize("value", ["$x$ and $$y$$", DOLLARS])
def test_the_dollars_unescaped_would_be_math(value):
    assert "<math-found/>" in as_nbconvert_renders(value)


def test_controls_in_a_value_are_visible_and_cannot_start_a_block():
    html = as_nbconvert_renders(markdown("- {value}", value="a\n\n# not a heading\x1b[2J"))
    assert tags(html) == {"ul", "li"}
    assert shown_text(html).strip() == "a\\x0a\\x0a# not a heading\\x1b[2J"


def test_markdown_escapes_each_value_after_its_format_and_keeps_the_template():
    shown = markdown("- **{name}**: {months:.1f} months, {trusted}", name=LINK, months=10.94,
                     trusted=markdown("_{x}_", x="*"))
    assert isinstance(shown, ReportMarkdown)
    assert shown == "- **\\[x\\]\\(javascript\\:alert\\(1\\)\\)**: 10\\.9 months, _\\*_"
    html = as_nbconvert_renders(shown)
    assert tags(html) == {"ul", "li", "strong", "em"}
    assert "[x](javascript:alert(1))" in shown_text(html)


def test_joining_escapes_every_part_that_is_not_report_markdown():
    joined = ReportMarkdown("\n").join([markdown("- **{a}**", a="one"), "- **two**"])
    assert isinstance(joined, ReportMarkdown)
    assert joined == "- **one**\n\\- \\*\\*two\\*\\*"
    # Anything else made from ReportMarkdown is a plain str, which a report shows as text.
    assert type(markdown("**a**") + "b") is str


# --- prose from the data --------------------------------------------------------------------------

PAYLOAD = f"{LINK} {IMAGE} {FORMULA} $$ US$ 5 to $10 <b>bold</b>"


@pytest.fixture(scope="module")
def evidence():
    return load_evidence(DATA_DIR)


@pytest.fixture(scope="module")
def hostile_evidence(evidence):
    """The shipped evidence with the payload in front of every text that prose or figures quote."""

    def spoiled(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        return frame.assign(**{c: frame[c].map(lambda v: f"{PAYLOAD} {v}" if isinstance(v, str) else v)
                               for c in columns})

    return dataclasses.replace(
        evidence,
        trials=spoiled(evidence.trials, ["trial_name"]),
        findings=spoiled(evidence.findings, ["statement"]),
        relapse_patterns=spoiled(evidence.relapse_patterns, ["pattern", "frequency_as_stated", "explanation",
                                                             "management"]),
        resistance_mechanisms=spoiled(evidence.resistance_mechanisms, ["examples", "frequency_as_stated"]),
        resistance_measures=spoiled(evidence.resistance_measures, ["qualifier"]),
        approvals=spoiled(evidence.approvals, ["approval_type"]),
        sources=spoiled(evidence.sources, ["authors"]),
    )


@pytest.mark.parametrize("prose", [
    lambda e: text.phase3_summary(e),
    lambda e: text.findings_summary(e),
    lambda e: text.resistance_summary(e),
    lambda e: text.relapse_summary(e),
    lambda e: text.approvals_summary(e),
    lambda e: text.cns_link(e),
], ids=["phase3", "findings", "resistance", "relapse", "approvals", "cns"])
def test_prose_shows_hostile_data_as_text(hostile_evidence, prose):
    written = prose(hostile_evidence)
    assert isinstance(written, ReportMarkdown)
    html = as_nbconvert_renders(written)
    assert not tags(html) & {"a", "img", "b", "script"}
    assert "<math-found/>" not in html
    assert PAYLOAD in shown_text(html)


def test_prose_keeps_its_own_markdown(evidence):
    html = as_nbconvert_renders(text.phase3_summary(evidence))
    assert {"ul", "li", "strong"} <= tags(html)
    assert "PROFILE 1014" in shown_text(html) and "10.9 vs 7.0 months" in shown_text(html)
    assert "## Exploratory" in text.pooled_orr_intro(evidence)
    assert "h2" in tags(as_nbconvert_renders(text.pooled_orr_intro(evidence)))


def test_change_summary_shows_changed_values_as_text(tmp_path):
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps({"previous_run": "20260101T060000Z", "tables_compared": 3, "changes": [
        {"kind": "changed", "report": "clinical_activity", "table": "efficacy", "row": PAYLOAD,
         "column": "orr_pct", "before": "74", "after": "75"}]}), encoding="utf-8")
    written = notebook.changes_since_last_run(str(changes))
    assert isinstance(written, ReportMarkdown)
    html = as_nbconvert_renders(written)
    assert {"h2", "strong", "li"} <= tags(html)
    assert not tags(html) & {"a", "img", "b"}
    assert f"{PAYLOAD}: orr_pct 74 -> 75" in shown_text(html)


def _displayed_markdown(item: object) -> str:
    with mock.patch("crizotinib_reports.notebook.display") as display:
        ReportSession("overview", {}, evidence=None).show(item)
    (shown,), _ = display.call_args
    return shown.data


def test_show_reads_a_plain_str_as_text_and_report_markdown_as_markdown():
    plain = as_nbconvert_renders(_displayed_markdown(f"**note** {PAYLOAD}"))
    assert not tags(plain) & {"a", "img", "b", "strong"}
    assert f"**note** {PAYLOAD}" in shown_text(plain)
    trusted = as_nbconvert_renders(_displayed_markdown(markdown("**note** {value}", value=PAYLOAD)))
    assert "strong" in tags(trusted) and not tags(trusted) & {"a", "img", "b"}
    assert f"note {PAYLOAD}" in shown_text(trusted)


# --- the rendered page keeps nothing active -------------------------------------------------------

PNG = "data:image/png;base64,iVBORw0KGgo="


@pytest.mark.parametrize("href", [
    "javascript:alert(1)", " JaVaScRiPt:alert(1)", "&#106;avascript:alert(1)", "java&#x09;script:alert(1)",
    "&#x01;javascript:alert(1)", "jav\nascript:alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>x</script>",
    "file:///etc/passwd", ".git/config", "//evil.example/x",
])
def test_links_that_are_not_web_or_in_page_lose_their_href_not_their_text(href):
    page, removed = strip_active_content(f'<p><a href="{href}">the words</a></p>')
    soup = BeautifulSoup(page, "html.parser")
    assert soup.a is not None and not soup.a.has_attr("href")
    assert soup.a.get_text() == "the words"
    assert removed


@pytest.mark.parametrize("href", ["https://doi.org/10.1056/NEJMoa1408440", "http://example.org/a", "#section",
                                  " HTTPS://doi.org/x"])
def test_web_and_in_page_links_are_kept(href):
    page, removed = strip_active_content(f'<a href="{href}">kept</a>')
    assert BeautifulSoup(page, "html.parser").a["href"] == href
    assert removed == []


@pytest.mark.parametrize("src", ["data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=", "data:text/html;base64,AAAA",
                                 ".git/config", "file:///etc/passwd", "x.png", "javascript:alert(1)", ""])
def test_images_that_are_not_embedded_rasters_are_removed(src):
    page, removed = strip_active_content(f'<p>before<img src="{src}" alt="gone">after</p>')
    assert "<img" not in page
    assert "beforeafter" in page
    assert removed


def test_embedded_figures_stay_without_their_handlers():
    page, removed = strip_active_content(
        f'<figure><img src="{PNG}" alt="figure" onerror="alert(1)" srcset="x.png 2x"></figure>')
    img = BeautifulSoup(page, "html.parser").img
    assert img["src"] == PNG and img["alt"] == "figure"
    assert not img.has_attr("onerror") and not img.has_attr("srcset")
    assert sorted(removed) == ["onerror=alert(1)", "srcset=x.png2x"]


def test_scripts_frames_forms_and_handlers_are_removed_their_neighbours_kept():
    page, removed = strip_active_content(
        '<div onclick="x()" ONMOUSEOVER="y()">kept text</div><script>alert(1)</script>'
        '<iframe src="x"></iframe><object data="x"></object><embed src="x"><form action="x"><input></form>'
        '<svg><a xlink:href="javascript:alert(1)">svg link</a><script>alert(2)</script></svg>'
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)"><meta charset="utf-8">')
    soup = BeautifulSoup(page, "html.parser")
    assert not soup.find_all(["script", "iframe", "object", "embed", "form", "input"])
    assert not [t for t in soup.find_all(True) if any(a.lower().startswith("on") for a in t.attrs)]
    assert not soup.find("a").attrs and not soup.find("meta", attrs={"http-equiv": True})
    assert "kept text" in soup.get_text() and "svg link" in soup.get_text()
    assert soup.find("meta", charset="utf-8") is not None
    assert len(removed) == 10


# --- figures: no mathtext -------------------------------------------------------------------------


def test_a_dollar_name_would_be_mathtext_without_the_guard():
    # Guards the next test: matplotlib's default reads '$$' as (broken) math and fails to draw.
    figure = Figure()
    figure.text(0, 0, DOLLARS)
    with matplotlib.rc_context({"text.parse_math": True}), pytest.raises(ValueError):
        figure.savefig(io.BytesIO(), format="png")


@pytest.mark.parametrize("builder", [figures.response_rate_figure, figures.pfs_figure, figures.hazard_ratio_forest])
def test_figures_draw_dollars_as_written(evidence, builder):
    trials = evidence.trials.assign(trial_name=evidence.trials["trial_name"] + " " + DOLLARS)
    figure = builder(dataclasses.replace(evidence, trials=trials))
    assert figure.png_bytes().startswith(b"\x89PNG")
    texts = figure.figure.findobj(Text)
    assert [t for t in texts if f"PROFILE 1014 {DOLLARS}" in t.get_text()]
    assert [t.get_text() for t in texts if t.get_parse_math()] == []  # tick labels, legends, annotations too


def test_tick_labels_made_while_drawing_are_literal_too(evidence):
    figure = Figure()
    ax = figure.subplots()
    report_figure = figures._make("ticks", figure, "caption", "alt", evidence, [])
    # More ticks than the axis holds yet: matplotlib makes their labels while drawing, from rcParams.
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_locator(MultipleLocator(5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, position: DOLLARS))
    assert report_figure.png_bytes().startswith(b"\x89PNG")
    labels = [t for t in ax.get_xticklabels() if t.get_text() == DOLLARS]
    assert len(labels) >= 21 and not [t for t in labels if t.get_parse_math()]


# --- CSV: no formula cells ------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "written"), [
    (FORMULA, "'" + FORMULA), ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-", "'-"),
    ("-5", "-5"), ("-0.3", "-0.3"), ("+7", "+7"), ("-1e-3", "-1e-3"), ("PROFILE 1014", "PROFILE 1014"),
    ("a=b", "a=b"), ("", ""), (-5, -5),
])
def test_formula_like_text_cells_are_prefixed_with_a_quote(cell, written):
    assert spreadsheet_safe(cell) == written


def test_table_csv_neutralises_text_cells_and_leaves_numbers():
    frame = pd.DataFrame({"trial": [FORMULA, "-5", "PROFILE 1014"], "value": [-5, -0.3, 74.0]})
    table = ReportTable("t", "T", "N=1", frame, (), "Source: x")
    rows = list(csv.reader(io.StringIO(table.csv_text())))
    assert rows == [["trial", "value"], ["'" + FORMULA, "-5.0"], ["-5", "-0.3"], ["PROFILE 1014", "74.0"]]


# --- end to end -----------------------------------------------------------------------------------


def link_uri(annotation) -> str:
    """The URI a PDF link annotation opens ('' for an in-document link)."""
    action = annotation.get_object().get("/A")
    return str(action.get_object().get("/URI", "")) if action is not None else ""


E2E_PAYLOAD = f'{FORMULA} {LINK} {IMAGE} $$ US$ 5 to $10'
TAG_PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SECRET = "secret-marker-from-git-config"


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory) -> dict:
    """Every report, HTML and PDF, built once from data that carry hostile text: markup after every free-text
    value, and Markdown links and images, a formula and dollars before the trial names, findings and relapse
    patterns. Every Python process of the build (the build, its fork server, kernels and render workers)
    refuses and records any connection beyond this machine (tests/support/sitecustomize.py, on PYTHONPATH),
    and a git config waits in its working folder, where nbconvert would look for a Markdown image's file."""
    folder = tmp_path_factory.mktemp("hostile")
    log = folder / "network.log"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent / "support"), "CRIZOTINIB_NETWORK_LOG": str(log)}
    data = folder / "data"
    shutil.copytree(DATA_DIR, data)
    for name, spec in read_schema(data, TABLE_NAMES).items():
        frame = pd.read_csv(data / spec.file_name, dtype=str, keep_default_na=False)
        for column in spec.columns:
            free = column.type == "str" and not (column.choices or column.pattern or column.references)
            if free and column.name != "review_quote":
                frame[column.name] = frame[column.name].map(lambda v: (v + " " if v else "x ") + TAG_PAYLOAD)
        for column in {"trials": ["trial_name"], "findings": ["statement"],
                       "relapse_patterns": ["pattern", "explanation"]}.get(name, []):
            frame[column] = E2E_PAYLOAD + " " + frame[column]
        frame.to_csv(data / spec.file_name, index=False)
    validate(data)
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text(f"[core]\n\t{SECRET} = true\n", encoding="utf-8")
    output = folder / "out"
    result = cli("build", "--data-dir", str(data), "--output-dir", str(output), cwd=folder, env=env, timeout=900)
    return {"output": output, "result": result, "env": env, "log": log,
            "embedded": base64.b64encode((folder / ".git" / "config").read_bytes()).decode("ascii")}


@pytest.mark.e2e
def test_the_hostile_build_succeeds_and_nothing_reaches_the_network(hostile_build, tmp_path):
    assert hostile_build["result"].returncode == 0, hostile_build["result"].stderr  # '$$' in trial names drew
    log = hostile_build["log"]
    assert not log.exists(), log.read_text()
    probe_log = tmp_path / "probe.log"  # the guard works, and records what it refused
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('192.0.2.1', 80), 1)"],
                           env={**hostile_build["env"], "CRIZOTINIB_NETWORK_LOG": str(probe_log)},
                           capture_output=True, text=True)
    assert "network blocked by the test" in probe.stderr and "192.0.2.1" in probe_log.read_text()


@pytest.mark.e2e
def test_hostile_text_in_every_free_text_column_is_escaped(hostile_build):
    output = hostile_build["output"]
    html_files = sorted(output.glob("*/*.html"))
    assert len(html_files) == len(portfolio()), html_files
    for html_file in html_files:
        html = html_file.read_text(encoding="utf-8")
        soup = BeautifulSoup(html, "html.parser")
        assert not [s for s in soup.find_all("script") if "alert" in s.get_text()], html_file.name
        assert not soup.find_all(attrs={"onerror": True}), html_file.name
        assert "&lt;script&gt;" in html, html_file.name  # it is there, as text


@pytest.mark.e2e
def test_hostile_markdown_formulas_and_dollars_in_the_data_stay_text(hostile_build):
    output, embedded = hostile_build["output"], hostile_build["embedded"]
    for html_file in sorted(output.glob("*/*.html")):
        html = html_file.read_text(encoding="utf-8")
        soup = BeautifulSoup(html, "html.parser")
        hrefs = [a["href"] for a in soup.find_all(href=True)]
        assert not [h for h in hrefs if re.match(r"\s*(javascript|data|file):", h, re.I)], html_file.name
        assert not [i for i in soup.find_all("img") if not i.get("src", "").startswith("data:image/png;base64,")]
        assert embedded[:24] not in html and SECRET not in html and "[core]" not in html, html_file.name
    for name in ("clinical_activity", "overview"):  # the reports that show the trial names and findings
        soup = BeautifulSoup((output / name / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
        assert soup.find_all("img"), name  # the figures are still there
        assert "javascript:alert(1)" in soup.get_text(), name  # shown, as text
        assert "US$ 5 to $10" in soup.get_text(), name

    figure = BeautifulSoup((output / "clinical_activity" / "clinical_activity.html").read_text(encoding="utf-8"),
                           "html.parser").find("figure", attrs={"data-name": "response_rates"})
    assert figure is not None and figure.img["src"].startswith("data:image/png;base64,")

    for pdf_file in sorted(output.glob("*/*.pdf")):
        reader = PdfReader(pdf_file)
        uris = [link_uri(annotation) for page in reader.pages for annotation in page.get("/Annots") or []]
        assert not [u for u in uris if re.match(r"\s*(javascript|data|file):", u, re.I)], pdf_file.name
    for name in ("clinical_activity", "overview"):
        words = "".join("".join(file_page_texts(output / name / f"{name}.pdf")).split())
        assert "[x](javascript:alert(1))" in words, name

    efficacy = (output / "clinical_activity" / "tables" / "efficacy.csv").read_text(encoding="utf-8")
    cells = [cell for row in csv.reader(io.StringIO(efficacy)) for cell in row]
    assert [cell for cell in cells if cell.startswith("'" + E2E_PAYLOAD + " PROFILE 1014")]
    assert not [cell for cell in cells if cell.startswith("=")]
