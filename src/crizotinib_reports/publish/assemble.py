"""A run's combined PDF assembled from the reports' laid-out pages: only the cover and the contents are laid out.

combine.py prints one HTML document of every report, so WeasyPrint lays every report page out a
second time, which is most of the combined PDF's cost. Here each report's WeasyPrint document is
reused as it was laid out for the report's own PDF: kept by the render worker that printed it
(workers.py), or laid out here when missing. Beside them a cheap "frame" document is laid out: the
cover and the contents exactly as combine.py writes them, then for each report as many empty pages
as the report has, the first carrying the report's running title. Each report page gets the margin
boxes of its frame page (running header, "Page N of M" over the whole document), and WeasyPrint
writes the frame's cover and contents pages followed by the report pages (``Document.copy``), with
the variant, attachments and finisher combine.py uses. The frame and the pages agree on:

* page numbers: the frame's empty pages hold an empty block with the id of every contents target
  on that page of the report, so the contents' ``target-counter`` counts what combine.py counts;
* ids: as in combine.py, every anchor of a report is renamed ``<report>--<id>`` (its internal links
  with it), so the ids every report repeats do not collide; a report's first page gets the frame's
  ``report-<name>`` anchor, where the contents link;
* bookmarks: a report's first heading is its level-1 entry, labelled with the report's title, and its
  other h1 move one level down (combine.py's inline style and ``COMBINED_CSS``);
* the report's own "Tables and figures" list (render.add_contents) prints page numbers with
  ``target-counter`` (report.css), counted from the report's first page: on the combined pages each
  is shifted by the pages before the report, its leader dots cut back as WeasyPrint lays them out
  (they are placed from the line's end). A number that would no longer fit raises
  :class:`NeedsLayout`: :func:`combine_in_worker` then prints the whole document as combine.py does.

The reports' pages are laid out exactly as in the combined HTML (same CSS, same page size, each
report starting a page), which tests/test_assemble.py checks page by page against combine.py.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import weasyprint
from bs4 import BeautifulSoup
from weasyprint.document import Page
from weasyprint.formatting_structure import boxes
from weasyprint.text.line_break import split_first_line

from .combine import (_HEADINGS, _RUNNING_TITLE_STYLE, ARCHIVAL_VARIANT, COMBINED_CSS, CombinedReport, PDFAttachment,
                      _attrs_html, _contents_html, _cover_html, _IdRegistry, _Part, combined_pdf,
                      weasyprint_attachments)
from .render import WORKER_DOCUMENTS, css_string, print_document, print_html, write_document

__all__ = ["NeedsLayout", "assembled_pdf", "combine_in_worker"]

log = logging.getLogger(__name__)

#: One empty page of the frame per page of a report.
FRAME_CSS = """
/* crizotinib_reports.assemble: one empty page per report page (the pages come laid out). */
.combined-frame-page {
  display: block;
  break-before: page;
}
"""

_PAGE_NUMBER = re.compile(r"^(\s*)(\d+)$")


class NeedsLayout(Exception):
    """The laid-out pages cannot be reused as they are: the whole document must be laid out."""


@dataclass
class _Report:
    """One report's laid-out document and what the frame and the contents need from it."""

    report: CombinedReport
    document: weasyprint.Document
    part: _Part = field(init=False)
    ids: dict[str, str] = field(default_factory=dict)  # the report's anchor -> its name in the combined PDF
    first_heading: Any = None  # the box of the report's first heading
    first_heading_page: int = 0
    added_anchors: dict[int, dict[str, tuple]] = field(default_factory=dict)  # page -> anchors for id-less h2
    targets: dict[int, list[str]] = field(default_factory=dict)  # page -> contents targets on it
    contents_pages: set[int] = field(default_factory=set)  # pages holding report.css's 'Tables and figures'


