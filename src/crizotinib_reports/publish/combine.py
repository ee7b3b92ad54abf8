"""One PDF for distribution out of several rendered report pages.

Readers get the portfolio as a single file: a cover (title, date, data version,
notes such as a run summary), a table of contents whose page numbers WeasyPrint
computes itself (``target-counter``), then every report on its own pages, with
"Page N of M" counted over the whole document, the current report's title in
the running header and PDF bookmarks per report and section.

The reports are merged into ONE HTML document before printing, so page numbers,
internal links and bookmarks span the whole file (concatenating separate PDFs
could do none of that). Merging HTML pages needs care:

* every report carries the same lab CSS and report.css in its ``<head>``: those
  ``<style>`` blocks are kept once; the per-report ``html { string-set: ... }``
  rule is dropped and the running title is set on each report's first heading;
* nbconvert derives ids from heading text and great_tables reuses ids such as
  ``title`` in every table, so ids would collide across reports: each id is
  prefixed with its report's name (and made unique), and what points at it is
  rewritten with it (``href="#..."``, ``headers``, ``aria-*``, ``url(#...)``,
  and the id selectors of the id-scoped ``<style>`` blocks great_tables puts
  next to its tables, so they keep styling their table);
* nbconvert's '¶' anchor links are removed, so they reach neither the text nor
  the bookmarks.

Printing goes through :class:`~crizotinib_reports.publish.offline_fetch.OfflineURLFetcher`:
nothing is fetched from the network. Nothing here does I/O at import.

A scheduled run makes the same PDF without laying the reports' pages out again (assemble.py reuses
the pages laid out for each report's own PDF and borrows this module's cover, contents and CSS):
this module's one-document layout is what assemble.py falls back to when a page cannot be reused,
and the baseline it is measured against (benchmarks/bench.py).

The PDF is PDF/A-3a by default (:data:`ARCHIVAL_VARIANT`: tagged, and able to carry files such as
every table's CSV, so an archived file alone holds its numbers); which variant, and which files, is
the caller's choice (``crizotinib-reports run --pdf-profile``, in runs.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

import tinycss2
import weasyprint
from bs4 import BeautifulSoup
from bs4.element import Stylesheet, Tag
from tinycss2.ast import HashToken

from .render import css_string, print_html, print_pdf

__all__ = ["ARCHIVAL_VARIANT", "CombinedReport", "PDFAttachment", "combined_html", "combined_pdf"]

log = logging.getLogger(__name__)


#: PDF/A-3 (any file may be embedded), level A rather than B: WeasyPrint tags the document (structure
#: tree, language, Unicode text), which level A asks on top of level B's faithful look.
ARCHIVAL_VARIANT = "pdf/a-3a"


@dataclass(frozen=True)
class PDFAttachment:
    """A file embedded in an archival PDF: its name there, its exact bytes, what it is, its date (the
    run's, not the clock's, so a PDF is the same bytes when rebuilt) and how it relates to the document
    (PDF/A-3's AFRelationship: ``Data`` for numbers the pages show, ``Supplement`` for records about them)."""

    name: str
    data: bytes
    description: str
    modified: datetime
    relationship: str = "Data"

    def for_weasyprint(self) -> weasyprint.Attachment:
        return weasyprint.Attachment(string=self.data, name=self.name, description=self.description,
                                     created=self.modified, modified=self.modified, relationship=self.relationship)


def weasyprint_attachments(attachments: Sequence[PDFAttachment]) -> list[weasyprint.Attachment] | None:
    """The attachments as WeasyPrint takes them; refused when two share a name (a reader saves them by name)."""
    names = [attachment.name for attachment in attachments]
    if len(set(names)) != len(names):
        raise ValueError("two attachments of the combined PDF share a name")
    return [attachment.for_weasyprint() for attachment in attachments] or None


@dataclass(frozen=True)
class CombinedReport:
    """One report to combine: its folder name (for ids), title (for the contents,
    bookmarks and running header) and the HTML page the build wrote."""

    name: str
    title: str
    html: str


# --------------------------------------------------------------------------
# The combined document's own CSS (after the reports' CSS, so it wins)
# --------------------------------------------------------------------------

COMBINED_CSS = """
/* crizotinib_reports.combine: cover, contents, one report per page run. */
.combined-cover,
.combined-contents,
.combined-report {
  display: block;
}

.combined-cover {
  padding-top: 28%;
  color: #1f2328;
  font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
  break-after: page;
}

.combined-cover h1 {
  font-size: 24pt;
  line-height: 1.25;
  margin: 0 0 6mm;
  padding-bottom: 3mm;
  border-bottom: 2px solid #0b4f8a;
  bookmark-level: 1;
  overflow-wrap: break-word;
}

.combined-cover p {
  margin: 0 0 2mm;
  font-size: 11pt;
  overflow-wrap: break-word;
}

.combined-cover .combined-cover-notes {
  margin-top: 10mm;
  font-size: 9pt;
  color: #59636e;
}

.combined-cover .combined-cover-notes p {
  font-size: 9pt;
  margin-bottom: 1mm;
}

.combined-contents {
  font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
  color: #1f2328;
}

.combined-contents h1 {
  font-size: 18pt;
  margin: 0 0 6mm;
  padding-bottom: 2mm;
  border-bottom: 2px solid #0b4f8a;
  bookmark-level: 1;
}

.combined-contents ol {
  list-style: none;
  margin: 0;
  padding: 0;
}

.combined-contents li.combined-toc-report {
  margin: 0 0 2.5mm;
  font-size: 10.5pt;
  line-height: 1.3;
  font-weight: 600;
}

.combined-contents li.combined-toc-section {
  margin: 0.3mm 0 0 6mm;
  font-size: 9pt;
  font-weight: normal;
}

.combined-contents a,
.combined-contents a:visited {
  color: inherit;
  text-decoration: none;
}

.combined-contents a::after {
  content: leader(".") " " target-counter(attr(href), page);
}

/* Every report starts on a new page. */
.combined-report {
  break-before: page;
}

/* Headings other than a report's first are sections of that report. */
.combined-report h1 {
  bookmark-level: 2;
}
"""

# The per-report running title (templates/crizotinib/index.html.j2): it sits on <html>, so in
# one document the last report's would win everywhere; it is set per report instead.
_RUNNING_TITLE_STYLE = re.compile(r"^\s*html\s*\{\s*string-set\s*:\s*report-title\b[^{}]*\}\s*$")
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.:-]+")
_URL_FRAGMENT = re.compile(r"""url\(\s*(["']?)#([^)"'\s]+)\1\s*\)""")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
#: Attributes holding space-separated lists of ids.
_ID_LIST_ATTRS = (
    "headers", "for", "aria-labelledby", "aria-describedby", "aria-controls", "aria-owns",
    "aria-flowto", "aria-details", "aria-activedescendant", "aria-errormessage", "itemref", "list",
    "form",
)  # fmt: skip
_FRAGMENT_ATTRS = ("href", "xlink:href")
#: At-rules whose block holds rules (with selectors), not declarations.
_GROUPING_AT_RULES = {"media", "supports", "document", "layer", "container", "scope"}


