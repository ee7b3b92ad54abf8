"""One distribution PDF out of several report pages (crizotinib_reports.publish.combine).

Fast tests merge tiny hand-written pages shaped like the build's (nbconvert heading
ids and '¶' anchors, a great_tables-like id-scoped <style>, the per-report running
title rule); the e2e tests build real reports with the CLI once per module and read
the combined PDF with pypdf as a reader would meet it: cover, contents, bookmarks,
page numbers and running headers, combined both ways: every page laid out again (combine.py) and from
each report's laid-out pages (assemble.py, what a run does), which must read the same.
"""

from __future__ import annotations

import io
import re

import pytest
import tinycss2
from bs4 import BeautifulSoup
from pypdf import PdfReader

from crizotinib_reports.publish.assemble import assembled_pdf
from crizotinib_reports.publish.combine import CombinedReport, combined_html, combined_pdf
from crizotinib_reports.publish.render import REPORT_CSS, print_document, print_html
from crizotinib_reports.publish.portfolio import portfolio
from support.pdfs import links, outline_tree, page_texts, pdf_page_texts

REPORTS = portfolio()

HOSTILE_TITLE = 'Crizotinib <script>alert("x")</script> & reports'
DATE = "26 November 2026"
DATA_VERSION = "data 1ed4abeafbca"
NOTES = ["Built 3 of 3 reports", "Run <b>summary</b> line"]
BETA_TITLE = 'Beta <report> & "quotes"\\'


# ---------------------------------------------------------------- helpers


def all_titles(tree: list) -> list[str]:
    return [title for title, _, _, children in tree for title in (title, *all_titles(children))]


def toc_page_number(contents_text: str, entry: str) -> int:
    """The page number the contents give for ``entry`` (leaders, then the number)."""
    match = re.search(rf"^{re.escape(entry)}[ .\u2024\u2026]*?(\d+)\s*$", contents_text, re.M)
    assert match, f"{entry!r} not in the contents:\n{contents_text}"
    return int(match.group(1))


def link_destinations(reader: PdfReader, page_index: int) -> dict[str, int]:
    """Named destination -> 1-based target page, for the internal links on one page."""
    named = reader.named_destinations
    links: dict[str, int] = {}
    for annot in reader.pages[page_index].get("/Annots", []):
        annot = annot.get_object()
        if annot.get("/Subtype") == "/Link" and "/Dest" in annot:
            name = str(annot["/Dest"])
            links[name] = reader.get_destination_page_number(named[name]) + 1
    return links


def selector_ids(css: str) -> set[str]:
    """Ids named by the selectors of a stylesheet (not colours in declarations)."""
    found: set[str] = set()

    def scan(tokens: list) -> None:
        for token in tokens:
            if token.type == "hash":
                found.add(token.value)
            elif token.type == "function":
                scan(token.arguments)

    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type == "qualified-rule":
            scan(rule.prelude)
    return found


# ---------------------------------------------------------------- tiny pages


def tiny_page(title: str, sections: list[str], *, filler: int = 0) -> str:
    """A page shaped like the build's: same ids in every page, gt-style scoped CSS, '¶' anchors."""
    title_id = title.replace(" ", "-")
    parts = [f'<h1 id="{title_id}">{title}<a class="anchor-link" href="#{title_id}">¶</a></h1>',
             '<p><a href="#Results">See the results</a></p>',
             '<div id="gtabc"><style>\n#gtabc table { color: #abcabc; }\n#gtabc .gt_title { text-align: center; }\n'
             "</style>"
             '<table class="gt_table"><tr><th id="Source" class="gt_title">Source</th>'
             '<td headers="Source">x</td></tr></table></div>']
    for section in sections:
        section_id = section.replace(" ", "-")
        parts.append(f'<h2 id="{section_id}">{section}<a class="anchor-link" href="#{section_id}">¶</a></h2>')
        parts.extend(f"<p>Filler paragraph {i} of {section}.</p>" for i in range(filler))
    body = "\n".join(parts)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style type="text/css">{REPORT_CSS.read_text(encoding="utf-8")}</style>