def _element_text(element: Any) -> str:
    """An element's text as combine.py takes a heading's (BeautifulSoup ``get_text(" ")``), without '¶' anchors."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and not ("anchor-link" in (child.get("class") or "").split()
                                                   and child.tag == "a"):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return " ".join(" ".join(parts).split())


def _survey(laid: _Report, registry: _IdRegistry) -> None:
    """Name the report's anchors, find its first heading, its level-2 sections and its contents list."""
    name = laid.report.name
    section_id = registry.new(f"report-{name}")
    seen: set[int] = set()
    sections: list[tuple[str, str]] = []
    for number, page in enumerate(laid.document.pages):
        for anchor in page.anchors:
            if anchor not in laid.ids:
                laid.ids[anchor] = registry.new(f"{name}--{anchor}")
        for box in page._page_box.descendants():
            tag = getattr(box, "element_tag", None)
            if tag == "nav" and "report-contents" in (box.element.get("class") or "").split():
                laid.contents_pages.add(number)
            if tag not in _HEADINGS or id(box.element) in seen:
                continue
            seen.add(id(box.element))
            if laid.first_heading is None:
                laid.first_heading, laid.first_heading_page = box, number
                continue
            if tag != "h2":
                continue
            anchor = box.element.get("id")
            if anchor and anchor in laid.ids:
                target = laid.ids[anchor]
            else:  # a heading without an id (or one not placed): the PDF gets an anchor for it here
                target = registry.new(f"{name}--section")
                x, y, width, height = box.hit_area()
                laid.added_anchors.setdefault(number, {})[target] = (x, y, x + width, y + height)
            text = _element_text(box.element)
            if text:
                sections.append((text, target))
                laid.targets.setdefault(number, []).append(target)
    laid.part = _Part(laid.report, section_id, "", sections)


def _page_head(html: str) -> tuple[list[str], Any, Any]:
    """The ``<style>`` blocks of a page's head (without its running title rule), its <html> and <body> tags:
    only the page's start is parsed (combine.py parses it whole)."""
    start = html.find("<body")
    soup = BeautifulSoup(html[:html.find(">", start) + 1] if start >= 0 else "", features="html.parser")
    styles = [str(style.string) for style in (soup.head.find_all("style") if soup.head else [])
              if style.string is not None and not _RUNNING_TITLE_STYLE.match(str(style.string))]
    return styles, soup.find("html"), soup.find("body")


def _frame_html(reports: list[_Report], *, title: str, date: str, data_version: str, notes: list[str]) -> str:
    """combine.py's document with each report replaced by empty pages: one per page of the report."""
    styles: dict[str, None] = {}
    html_tag = body_tag = None
    for laid in reports:
        found, html, body = _page_head(print_html(laid.report.html))
        styles.update(dict.fromkeys(found))
        if html_tag is None and body_tag is None:
            html_tag, body_tag = html, body
    frames = []
    for laid in reports:
        running = escape(f'string-set: report-title "{css_string(laid.report.title)}"')
        frames.append(f'<section class="combined-frame" id="{escape(laid.part.section_id)}">')
        for number in range(len(laid.document.pages)):
            style = f' style="{running}"' if number == 0 else ""
            targets = "".join(f'<div id="{escape(target)}"></div>' for target in laid.targets.get(number, []))
            frames.append(f'<div class="combined-frame-page"{style}>{targets}</div>')
        frames.append("</section>")
    return "\n".join([
        "<!DOCTYPE html>",
        f"<html{_attrs_html(html_tag, {'lang': 'en'})}>",
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f'<meta name="description" content="{escape(f"Data version: {data_version}")}">',
        '<meta name="generator" content="crizotinib-reports">',
        "\n".join(f'<style type="text/css">{css}</style>' for css in styles),
        f'<style type="text/css">{COMBINED_CSS}</style>',
        f'<style type="text/css">{FRAME_CSS}</style>',
        "</head>",
        f"<body{_attrs_html(body_tag, {'class': 'jp-Notebook'})}>",
        _cover_html(title, date, data_version, notes),
        _contents_html(title, [laid.part for laid in reports]),
        *frames,
        "</body>",
        "</html>",
    ])


# --------------------------------------------------------------------------
# The report's own contents list: page numbers shifted
# --------------------------------------------------------------------------