class _IdRegistry:
    """Hands out ids that are unique in the combined document and safe in URLs and CSS.

    Only ``[A-Za-z0-9_.:-]`` is kept, so an ``href`` fragment needs no percent-encoding
    (WeasyPrint unquotes link fragments but not ``target-counter(attr(href))`` ones).
    """

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, wanted: str) -> str:
        base = _UNSAFE_ID_CHARS.sub("-", wanted).strip("-") or "id"
        candidate, n = base, 1
        while candidate in self.used:
            n += 1
            candidate = f"{base}-{n}"
        self.used.add(candidate)
        return candidate


def _plain_text(tag: Tag) -> str:
    return " ".join(tag.get_text(" ").split())


def _as_list(value: str | list[str]) -> list[str]:
    return list(value) if isinstance(value, list) else str(value).split()


# --------------------------------------------------------------------------
# Id prefixing
# --------------------------------------------------------------------------


def _rewrite_selector_tokens(tokens: list, ids: dict[str, str]) -> None:
    for i, token in enumerate(tokens):
        if token.type == "hash" and token.value in ids:
            tokens[i] = HashToken(token.source_line, token.source_column, ids[token.value], True)
        elif token.type in ("function", "() block", "[] block"):
            # :not(#x), :is(#x) ... (an attribute selector's [] holds no hash tokens of ids)
            inner = token.arguments if token.type == "function" else token.content
            _rewrite_selector_tokens(inner, ids)


