"""The combined PDF assembled from the reports' laid-out pages (crizotinib_reports.publish.assemble).

Fast tests lay out tiny report pages shaped like the build's (a running title, '¶' anchors, ids every
report repeats, render.add_contents' "Tables and figures" list with its page numbers, a link inside the
report) and read the PDF with pypdf as a reader would: page numbers, running headers, contents, the
reports' own page numbers, links and bookmarks; then against combine.py's PDF of the same pages, page
by page. The render workers of a run keep documents in one process (workers.py). The real reports are
compared in tests/test_combine.py.
"""

from __future__ import annotations

import io
import logging
import os
import re
import time

import pytest
from pypdf import PdfReader

from crizotinib_reports.publish.assemble import NeedsLayout, assembled_pdf, combine_in_worker
from crizotinib_reports.publish.combine import CombinedReport, combined_pdf
from crizotinib_reports.publish.offline_fetch import OfflineURLFetcher
from crizotinib_reports.publish.render import (REPORT_CSS, WORKER_DOCUMENTS, KeptDocuments, add_contents, finish_pdf,
                                               print_document, print_html, print_pdf)
from crizotinib_reports.publish.workers import RenderTimeout, RenderWorkers
from support.pdfs import links, outline_entries, page_texts

LOG = logging.getLogger(__name__)
TITLE = "Tiny bundle"
OPTIONS = dict(title=TITLE, date="26 November 2026", data_version="v1", notes=["Run 1"])


# ---------------------------------------------------------------- pages shaped like the build's


def report_page(heading: str, *, pages: int, table_page: int, label: str = "Efficacy by trial",
                label_style: str = "") -> str:
    """A report of ``pages`` pages whose h1 reads ``heading`` (not the title the bundle gives it), with
    sections 'Intro' (page 1) and 'Results' (on ``table_page``, with 'Table 1.1.'), a link to the results,
    render.add_contents' list of tables with its target-counter page number, and a second h1 at the end."""
    cell = '<div class="jp-Cell jp-MarkdownCell"><div class="jp-RenderedHTMLCommon jp-RenderedMarkdown">{}</div></div>'
    opening = cell.format(f'<h1 id="top">{heading}<a class="anchor-link" href="#top">¶</a></h1>'
                          '<p><a href="#Results">See the results</a></p>')  # the contents list comes after it
    parts = ['<h2 id="Intro">Intro<a class="anchor-link" href="#Intro">¶</a></h2>']
    for page in range(2, pages + 1):
        parts.append(f'<p style="break-before: page">{heading}, page {page}.</p>')
        if page == table_page:
            parts.append('<h2 id="Results">Results<a class="anchor-link" href="#Results">¶</a></h2>')
            parts.append(f'<div class="report-table" id="gtabc" data-label="Table 1.1. {label}">'
                         f'<p style="{label_style}">Table 1.1. {label}</p>'
                         '<table><tr><th id="Source">Source</th><td headers="Source">x</td></tr></table></div>')
    parts.append('<h1 id="Appendix">Appendix</h1>')  # an h1 other than the title: a section in the bundle
    body = "\n".join(parts)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{heading}</title>