<style type="text/css">
html {{ string-set: report-title "{title}"; }}
</style>
</head>
<body class="jp-Notebook"><main>
<div class="jp-Cell jp-MarkdownCell"><div class="jp-RenderedHTMLCommon jp-RenderedMarkdown">
{body}
</div></div>
</main></body></html>"""


@pytest.fixture(scope="module")
def tiny_reports() -> list[CombinedReport]:
    return [
        CombinedReport("alpha", "Alpha report", tiny_page("Alpha report", ["Intro", "Results"], filler=40)),
        # The title given (not the page's h1) names the report; it is escaped for HTML and CSS.
        CombinedReport("beta", BETA_TITLE, tiny_page("Beta report", ["Intro", "Results"], filler=30)),
    ]


def test_ids_are_prefixed_per_report_and_references_follow(tiny_reports):
    soup = BeautifulSoup(combined_html(tiny_reports, title="T", date=DATE, data_version=DATA_VERSION),
                         "html.parser")
    ids = [tag["id"] for tag in soup.find_all(id=True)]
    assert len(ids) == len(set(ids)), "ids collide"

    for name in ("alpha", "beta"):
        section = soup.find("section", id=f"report-{name}")
        assert section is not None and "combined-report" in section["class"]
        inner_ids = {tag["id"] for tag in section.find_all(id=True)}
        assert inner_ids == {f"{name}--{old}" for old in ("gtabc", "Source", "Intro", "Results",
                                                          f"{name.title()}-report")}
        # A link inside the report goes to that report's heading, not the other's.
        link = section.find("a", string="See the results")
        assert link["href"] == f"#{name}--Results"
        assert section.find("td").get_attribute_list("headers") == [f"{name}--Source"]
        # great_tables' scoped style follows its renamed container; the colour stays a colour.
        style = section.find("style").string
        assert selector_ids(style) == {f"{name}--gtabc"}
        assert "#abcabc" in style

    # '¶' anchors are gone, so they reach neither the text nor the bookmarks; the headings that had them stay.
    assert all("anchor-link" in report.html for report in tiny_reports)
    assert not soup.select("a.anchor-link")
    assert "¶" not in soup.get_text()
    assert [" ".join(h.get_text().split()) for h in soup.select("section h2")] == ["Intro", "Results"] * 2


def test_head_css_once_and_running_title_per_report(tiny_reports):
    soup = BeautifulSoup(combined_html(tiny_reports, title="T", date=DATE, data_version=DATA_VERSION),
                         "html.parser")
    head_css = [style.string for style in soup.head.find_all("style")]
    report_css = REPORT_CSS.read_text(encoding="utf-8")
    assert sum(css == report_css for css in head_css) == 1
    # The per-page rule on <html> would set the last report's title everywhere: it is dropped...
    assert not any(re.search(r"html\s*\{\s*string-set", css) for css in head_css)
    # ...and each report's first heading carries its title instead.
    for name, title in (("alpha", "Alpha report"), ("beta", 'Beta \\3c report\\3e  \\26  \\"quotes\\"\\\\')):
        h1 = soup.find("section", id=f"report-{name}").find("h1")
        assert f'string-set: report-title "{title}"' in h1["style"]
        assert "bookmark-level: 1" in h1["style"]


def test_contents_links_every_report_and_section(tiny_reports):
    soup = BeautifulSoup(combined_html(tiny_reports, title="T", date=DATE, data_version=DATA_VERSION),
                         "html.parser")
    contents = soup.find("nav", id="contents")
    anchors = [(a.get_text(), a["href"]) for a in contents.find_all("a")]
    assert anchors == [
        ("Alpha report", "#report-alpha"), ("Intro", "#alpha--Intro"), ("Results", "#alpha--Results"),
        (BETA_TITLE, "#report-beta"), ("Intro", "#beta--Intro"), ("Results", "#beta--Results"),
    ]
    ids = {tag["id"] for tag in soup.find_all(id=True)}
    assert all(href[1:] in ids for _, href in anchors)
    css = "".join(style.string for style in soup.head.find_all("style"))
    assert "target-counter(attr(href), page)" in css


def test_cover_escapes_its_text(tiny_reports):
    page = combined_html(tiny_reports, title=HOSTILE_TITLE, date="<i>today</i>", data_version='v"1"&2',
                         notes=NOTES)
    soup = BeautifulSoup(page, "html.parser")
    assert not soup.find("script") and not soup.find("i") and not soup.find("b")
    cover = soup.find(id="cover")
    assert HOSTILE_TITLE in cover.get_text()
    assert "<i>today</i>" in cover.get_text()
    assert 'Data version: v"1"&2' in cover.get_text()
    assert "Run <b>summary</b> line" in cover.get_text()
    assert soup.title.string == HOSTILE_TITLE


def test_page_without_body_or_head():
    page = '<h1 id="x">Bare</h1><p><a href="#x">up</a></p>'
    soup = BeautifulSoup(combined_html([CombinedReport("bare", "Bare", page)], title="T", date=DATE,
                                       data_version=DATA_VERSION), "html.parser")
    section = soup.find("section", id="report-bare")
    assert section.find("h1")["id"] == "bare--x" and section.find("a")["href"] == "#bare--x"
    assert [a["href"] for a in soup.find(id="contents").find_all("a")] == ["#report-bare"]


def test_no_reports_is_an_error():
    with pytest.raises(ValueError, match="no reports"):
        combined_html([], title="T", date=DATE, data_version=DATA_VERSION)


def test_tiny_pdf_contents_and_bookmarks(tiny_reports):
    reader = PdfReader(io.BytesIO(combined_pdf(tiny_reports, title="Tiny bundle", date=DATE,
                                               data_version=DATA_VERSION)))
    texts = page_texts(reader)
    beta_start = toc_page_number(texts[1], BETA_TITLE)
    assert toc_page_number(texts[1], "Alpha report") == 3
    assert beta_start > 3, "alpha's filler should take more than one page"
    assert "Beta report" in texts[beta_start - 1] and "Filler paragraph 0 of Intro" in texts[beta_start - 1]
    assert BETA_TITLE in texts[beta_start]  # the running header, on beta's second page

    tree = outline_tree(reader)
    assert [(title, page) for title, page, _, _ in tree] == [
        ("Tiny bundle", 1), ("Contents", 2), ("Alpha report", 3), (BETA_TITLE, beta_start)]
    assert [title for title, *_ in tree[3][3]] == ["Intro", "Results"]
    assert "¶" not in "".join(all_titles(tree))


# ---------------------------------------------------------------- real reports

# Three reports with tables, figures and references, the three quickest to lay out (the fixture below lays each
# out twice; clinical_activity would take as long as the other two together).
E2E_REPORTS = ("overview", "clinical_relapses", "resistance_mechanisms")


@pytest.fixture(scope="module")
def built_reports(output_dir) -> list[CombinedReport]:
    """Three of the real reports' HTML, from the session's shared build."""
    return [CombinedReport(name, REPORTS[name].title, (output_dir / name / f"{name}.html").read_text(encoding="utf-8"))
            for name in E2E_REPORTS]


@pytest.fixture(scope="module")
def both_pdfs(built_reports) -> dict[str, bytes]:
    """The three reports combined both ways: "layout", every page laid out again in one document (combine.py),
    and "pages", from each report's laid-out document as a run does (assemble.py)."""
    options = dict(title=HOSTILE_TITLE, date=DATE, data_version=DATA_VERSION, notes=NOTES)
    documents = [print_document(print_html(report.html)) for report in built_reports]
    return {"layout": combined_pdf(built_reports, **options),
            "pages": assembled_pdf(built_reports, documents, **options)}