def _shifted_number(after: Any, shift: int) -> Any:
    """An ``a::after`` box of report.css (leader dots, then " <page>") whose page number is ``shift`` more."""
    *rest, number = after.children
    match = _PAGE_NUMBER.match(getattr(number, "text", "") or "")
    if not isinstance(number, boxes.TextBox) or match is None or not shift:
        return after
    if number.style["direction"] != "ltr":
        raise NeedsLayout("a right-to-left contents line")
    text = f"{match.group(1)}{int(match.group(2)) + shift}"
    layout, _, _, width, _, _ = split_first_line(text, number.style, None, None, number.justification_spacing)
    shifted = number.copy_with_text(layout.text)
    shifted.pango_layout, shifted.width = layout, width
    shifted.position_x = number.position_x + number.width - width  # the line still ends where it ended
    leaders = [child for child in rest if getattr(child, "is_leader", False)]
    if width > number.width and (not leaders or shifted.position_x < leaders[0].position_x):
        raise NeedsLayout(f"the page number {text.strip()} no longer fits its contents line")
    children = []
    for child in rest:
        if child in leaders:
            child = child.copy()
            child.children = [dot for dot in child.children
                              if dot.position_x + dot.width <= shifted.position_x + 1e-6]
            child.width -= width - number.width
        children.append(child)
    copy = after.copy()
    copy.children = [*children, shifted]
    return copy


def _shift_contents(box: Any, shift: int, inside: bool = False) -> Any:
    """``box`` with the page numbers of report.css's contents list shifted by ``shift``: a copy of what
    changes (the kept document stays as it was)."""
    tag = getattr(box, "element_tag", None)
    if tag == "nav" and "report-contents" in (box.element.get("class") or "").split():
        inside = True
    if inside and tag == "a::after" and not getattr(box, "is_leader", False) and box.children:
        return _shifted_number(box, shift)
    children = getattr(box, "children", None)
    if not children or isinstance(box, boxes.TextBox):
        return box
    new = [_shift_contents(child, shift, inside) for child in children]
    if all(a is b for a, b in zip(new, children)):
        return box
    copy = box.copy()
    copy.children = new
    return copy


# --------------------------------------------------------------------------
# The pages
# --------------------------------------------------------------------------


def _grafted_pages(laid: _Report, frame_pages: list[Page], shift: int) -> list[Page]:
    """The report's pages with the frame's margin boxes, anchors renamed, bookmarks as combine.py makes them.

    ``shift``: the pages before the report in the combined PDF.
    """
    name, title = laid.report.name, laid.report.title
    pages = []
    heading = laid.first_heading
    heading_mark = None
    if heading is not None:
        x, y, _, _ = heading.hit_area()
        heading_mark = (heading.bookmark_label, (x, y))
    for number, (page, frame_page) in enumerate(zip(laid.document.pages, frame_pages)):
        source = page._page_box
        body = [child for child in source.children if not isinstance(child, boxes.MarginBox)]
        if number in laid.contents_pages:
            body = [_shift_contents(child, shift) for child in body]
        box = source.copy()
        box.children = [*body, *(child for child in frame_page._page_box.children
                                 if isinstance(child, boxes.MarginBox))]
        grafted = Page(box)
        grafted.anchors = {laid.ids.get(anchor, anchor): place for anchor, place in grafted.anchors.items()}
        grafted.anchors.update(laid.added_anchors.get(number, {}))
        grafted.links = [(kind, laid.ids.get(target, f"{name}--{target}") if kind == "internal" else target,
                          rectangle, link_box) for kind, target, rectangle, link_box in grafted.links]
        for *_, link_box in grafted.links:
            link_box.link_annotation = None  # left by the report's own PDF; WeasyPrint sets it per write
        marks = []
        for level, label, point, state in grafted.bookmarks:
            if heading_mark == (label, point) and number == laid.first_heading_page:
                marks.append((1, title, point, state))
                heading_mark = None
            else:
                marks.append((2 if level == 1 else level, label, point, state))
        grafted.bookmarks = marks
        if number == 0:
            start = frame_page.anchors[laid.part.section_id]
            grafted.anchors[laid.part.section_id] = start
            if heading is None:  # combine.py marks the report's section instead
                grafted.bookmarks.insert(0, (1, title, start[:2], "open"))
        if heading_mark is not None and number == laid.first_heading_page:  # a heading without a bookmark
            grafted.bookmarks.insert(0, (1, title, heading_mark[1], "open"))
            heading_mark = None
        pages.append(grafted)
    return pages