<style type="text/css">{REPORT_CSS.read_text(encoding="utf-8")}</style>
<style type="text/css">
html {{ string-set: report-title "{heading}"; }}
</style>
</head>
<body class="jp-Notebook"><main>
{opening}
{cell.format(body)}
</main></body></html>"""
    return add_contents(page)


@pytest.fixture(scope="module")
def reports() -> list[CombinedReport]:
    return [CombinedReport("alpha", "Alpha report", report_page("Alpha heading", pages=3, table_page=3)),
            CombinedReport("beta", "Beta report", report_page("Beta heading", pages=9, table_page=8))]


def documents(reports: list[CombinedReport]) -> list:
    return [print_document(print_html(report.html)) for report in reports]


@pytest.fixture(scope="module")
def both(reports) -> dict[str, PdfReader]:
    """The same reports combined both ways: laid out again (combine.py) and from their laid-out pages."""
    return {"layout": PdfReader(io.BytesIO(combined_pdf(reports, **OPTIONS))),
            "pages": PdfReader(io.BytesIO(assembled_pdf(reports, documents(reports), **OPTIONS)))}


def number_after(text: str, entry: str) -> int:
    match = re.search(rf"^{re.escape(entry)}[ .\u2024\u2026]*?(\d+)\s*$", text, re.M)
    assert match, f"{entry!r} not in:\n{text}"
    return int(match.group(1))


# ---------------------------------------------------------------- what a reader meets


def test_pages_numbered_over_the_whole_document_with_each_report_title_in_the_header(both):
    pages = page_texts(both["pages"])
    assert len(pages) == 2 + 3 + 9
    assert all(f"Page {number} of {len(pages)}" in text for number, text in enumerate(pages, 1))
    # The margins come last in a page's text: the running header, then the page number. The bundle gives the
    # reports' titles and their h1 read otherwise, so on a report's first page the title can only be its header.
    for title, first, last in (("Alpha report", 3, 5), ("Beta report", 6, 14)):
        for number in range(first, last + 1):
            assert pages[number - 1].rstrip().endswith(f"{title}\nPage {number} of 14"), (title, number)
    assert "Alpha heading" in pages[2] and "Beta heading" in pages[5] and "Alpha report" not in pages[2][:-30]
    assert pages[1].rstrip().endswith(f"{TITLE}\nPage 2 of 14")  # the contents carry the bundle's title
    assert pages[0].rstrip().endswith("Run 1\nPage 1 of 14")  # the cover none


def test_contents_and_the_reports_own_lists_give_the_pages_where_things_are(both):
    pages = page_texts(both["pages"])
    contents = pages[1]
    assert number_after(contents, "Alpha report") == 3 and number_after(contents, "Beta report") == 6
    # Sections: each report's 'Results' is where its heading is (the contents name each twice, in order).
    results = [int(n) for n in re.findall(r"^Results[ .]*?(\d+)\s*$", contents, re.M)]
    assert results == [5, 13]
    assert "Results" in pages[4] and "Results" in pages[12]
    # Each report's own "Tables and figures" counts in the combined document's pages, not its own.
    for first, table_page in ((3, 5), (6, 13)):
        assert number_after(pages[first - 1], "Table 1.1. Efficacy by trial") == table_page
        assert "Table 1.1. Efficacy by trial" in pages[table_page - 1]


def test_links_go_to_their_own_report_and_ids_do_not_collide(both):
    reader = both["pages"]
    found = links(reader)
    internal = [(page, target) for page, _, target in found if isinstance(target, tuple)]
    assert all(target[0] in range(1, len(reader.pages) + 1) for _, target in internal)
    # The contents link each report's start and sections; each report's link to 'Results' stays in the report.
    contents_targets = sorted({target[0] for page, target in internal if page == 2})
    assert contents_targets == [3, 5, 6, 13]
    assert (3, 5) in {(page, target[0]) for page, target in internal}   # alpha's link, to alpha's results
    assert (6, 13) in {(page, target[0]) for page, target in internal}  # beta's, to beta's
    names = list(reader.named_destinations)
    assert len(names) == len(set(names))
    assert {"alpha--Results", "beta--Results", "report-alpha", "report-beta"} <= set(names)


def test_bookmarks_one_per_report_with_its_sections_and_tables(both):
    tree = outline_entries(both["pages"])
    assert [(depth, title, page) for depth, title, page, _ in tree] == [
        (0, TITLE, 1), (0, "Contents", 2),
        (0, "Alpha report", 3), (1, "Intro", 3), (1, "Results", 5), (2, "Table 1.1. Efficacy by trial", 5),
        (1, "Appendix", 5),
        (0, "Beta report", 6), (1, "Intro", 6), (1, "Results", 13), (2, "Table 1.1. Efficacy by trial", 13),
        (1, "Appendix", 14)]
    assert "¶" not in "".join(title for _, title, _, _ in tree)


def test_the_same_pages_as_laying_everything_out_again(both):
    old, new = both["layout"], both["pages"]
    assert page_texts(new) == page_texts(old)
    assert outline_entries(new) == outline_entries(old)
    assert links(new) == links(old)
    assert new.metadata.title == old.metadata.title == TITLE


# ---------------------------------------------------------------- the archival variant


def test_archival_pdf_is_pdf_a_3a_with_its_attachments(reports):
    from test_pdf_standards import WHEN, attachments_of, unreached_content, xmp_values, PDFAID
    from crizotinib_reports.publish.combine import PDFAttachment

    files = [PDFAttachment("alpha--efficacy.csv", b"trial,orr\r\nA,1\n", "Table 'efficacy'", WHEN)]
    reader = PdfReader(io.BytesIO(assembled_pdf(reports, documents(reports), attachments=files, **OPTIONS)))
    assert xmp_values(reader, PDFAID, "part") == ["3"] and xmp_values(reader, PDFAID, "conformance") == ["A"]
    assert unreached_content(reader) == []  # the grafted running headers are artifacts too
    assert attachments_of(reader) == {"alpha--efficacy.csv": b"trial,orr\r\nA,1\n"}
    with pytest.raises(ValueError, match="share a name"):
        assembled_pdf(reports, documents(reports), attachments=files * 2, **OPTIONS)


# ---------------------------------------------------------------- documents kept, or laid out where missing


def test_a_report_pdf_is_the_same_bytes_whether_its_document_is_kept_or_not(reports):
    import weasyprint

    html = print_html(reports[0].html)
    kept = KeptDocuments()
    with_keep = print_pdf(html, LOG, keep=kept)
    assert with_keep == print_pdf(html, LOG)
    # ...and as WeasyPrint writes it in one call (how the report PDFs were printed before documents were kept).
    assert with_keep == weasyprint.HTML(string=html, url_fetcher=OfflineURLFetcher(), media_type="print").write_pdf(
        pdf_variant="pdf/ua-1", finisher=finish_pdf)
    assert kept.get(html) is not None and kept.get(html + " ") is None


def test_kept_documents_are_bounded():
    kept = KeptDocuments(limit=2)
    for text in ("a", "b", "c"):
        kept.add(text, text)
    assert len(kept) == 2 and kept.get("a") is None and kept.get("c") == "c"


def test_the_worker_reuses_what_it_kept_and_lays_out_what_it_lacks(reports, both):
    WORKER_DOCUMENTS._documents.clear()
    print_pdf(print_html(reports[1].html), LOG, keep=WORKER_DOCUMENTS)  # beta was rendered in this worker
    pdf, info = combine_in_worker(reports, **OPTIONS)
    assert (info["method"], info["reused"], info["laid_out"]) == ("pages", 1, 1)
    assert page_texts(PdfReader(io.BytesIO(pdf))) == page_texts(both["layout"])
    _, again = combine_in_worker(reports, **OPTIONS)
    assert (again["reused"], again["laid_out"]) == (2, 0)  # alpha's, laid out above, is kept too
    WORKER_DOCUMENTS._documents.clear()


def test_a_page_number_that_no_longer_fits_its_line_lays_everything_out_again():
    # The label fills its line (no leader dots left): page 9 of the report becomes 11, wider, in the bundle.
    crowded = [CombinedReport("crowded", "Crowded report",
                              report_page("Crowded heading", pages=9, table_page=9, label="word " * 40,
                                          label_style="white-space: nowrap"))]
    crowded[0] = CombinedReport("crowded", "Crowded report",
                                crowded[0].html.replace("<ol>", '<ol style="white-space: nowrap">', 1))
    with pytest.raises(NeedsLayout, match="no longer fits"):
        assembled_pdf(crowded, documents(crowded), **OPTIONS)
    pdf, info = combine_in_worker(crowded, **OPTIONS)
    assert info["method"] == "layout"
    assert page_texts(PdfReader(io.BytesIO(pdf))) == page_texts(PdfReader(io.BytesIO(combined_pdf(crowded, **OPTIONS))))
    WORKER_DOCUMENTS._documents.clear()


# ---------------------------------------------------------------- the run's workers keep documents in one process


def worker_pid(*_: object) -> int:
    return os.getpid()


def sleepy_render(seconds: float, page: str) -> tuple[dict[str, bytes], int]:
    """A render as render_in_worker returns it (the page among the outputs), and where it ran."""
    time.sleep(seconds)
    return {"html": page.encode()}, os.getpid()


REMEMBERED: list[str] = []


def remember(page: str) -> None:
    REMEMBERED.append(page)


def recall() -> tuple[int, list[str]]:
    return os.getpid(), REMEMBERED


def test_a_runs_renders_and_its_combine_share_one_worker():
    workers = RenderWorkers(2, job=sleepy_render, keep_documents=True, keep_job=remember)
    try:
        pids = {workers.render(0, f"page {n}", timeout=60)[1] for n in range(3)}  # one report after another
        assert len(pids) == 1 and os.getpid() not in pids
        assert workers.combine(recall, (), timeout=60) == (pids.pop(), [])  # nothing rendered beside it
    finally:
        workers.close()
    with pytest.raises(ValueError, match="keep no documents"):
        RenderWorkers(2).combine(worker_pid, (), timeout=1)


def test_a_render_goes_beside_the_busy_keeping_worker_which_lays_its_page_out_before_combining():
    from concurrent.futures import ThreadPoolExecutor

    workers = RenderWorkers(2, job=sleepy_render, keep_documents=True, keep_job=remember)
    try:
        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(workers.render, 3, "slow page", 60)
            time.sleep(1)  # the keeping worker has it
            quick = pool.submit(workers.render, 0, "quick page", 60)
            (_, keeper), (_, beside) = slow.result(), quick.result()
        assert beside != keeper  # it did not wait for the slow one
        assert workers.combine(recall, (), timeout=60) == (keeper, ["quick page"])
    finally:
        workers.close()


def slow_remember(page: str) -> None:
    time.sleep(3)
    REMEMBERED.append(page)


def test_a_render_waits_for_the_keeping_worker_when_it_is_only_laying_out_a_page():
    from concurrent.futures import ThreadPoolExecutor

    workers = RenderWorkers(2, job=sleepy_render, keep_documents=True, keep_job=slow_remember)
    try:
        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(workers.render, 2, "slow page", 60)
            time.sleep(0.5)
            _, beside = workers.render(0, "quick page", 60)  # beside the busy worker, laid out there afterwards
            _, keeper = slow.result()
            deadline = time.monotonic() + 30
            while not workers._laying_out and time.monotonic() < deadline:
                time.sleep(0.05)
            assert workers._laying_out, "the keeping worker never laid out the page rendered beside it"
            _, last = workers.render(0, "last page", 60)  # waits for that layout rather than going beside
        assert beside != keeper and last == keeper
        assert workers.combine(recall, (), timeout=60) == (keeper, ["quick page"])
    finally:
        workers.close()


def test_a_late_call_loses_the_keeping_worker_and_a_fresh_one_takes_its_place():
    workers = RenderWorkers(1, job=sleepy_render, keep_documents=True)
    try:
        _, first = workers.render(0, "a", timeout=60)
        with pytest.raises(RenderTimeout):
            workers.render(60, "late", timeout=1)  # any limit short of the job's 60 s
        assert workers.combine(worker_pid, (), timeout=60) != first
    finally:
        workers.close()


def test_a_page_rendered_elsewhere_is_laid_out_and_kept_by_the_worker(reports):
    from crizotinib_reports.publish.render import keep_in_worker

    WORKER_DOCUMENTS._documents.clear()
    keep_in_worker(reports[0].html)
    kept = WORKER_DOCUMENTS.get(print_html(reports[0].html))
    assert kept is not None and len(kept.pages) == 3
    keep_in_worker(reports[0].html)
    assert WORKER_DOCUMENTS.get(print_html(reports[0].html)) is kept and len(WORKER_DOCUMENTS) == 1
    WORKER_DOCUMENTS._documents.clear()