@pytest.fixture(scope="module", params=["layout", "pages"])
def combined(request, both_pdfs) -> tuple[PdfReader, list[str]]:
    return PdfReader(io.BytesIO(both_pdfs[request.param])), pdf_page_texts(both_pdfs[request.param])


@pytest.fixture(scope="module")
def start_pages(built_reports, combined) -> dict[str, int]:
    """Report name -> the page the contents give for it."""
    _, texts = combined
    return {r.name: toc_page_number(texts[1], r.title) for r in built_reports}


@pytest.mark.e2e
def test_cover_page(combined):
    _, texts = combined
    cover = " ".join(texts[0].split())  # a long title wraps
    for text in (HOSTILE_TITLE, DATE, f"Data version: {DATA_VERSION}", *NOTES):
        assert text in cover


@pytest.mark.e2e
def test_contents_page_numbers_are_where_reports_start(built_reports, combined, start_pages):
    reader, texts = combined
    pages = [start_pages[r.name] for r in built_reports]
    assert pages[0] == 3 and pages == sorted(set(pages)), pages
    for report in built_reports:
        start = start_pages[report.name]
        assert report.title in texts[start - 1]
    # Every level-2 section is listed, on the page that holds its heading.
    for report, start, end in zip(built_reports, pages, [*pages[1:], len(texts) + 1]):
        headings = [" ".join(h.get_text().replace("¶", "").split())
                    for h in BeautifulSoup(report.html, "html.parser").find_all("h2")]
        assert headings
        for heading in headings:
            page = toc_page_number(texts[1], heading) if texts[1].count(heading) == 1 else None
            if page is not None:  # a heading repeated across reports ('References') is checked by the outline
                assert start <= page < end and heading in texts[page - 1]
    # The entries are links, to the page they name.
    destinations = link_destinations(reader, 1)
    for report in built_reports:
        assert destinations[f"report-{report.name}"] == start_pages[report.name]