def _rewrite_rule_list(tokens: list, ids: dict[str, str]) -> None:
    """Rewrite id selectors in a rule list, in place; declarations (colours!) are left alone."""
    start = 0  # index where the current rule's prelude begins
    at_keyword: str | None = None
    for i, token in enumerate(tokens):
        if token.type == "at-keyword" and at_keyword is None and not any(
            t.type not in ("whitespace", "comment") for t in tokens[start:i]
        ):
            at_keyword = token.lower_value
        elif token.type == "{} block":
            if at_keyword is None:
                prelude = tokens[start:i]
                _rewrite_selector_tokens(prelude, ids)
                tokens[start:i] = prelude
            elif at_keyword in _GROUPING_AT_RULES:
                _rewrite_rule_list(token.content, ids)
            start, at_keyword = i + 1, None
        elif token.type == "literal" and token.value == ";":
            start, at_keyword = i + 1, None


def rewrite_css_ids(css: str, ids: dict[str, str]) -> str:
    """``css`` with its ``#id`` selectors renamed through ``ids`` (other text unchanged)."""
    if "#" not in css or not ids:
        return css
    tokens = tinycss2.parse_component_value_list(css)
    _rewrite_rule_list(tokens, ids)
    return tinycss2.serialize(tokens)


def _prefix_ids(root: Tag, prefix: str, registry: _IdRegistry) -> dict[str, str]:
    """Give every element under ``root`` a document-unique ``<prefix>--<id>``; fix references.

    Returns old id -> new id (for a repeated id, its first element's, as a browser resolves it).
    """
    ids: dict[str, str] = {}
    for tag in root.find_all(id=True):
        old = str(tag["id"])
        new = registry.new(f"{prefix}--{old}")
        ids.setdefault(old, new)
        tag["id"] = new
    if not ids:
        return ids

    def fragment(match: re.Match) -> str:
        target = ids.get(match.group(2))
        return match.group(0) if target is None else f"url({match.group(1)}#{target}{match.group(1)})"

    for tag in root.find_all(True):
        for attr, value in list(tag.attrs.items()):
            if attr in _FRAGMENT_ATTRS and isinstance(value, str) and value.startswith("#"):
                target = ids.get(value[1:])
                if target is not None:
                    tag[attr] = f"#{target}"
            elif attr in _ID_LIST_ATTRS:
                tag[attr] = " ".join(ids.get(part, part) for part in _as_list(value))
            elif isinstance(value, str) and "url(" in value and "#" in value:
                tag[attr] = _URL_FRAGMENT.sub(fragment, value)  # SVG clip-path, fill, style=...
    for style in root.find_all("style"):
        css = style.string
        if css:
            rewritten = rewrite_css_ids(str(css), ids)
            if rewritten != css:
                style.string.replace_with(Stylesheet(rewritten))
    return ids


# --------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------


@dataclass
class _Part:
    """One report, prepared: its section's HTML and its contents entries."""

    report: CombinedReport
    section_id: str
    body_html: str
    sections: list[tuple[str, str]]  # (heading text, id) of its level-2 headings


def _prepare(report: CombinedReport, registry: _IdRegistry, styles: dict[str, None]) -> tuple[_Part, BeautifulSoup]:
    soup = BeautifulSoup(print_html(report.html), features="html.parser")  # without lab's screen CSS
    if soup.head is not None:
        for style in soup.head.find_all("style"):
            css = style.string
            if css is None or _RUNNING_TITLE_STYLE.match(str(css)):
                continue
            styles.setdefault(str(css), None)
        soup.head.decompose()
    body = soup.body or soup.find("html") or soup  # a fragment without <body> is its own body
    for tag in body.find_all(["title", "meta", "base", "script"]):
        tag.decompose()  # page furniture of the single page; nothing to print
    for anchor in body.select("a.anchor-link"):
        anchor.decompose()

    section_id = registry.new(f"report-{report.name}")
    _prefix_ids(body, report.name, registry)

    # The first heading carries the report into the running header and the bookmarks.
    title = css_string(report.title)
    start = body.find(list(_HEADINGS))
    marks = (f'string-set: report-title "{title}"; bookmark-level: 1; '
             f'bookmark-label: "{title}"')
    section_style = ""
    if start is not None:
        existing = str(start.get("style", "")).strip().rstrip(";")
        start["style"] = f"{existing}; {marks}" if existing else marks
    else:
        section_style = marks

    sections = []
    for heading in body.find_all("h2"):
        if heading is start:
            continue
        if not heading.get("id"):
            heading["id"] = registry.new(f"{report.name}--section")
        text = _plain_text(heading)
        if text:
            sections.append((text, str(heading["id"])))

    inner = body.decode_contents()
    style_attr = f' style="{escape(section_style)}"' if section_style else ""
    body_html = (f'<section class="combined-report" id="{escape(section_id)}"'
                 f' data-report="{escape(report.name)}"{style_attr}>\n{inner}\n</section>')
    return _Part(report, section_id, body_html, sections), soup