def assembled_pdf(
    reports: list[CombinedReport],
    documents: Sequence[weasyprint.Document],
    *,
    title: str,
    date: str,
    data_version: str,
    notes: list[str] | None = None,
    variant: str = ARCHIVAL_VARIANT,
    attachments: Sequence[PDFAttachment] = (),
    seconds: dict[str, float] | None = None,
) -> bytes:
    """The combined PDF of ``reports`` (as :func:`~crizotinib_reports.publish.combine.combined_pdf`) from each
    report's laid-out ``documents`` (laid out from ``print_html(report.html)``); only the cover and contents
    are laid out. Raises :class:`NeedsLayout` when the pages cannot be reused; ``seconds`` gets each step's time.
    """
    if not reports:
        raise ValueError("assembled_pdf: no reports to combine")
    embedded = weasyprint_attachments(attachments)
    seconds = {} if seconds is None else seconds
    started = time.perf_counter()
    registry = _IdRegistry()
    registry.used.update({"cover", "contents"})
    laid = [_Report(report, document) for report, document in zip(reports, documents, strict=True)]
    for one in laid:
        _survey(one, registry)
    frame_html = _frame_html(laid, title=title, date=date, data_version=data_version, notes=notes or [])
    seconds["survey"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    frame = print_document(frame_html, variant=variant)
    seconds["frame_layout"] = round(time.perf_counter() - started, 3)
    total = sum(len(one.document.pages) for one in laid)
    lead = len(frame.pages) - total
    first = frame.pages[lead] if lead > 0 else None
    if first is None or laid[0].part.section_id not in first.anchors:
        raise NeedsLayout(f"the frame has {len(frame.pages)} pages, not the cover and contents and {total}")

    started = time.perf_counter()
    pages, shift = list(frame.pages[:lead]), lead
    for one in laid:
        count = len(one.document.pages)
        pages += _grafted_pages(one, frame.pages[shift:shift + count], shift)
        shift += count
    seconds["graft"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    pdf = write_document(frame.copy(pages), variant=variant, attachments=embedded)
    seconds["write"] = round(time.perf_counter() - started, 3)
    return pdf


def combine_in_worker(
    reports: list[CombinedReport],
    *,
    title: str,
    date: str,
    data_version: str,
    notes: list[str] | None = None,
    variant: str = ARCHIVAL_VARIANT,
    attachments: Sequence[PDFAttachment] = (),
) -> tuple[bytes, dict[str, Any]]:
    """The combined PDF, made in a render worker from the documents it kept (render.WORKER_DOCUMENTS); a
    report whose document it lacks (unchanged since the last run, say) is laid out here first.

    Returns the PDF and what it cost: ``reused`` and ``laid_out`` report counts, seconds per step, and
    ``method`` ("pages", or "layout" when :class:`NeedsLayout` sent it the way of combine.py).
    """
    info: dict[str, Any] = {"reused": 0, "laid_out": 0, "seconds": {}}
    started = time.perf_counter()
    documents = []
    for report in reports:
        printed = print_html(report.html)
        document = WORKER_DOCUMENTS.get(printed)
        if document is None:
            document = print_document(printed)
            WORKER_DOCUMENTS.add(printed, document)
            info["laid_out"] += 1
        else:
            info["reused"] += 1
        documents.append(document)
    info["seconds"]["report_layout"] = round(time.perf_counter() - started, 3)
    options = dict(title=title, date=date, data_version=data_version, notes=notes, variant=variant,
                   attachments=attachments)
    try:
        pdf = assembled_pdf(reports, documents, seconds=info["seconds"], **options)
        info["method"] = "pages"
    except NeedsLayout as exc:
        log.warning("combined PDF: laying every page out again (%s)", exc)
        started = time.perf_counter()
        pdf = combined_pdf(reports, **options)
        info["seconds"]["layout"] = round(time.perf_counter() - started, 3)
        info["method"] = "layout"
    return pdf, info