@pytest.mark.e2e
def test_outline_one_entry_per_report_with_its_sections(built_reports, combined, start_pages):
    reader, texts = combined
    tree = outline_tree(reader)
    assert [title for title, *_ in tree] == [HOSTILE_TITLE, "Contents", *(r.title for r in built_reports)]
    assert tree[0][1] == 1 and tree[1][1] == 2
    page_height = float(reader.pages[0].mediabox.height)
    for report, (title, page, top, children) in zip(built_reports, tree[2:]):
        assert page == start_pages[report.name]
        assert top is not None and top > page_height * 0.8, "a report starts at the top of a new page"
        assert children, f"{title} has no sections"
        for child_title, child_page, _, _ in children:
            assert page <= child_page and child_title in texts[child_page - 1]
    assert "¶" not in "".join(all_titles(tree))


@pytest.mark.e2e
def test_page_numbers_and_running_header(built_reports, combined, start_pages):
    _, texts = combined
    total = len(texts)
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {total}" in text
    # Every page of a report shows its title in the header (the first page shows it in the h1 too).
    starts = [start_pages[r.name] for r in built_reports]
    for report, start, end in zip(built_reports, starts, [*starts[1:], total + 1]):
        for number in range(start, end):
            assert report.title in texts[number - 1], (report.name, number)
    assert HOSTILE_TITLE in texts[1]  # the contents carry the bundle's title


@pytest.mark.e2e
def test_reused_pages_read_and_link_as_the_pages_laid_out_again(both_pdfs):
    """The run's way (assemble.py) against laying every page out again: the same text on every page, the same
    outline to the same places, the same links from the same areas to the same places."""
    old, new = (PdfReader(io.BytesIO(both_pdfs[method])) for method in ("layout", "pages"))
    assert pdf_page_texts(both_pdfs["pages"]) == pdf_page_texts(both_pdfs["layout"])
    assert outline_tree(new) == outline_tree(old)
    found = links(new)
    assert found == links(old) and any(isinstance(target, tuple) for _, _, target in found)


@pytest.mark.e2e
def test_great_tables_styles_follow_their_tables(built_reports):
    soup = BeautifulSoup(combined_html(built_reports, title="T", date=DATE, data_version=DATA_VERSION),
                         "html.parser")
    ids = [tag["id"] for tag in soup.find_all(id=True)]
    assert len(ids) == len(set(ids))
    # great_tables' look travels with each table (see test_numbering): inline, or in the class print hoisted it
    # into (render.hoist_inline_styles), so nothing depends on an id...
    hoisted = dict(re.findall(r":where\(\.(crz-s-[0-9a-f]{12})\)\{([^}]*)\}",
                              "".join(style.string or "" for style in soup.find_all("style"))))
    tables = soup.body.find_all("table", class_="gt_table")
    assert len(tables) >= len(built_reports)
    assert all("border-top-style: solid" in table.get("style", "") + "".join(hoisted.get(name, "")
                                                                              for name in table.get("class", []))
               for table in tables)
    # ...and any style a report still scopes by id names ids of the combined page, inside its container.
    for style in soup.body.find_all("style"):
        named = selector_ids(style.string or "")
        assert named <= set(ids), named
        if named:
            assert style.find_parent(id=True)["id"] in named