def _cover_html(title: str, date: str, data_version: str, notes: Iterable[str]) -> str:
    lines = [
        '<section class="combined-cover" id="cover">',
        f"<h1>{escape(title)}</h1>",
        f'<p class="combined-cover-date">{escape(date)}</p>',
        f'<p class="combined-cover-data-version">Data version: {escape(data_version)}</p>',
    ]
    notes = [note for note in notes]
    if notes:
        lines.append('<div class="combined-cover-notes">')
        lines.extend(f"<p>{escape(note)}</p>" for note in notes)
        lines.append("</div>")
    lines.append("</section>")
    return "\n".join(lines)


def _contents_html(title: str, parts: list[_Part]) -> str:
    running = escape(f'string-set: report-title "{css_string(title)}"')
    lines = [
        '<nav class="combined-contents" id="contents">',
        f'<h1 style="{running}">Contents</h1>',
        '<ol class="combined-toc">',
    ]
    for part in parts:
        lines.append(f'<li class="combined-toc-report"><a href="#{escape(part.section_id)}">'
                     f"{escape(part.report.title)}</a>")
        if part.sections:
            lines.append("<ol>")
            lines.extend(f'<li class="combined-toc-section"><a href="#{escape(anchor)}">{escape(text)}</a></li>'
                         for text, anchor in part.sections)
            lines.append("</ol>")
        lines.append("</li>")
    lines.extend(["</ol>", "</nav>"])
    return "\n".join(lines)


def _attrs_html(tag: Tag | None, default: dict[str, str]) -> str:
    attrs = dict(default)
    if tag is not None:
        for key, value in tag.attrs.items():
            attrs[key] = " ".join(value) if isinstance(value, list) else str(value)
    return "".join(f' {key}="{escape(value)}"' for key, value in attrs.items())


def combined_html(
    reports: list[CombinedReport],
    *,
    title: str,
    date: str,
    data_version: str,
    notes: list[str] | None = None,
) -> str:
    """One HTML document of cover, contents and every report, ready for WeasyPrint.

    One document (not one PDF per report, concatenated) so that WeasyPrint itself
    numbers pages over the whole file and resolves the contents' page numbers and
    links. Raises ``ValueError`` for an empty list (a cover alone is no report).
    """
    if not reports:
        raise ValueError("combined_html: no reports to combine")
    registry = _IdRegistry()
    registry.used.update({"cover", "contents"})
    styles: dict[str, None] = {}  # CSS text -> None: identical blocks once, in first-seen order
    parts: list[_Part] = []
    html_tag = body_tag = None
    for report in reports:
        part, soup = _prepare(report, registry, styles)
        parts.append(part)
        if html_tag is None:  # lang (hyphenation) and lab's body classes from the first page
            html_tag, body_tag = soup.find("html"), soup.body

    style_html = "\n".join(f'<style type="text/css">{css}</style>' for css in styles)
    summary = f"Data version: {data_version}"
    html_attrs = _attrs_html(html_tag, {"lang": "en"})
    body_attrs = _attrs_html(body_tag, {"class": "jp-Notebook"})
    return "\n".join([
        "<!DOCTYPE html>",
        f"<html{html_attrs}>",
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f'<meta name="description" content="{escape(summary)}">',
        '<meta name="generator" content="crizotinib-reports">',
        style_html,
        f'<style type="text/css">{COMBINED_CSS}</style>',
        "</head>",
        f"<body{body_attrs}>",
        _cover_html(title, date, data_version, notes or []),
        _contents_html(title, parts),
        *(part.body_html for part in parts),
        "</body>",
        "</html>",
    ])


def combined_pdf(
    reports: list[CombinedReport],
    *,
    title: str,
    date: str,
    data_version: str,
    notes: list[str] | None = None,
    variant: str = ARCHIVAL_VARIANT,
    attachments: Sequence[PDFAttachment] = (),
) -> bytes:
    """The combined document (:func:`combined_html`) printed to PDF bytes as WeasyPrint's ``variant``, offline.

    Printed through :func:`~crizotinib_reports.render.print_pdf` (offline), so a distribution PDF is built
    without touching the network; refused URLs are logged as a warning. ``attachments`` are embedded
    files (named uniquely: a reader saves them by name).
    """
    embedded = weasyprint_attachments(attachments)
    html = combined_html(reports, title=title, date=date, data_version=data_version, notes=notes)
    return print_pdf(html, log, variant=variant, attachments=embedded)
