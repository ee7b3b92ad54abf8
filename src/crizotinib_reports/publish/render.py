"""Render executed report notebooks to self-contained HTML and to PDF, offline.

Reports are read on machines without internet and archived as PDF, so nothing in
a rendered page may load from the network: nbconvert's defaults pull require.js,
MathJax, Mermaid and the widget manager from CDNs, and some outputs bring their
own remote URLs (great_tables' ``opt_table_font(google_font(...))`` adds an
``@import`` of Google Fonts, for one). Here:

* the ``crizotinib`` template (templates/crizotinib/) empties nbconvert's CDN
  blocks and inlines ``report.css`` (screen and print rules);
* :func:`strip_remote_resources` removes every remote URL that would be
  *loaded* (``src``, ``srcset``, ``<link href>``, CSS ``url()`` and ``@import``,
  remote ``<script>``), keeping ``<a href>`` links, which are only followed on a
  click and carry a report's citations (``strip_remote_links`` drops them too);
* :func:`strip_active_content` removes what text from the data could have
  smuggled in had it been read as Markdown or HTML: links other than http(s) and
  ``#fragment`` ones, images other than embedded rasters, scripts, frames, forms
  and event handlers (defence in depth: prose escapes data values already);
* :class:`WeasyPrintPDFExporter` prints that HTML with WeasyPrint through
  ``offline_fetch.OfflineURLFetcher``, which refuses anything but ``data:`` URLs and
  files of the package's templates folder, as PDF/UA-1 (:func:`print_pdf`:
  tagged, with its language and title, page furniture as artifacts).

Both exporters are registered as nbconvert exporters (``--to crizotinib_html``,
``--to crizotinib_pdf``) by the package's entry points.

Nothing here does I/O at import: report.css is read on first render.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from html import unescape as html_unescape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tinycss2
from bs4 import BeautifulSoup
from bs4.element import Stylesheet, Tag
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool, default, validate
from traitlets.config import Config

from ..plain_text import is_invisible_control, visible

if TYPE_CHECKING:  # WeasyPrint is imported where a PDF is printed: an HTML-only render never loads it
    import weasyprint
    from weasyprint.urls import URLFetcher

__all__ = [
    "KeptDocuments",
    "ReportHTMLExporter",
    "ReportTitlePreprocessor",
    "Renderer",
    "WeasyPrintPDFExporter",
    "css_string",
    "finish_pdf",
    "first_heading",
    "is_remote_url",
    "mark_page_furniture",
    "print_document",
    "print_html",
    "print_pdf",
    "strip_active_content",
    "strip_remote_resources",
    "write_document",
]

#: Folder holding the ``crizotinib`` nbconvert template (added to the template
#: search path in code, so no install into jupyter's data dirs is needed).
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "crizotinib"
REPORT_CSS = Path(__file__).resolve().parent / "report.css"


@functools.cache
def _report_css() -> str:
    """report.css, read once per process (not at import)."""
    return REPORT_CSS.read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# Title
# --------------------------------------------------------------------------

_FENCED_CODE = re.compile(r"^[ \t]{0,3}(```|~~~).*?(?:^[ \t]{0,3}\1[^\n]*$|\Z)", re.M | re.S)
_ATX_H1 = re.compile(r"^[ \t]{0,3}#[ \t]+(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$", re.M)


def _markdown_to_plain(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links, images -> their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = re.sub(r"\*\*|__|\*|`", "", text)  # emphasis and code marks (single _ kept: snake_case)
    return " ".join(text.split())


def first_heading(nb: NotebookNode) -> str | None:
    """Plain text of the first level-1 ATX heading (``# Title``) in a markdown cell.

    A report's title is normally that heading; code fences are skipped so a
    ``# comment`` in a fenced block is not taken for it.
    """
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):  # unnormalised notebooks
            source = "".join(source)
        match = _ATX_H1.search(_FENCED_CODE.sub("", source))
        if match:
            text = _markdown_to_plain(match.group("text"))
            if text:
                return text
    return None


class ReportTitlePreprocessor(Preprocessor):
    """Set ``metadata.title`` from the first ``# `` heading when the notebook has none.

    The lab template takes the page ``<title>`` (and so the PDF's title and
    running header) from ``metadata.title``, else from the file name, which
    for a papermill run is a meaningless output path.
    """

    def preprocess(self, nb, resources):
        if not nb.metadata.get("title"):
            heading = first_heading(nb)
            if heading:
                nb.metadata["title"] = heading
        return nb, resources


def css_string(value: Any) -> str:
    """Escape ``value`` for use inside a double-quoted CSS string in a <style>.

    ``"`` and ``\\`` are backslash-escaped; control characters and ``<>&`` become
    CSS hex escapes, so a title can neither end the string nor the <style>.
    """
    out = []
    for char in str(value):
        if char in '"\\':
            out.append("\\" + char)
        elif char in "<>&" or ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\{ord(char):x} ")
        else:
            out.append(char)
    return "".join(out)


# --------------------------------------------------------------------------
# Remote URL stripping
# --------------------------------------------------------------------------

_REMOTE_URL = re.compile(r"^\s*(?:(?:https?|ftps?|wss?):|//)", re.I)
_CSS_IMPORT = re.compile(
    r"""@import\s+(?:url\(\s*)?(?:"([^"]*)"|'([^']*)'|([^\s;)"']+))[^;]*;?""", re.I
)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)"'\s]*))\s*\)""", re.I)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_URL_IN_TEXT = re.compile(r"""(?:https?|wss?):/{2}[^\s"'`)<>]+""", re.I)

#: Attributes whose URL a browser (or WeasyPrint) loads by itself.
_LOADING_ATTRS = (
    "src", "srcset", "href", "xlink:href", "data", "poster", "background",
    "action", "formaction", "ping", "manifest", "lowsrc", "dynsrc",
)  # fmt: skip
#: Elements whose ``href`` is only followed when clicked: citations stay links.
_NAVIGATION_TAGS = {"a", "area"}
#: Elements that are pointless without their remote resource: removed whole.
_DROP_WHEN_REMOTE = {"script", "link", "iframe", "frame", "embed", "object", "base"}


def is_remote_url(url: str) -> bool:
    """True for URLs that reach the network (http, https, ftp, ws and ``//host``)."""
    return bool(_REMOTE_URL.match(url))


def _first_group(match: re.Match) -> str:
    return next(group for group in match.groups() if group is not None)


def _clean_css(css: str, removed: list[str]) -> str:
    """Drop remote ``@import`` rules, turn remote ``url()`` into ``none``.

    Comments naming a URL go too, so a grep of the page for 'http' finds only
    real references (the lab CSS credits its sources in comments).
    """

    def drop_import(match: re.Match) -> str:
        url = _first_group(match)
        if is_remote_url(url):
            removed.append(url)
            return ""
        return match.group(0)

    def neutralise_url(match: re.Match) -> str:
        url = _first_group(match)
        if is_remote_url(url):
            removed.append(url)
            return "none"
        return match.group(0)

    lowered = css.lower()
    if "@import" in lowered:
        css = _CSS_IMPORT.sub(drop_import, css)
    if "url(" in lowered:
        css = _CSS_URL.sub(neutralise_url, css)
    if "://" in css:
        css = _CSS_COMMENT.sub(lambda m: "" if "://" in m.group(0) else m.group(0), css)
    return css


def _srcset_urls(value: str) -> list[str]:
    return [candidate.split()[0] for candidate in value.split(",") if candidate.split()]


def strip_remote_resources(html: str, *, keep_links: bool = True) -> tuple[str, list[str]]:
    """Remove every remote URL that a browser or WeasyPrint would load by itself.

    Returns the cleaned HTML and the removed URLs (for a warning). Kept: remote
    ``<a href>`` links (navigation, not loading; a report's citations) unless
    ``keep_links`` is false (the link text stays, the href goes), and remote
    URLs in plain text. Removed: ``<script>``, ``<link>``, ``<iframe>``,
    ``<object>``, ``<embed>``, ``<base>`` that point to the network, and inline
    scripts that name one (they would fetch it at run time); remote ``src`` and
    the like on other elements (an ``<img>`` then shows its alt text); remote
    ``@import`` and ``url()`` in ``<style>`` and ``style=`` (great_tables'
    Google Fonts import is one such).
    """
    soup = BeautifulSoup(html, features="html.parser")
    removed = _strip_remote(soup, keep_links)
    return str(soup), removed


def _strip_remote(soup: BeautifulSoup, keep_links: bool) -> list[str]:
    removed: list[str] = []
    for tag in list(soup.find_all(True)):
        if tag.decomposed:  # inside an element dropped earlier in this loop
            continue
        name = tag.name.lower()

        if name == "style" and tag.string:
            cleaned = _clean_css(str(tag.string), removed)
            if cleaned != tag.string:
                tag.string.replace_with(Stylesheet(cleaned))
            continue

        if name == "script" and not tag.get("src") and tag.string:
            urls = _URL_IN_TEXT.findall(str(tag.string))
            type_ = str(tag.get("type", "text/javascript")).lower()
            if urls and ("javascript" in type_ or "module" in type_ or "ecmascript" in type_):
                removed.extend(urls)
                tag.decompose()
            continue

        for attr in _LOADING_ATTRS:
            value = tag.get(attr)
            if value is None:
                continue
            if isinstance(value, list):  # bs4 gives multi-valued attributes as lists
                value = " ".join(value)
            if attr == "href" and name in _NAVIGATION_TAGS and keep_links:
                continue
            urls = _srcset_urls(value) if attr == "srcset" else [value]
            remote = [url for url in urls if is_remote_url(url)]
            if not remote:
                continue
            removed.extend(remote)
            if name in _DROP_WHEN_REMOTE:
                tag.decompose()
                break
            del tag[attr]
            classes = tag.get("class", [])
            if name == "img" and "remote-resource-removed" not in classes:
                tag["class"] = [*classes, "remote-resource-removed"]
        else:
            style = tag.get("style")
            if style and ("url(" in style.lower() or "@import" in style.lower()):
                tag["style"] = _clean_css(style, removed)
    return removed


# --------------------------------------------------------------------------
# Active content
# --------------------------------------------------------------------------

#: Elements a static report never needs that run code, embed another document, submit, redirect or
#: re-base links: removed whole, content included.
_ACTIVE_TAGS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "base", "link"}
#: The only links kept: the web (a report's citations) and places in the page itself.
_SAFE_LINK = re.compile(r"(?:https?:|#)", re.I)
#: The only images kept: rasters inside the page (figures); not SVG, which can carry script.
_SAFE_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,", re.I)


def _url_as_read(value: str | list[str]) -> str:
    """A URL as a browser reads its scheme: without the whitespace and control characters it ignores
    (``' JaVa\\tScRiPt:'`` is ``javascript:``); BeautifulSoup has already decoded entities."""
    url = " ".join(value) if isinstance(value, list) else value
    return "".join(char for char in url if not (char.isspace() or is_invisible_control(char)))


def _active_element(tag: Tag) -> bool:
    """A script, frame, object, embed, form, <base>, <link>, meta refresh, or an <img> that is no raster in the page."""
    name = tag.name.lower()
    if name == "img":
        return not _SAFE_IMAGE.match(_url_as_read(tag.get("src", "")))
    if name == "meta":
        return str(tag.get("http-equiv", "")).strip().lower() == "refresh"
    return name in _ACTIVE_TAGS


def _active_attribute(tag_name: str, attr: str, value: str | list[str]) -> bool:
    """An event handler, a link that is not http(s) or #fragment, or a source on anything but an <img>."""
    attr = attr.lower()
    if attr.startswith("on"):
        return True
    if attr in ("href", "xlink:href") and tag_name in _NAVIGATION_TAGS:
        return not _SAFE_LINK.match(_url_as_read(value))
    return attr == "srcset" or (attr in ("src", "poster") and tag_name != "img")


def strip_active_content(html: str) -> tuple[str, list[str]]:
    """Remove from a page whatever could act rather than be read; returns the page and what went.

    * ``<a>``/``<area>`` keep their text but lose an ``href`` that is not http(s) or ``#fragment``
      (``javascript:``, ``data:``, ``file:``, relative paths, however spelt);
    * ``<img>`` other than a ``data:`` PNG, JPEG, GIF or WebP is removed (no local file, no SVG),
      and no other element keeps a ``src``, ``srcset`` or ``poster``;
    * scripts, frames, objects, embeds, forms, ``<base>``, ``<link>`` and ``<meta http-equiv=refresh>``
      are removed, and every ``on*`` event-handler attribute.
    """
    soup = BeautifulSoup(html, features="html.parser")
    removed = _strip_active(soup)
    return str(soup), removed


def _strip_active(soup: BeautifulSoup) -> list[str]:
    removed: list[str] = []
    for tag in list(soup.find_all(True)):
        if tag.decomposed:  # inside an element dropped earlier in this loop
            continue
        if _active_element(tag):
            source = _url_as_read(tag.get("src", ""))
            removed.append(f"<{tag.name} src={source}>" if source else f"<{tag.name}>")
            tag.decompose()
            continue
        for attr, value in list(tag.attrs.items()):
            if _active_attribute(tag.name.lower(), attr, value):
                removed.append(f"{attr}={_url_as_read(value)}")
                del tag[attr]
    return removed


CONTENTS_HEADING = "Tables and figures"


def add_contents(html: str) -> str:
    """A contents block of the report's numbered tables and figures after its opening cell: links on screen,
    page numbers in print (report.css), in the order the report shows them. A page without any is unchanged."""
    soup = BeautifulSoup(html, features="html.parser")
    return str(soup) if _add_contents(soup) else html


def _add_contents(soup: BeautifulSoup) -> bool:
    """add_contents on a parsed page; whether it added the block."""
    items = [tag for tag in soup.find_all(class_=("report-table", "report-figure"))
             if tag.get("id") and tag.get("data-label")]
    first = soup.find("h1")
    if not items or first is None:
        return False
    nav = soup.new_tag("nav", attrs={"class": "report-contents", "aria-label": CONTENTS_HEADING})
    heading = soup.new_tag("h2")
    heading.string = CONTENTS_HEADING
    listing = soup.new_tag("ol")
    for item in items:
        entry = soup.new_tag("li")
        link = soup.new_tag("a", href=f"#{item['id']}")
        link.string = item["data-label"]
        entry.append(link)
        listing.append(entry)
    nav.extend([heading, listing])
    # Dressed as a Markdown cell's output, so that it reads like the report's own text (report.css).
    block = soup.new_tag("div", attrs={"class": "jp-Cell report-contents-cell"})
    rendered = soup.new_tag("div", attrs={"class": "jp-RenderedHTMLCommon jp-RenderedMarkdown"})
    rendered.append(nav)
    block.append(rendered)
    cell = first.find_parent(class_="jp-Cell") or first
    cell.insert_after(block)
    return True


# --------------------------------------------------------------------------
# Exporters
# --------------------------------------------------------------------------


class ReportHTMLExporter(HTMLExporter):
    """Self-contained, offline HTML for a report: lab look, code hidden, no CDN.

    Defaults suit a report for readers, not coders: code inputs and prompts are
    hidden (``exclude_input`` and the prompt flags stay configurable, e.g.
    ``--ReportHTMLExporter.exclude_input=False`` to show code), no local file is
    read into the page (``embed_images`` is off: a Markdown image naming
    ``.git/config`` would embed it), what could act is removed
    (:func:`strip_active_content`, always), and every remote URL a browser would load is removed
    (see :func:`strip_remote_resources`; turn off with ``strip_remote_urls``).
    Remote ``<a href>`` citation links stay unless ``strip_remote_links`` is set.
    """

    export_from_notebook = "Crizotinib report (HTML)"

    strip_remote_urls = Bool(
        True,
        help="Remove remote URLs that would be loaded (src, <link>, CSS url()/@import, "
        "remote scripts) from the rendered page, so it never touches the network.",
    ).tag(config=True)

    strip_remote_links = Bool(
        False,
        help="Also remove remote <a href> links (kept by default: they load nothing and "
        "carry citations); the link text stays.",
    ).tag(config=True)

    @default("template_name")
    def _template_name_default(self):
        return TEMPLATE_NAME

    @default("extra_template_basedirs")
    def _default_extra_template_basedirs(self):
        return [str(TEMPLATES_DIR)]

    @validate("extra_template_basedirs")
    def _keep_package_templates(self, proposal):
        # A user's own template dirs come first, the package's stays findable.
        dirs = list(proposal["value"])
        if str(TEMPLATES_DIR) not in dirs:
            dirs.append(str(TEMPLATES_DIR))
        return dirs

    @default("exclude_input")
    def _exclude_input_default(self):
        return True

    @default("exclude_input_prompt")
    def _exclude_input_prompt_default(self):
        return True

    @default("exclude_output_prompt")
    def _exclude_output_prompt_default(self):
        return True

    @default("embed_images")
    def _embed_images_default(self):
        # Figures arrive embedded already; embedding would read whatever file a Markdown image names.
        return False

    def _init_preprocessors(self):
        super()._init_preprocessors()
        self.register_preprocessor(ReportTitlePreprocessor(parent=self), enabled=True)

    def default_filters(self):
        yield from super().default_filters()
        yield ("css_string", css_string)

    def _init_resources(self, resources):
        resources = super()._init_resources(resources)
        resources["report_css"] = _report_css()
        return resources

    def from_notebook_node(  # type: ignore[override]
        self, nb: NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        """Render the page, then strip what would be loaded from the network and what could act."""
        html, resources = super().from_notebook_node(nb, resources, **kw)
        soup = BeautifulSoup(html, features="html.parser")  # parsed once for the three passes (1 MB: ~0.5 s each)
        removed: list[str] = []
        if self.strip_remote_urls:
            removed = _strip_remote(soup, keep_links=not self.strip_remote_links)
            if removed:
                self.log.warning(
                    "Removed %d remote resource URL(s) from the report: %s",
                    len(removed),
                    ", ".join(sorted(set(removed))),
                )
        resources["removed_remote_urls"] = removed
        active = _strip_active(soup)
        if active:
            self.log.warning("Removed %d active element(s) or attribute(s) from the report: %s", len(active),
                             ", ".join(sorted({visible(item)[:120] for item in active})))
        _add_contents(soup)
        return str(soup), resources


class WeasyPrintPDFExporter(ReportHTMLExporter):
    """PDF of the report, printed from :class:`ReportHTMLExporter`'s HTML by WeasyPrint.

    WeasyPrint needs no browser and honours the print rules of report.css (A4,
    running title, "Page X of Y", bookmarks from headings). It fetches through
    ``offline_fetch.OfflineURLFetcher``, so a PDF build never reaches the network.
    """

    export_from_notebook = "PDF (WeasyPrint)"
    output_mimetype = "application/pdf"

    @default("file_extension")
    def _file_extension_default(self):
        return ".pdf"

    @default("template_extension")
    def _template_extension_default(self):
        # The template is index.html.j2, not index.pdf.j2.
        return ".html.j2"

    @default("exclude_anchor_links")
    def _exclude_anchor_links_default(self):
        # '¶' anchors are for screens; keep them out of PDF text and bookmarks.
        return True

    def html_to_pdf(self, html: str, url_fetcher: URLFetcher | None = None,
                    keep: KeptDocuments | None = None) -> bytes:
        """Print ``html`` to PDF bytes; the fetcher defaults to an ``OfflineURLFetcher``; ``keep`` keeps
        the laid-out document (:func:`print_pdf`)."""
        return print_pdf(html, self.log, url_fetcher, keep=keep)

    def from_notebook_node(  # type: ignore[override]
        self, nb: NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[bytes, dict[str, Any]]:
        """Render HTML with the parent exporter, then print it; returns ``(pdf_bytes, resources)``."""
        html, resources = super().from_notebook_node(nb, resources, **kw)
        return self.html_to_pdf(print_html(html)), resources


#: Every report's PDF: PDF/UA-1 (ISO 14289-1), so WeasyPrint tags it (headings, lists, tables with
#: header cells, figures with their alt text), names its language and shows its title in the viewer.
REPORT_PDF_VARIANT = "pdf/ua-1"


def print_document(html: str, url_fetcher: URLFetcher | None = None, *,
                   variant: str = REPORT_PDF_VARIANT) -> weasyprint.Document:
    """``html`` laid out by WeasyPrint for ``variant``, offline by default, and not yet written: the combined PDF
    of a run reuses a report's laid-out pages (assemble.py)."""
    import weasyprint

    from .offline_fetch import OfflineURLFetcher

    fetcher = OfflineURLFetcher() if url_fetcher is None else url_fetcher
    return weasyprint.HTML(string=html, url_fetcher=fetcher, media_type="print").render(pdf_variant=variant)


def write_document(document: weasyprint.Document, *, variant: str = REPORT_PDF_VARIANT,
                   attachments: list[weasyprint.Attachment] | None = None) -> bytes:
    """A laid-out document written as ``variant`` with ``attachments``, mended by :func:`finish_pdf`."""
    return document.write_pdf(pdf_variant=variant, attachments=attachments, finisher=finish_pdf)


def print_pdf(html: str, log: Any, url_fetcher: URLFetcher | None = None, *, variant: str = REPORT_PDF_VARIANT,
              attachments: list[weasyprint.Attachment] | None = None,
              keep: KeptDocuments | None = None) -> bytes:
    """Print ``html`` with WeasyPrint as ``variant``, offline by default; refused URLs become one warning on ``log``.

    WeasyPrint's output is mended by :func:`finish_pdf` before it is written (the same bytes as
    ``weasyprint.HTML(...).write_pdf``). ``keep`` holds on to the laid-out document afterwards.
    """
    from .offline_fetch import OfflineURLFetcher

    fetcher = OfflineURLFetcher() if url_fetcher is None else url_fetcher
    document = print_document(html, fetcher, variant=variant)
    pdf = write_document(document, variant=variant, attachments=attachments)
    refused = getattr(fetcher, "refused", None)
    if refused:
        log.warning("Offline PDF rendering refused %d URL(s): %s", len(refused),
                    ", ".join(sorted({url[:200] for url in refused})))
    if keep is not None:
        keep.add(html, document)
    return pdf


class KeptDocuments:
    """Laid-out documents kept by a render worker for the combined PDF, keyed by the SHA-256 of the exact
    HTML printed; the ``limit`` most recent (a run keeps its reports', not a sweep's hundreds)."""

    def __init__(self, limit: int = 32):
        self.limit = limit
        self._documents: dict[str, weasyprint.Document] = {}

    @staticmethod
    def key(html: str) -> str:
        return hashlib.sha256(html.encode("utf-8")).hexdigest()

    def add(self, html: str, document: weasyprint.Document) -> None:
        key = self.key(html)
        self._documents.pop(key, None)
        self._documents[key] = document
        while len(self._documents) > self.limit:
            del self._documents[next(iter(self._documents))]

    def get(self, html: str) -> weasyprint.Document | None:
        return self._documents.get(self.key(html))

    def __len__(self) -> int:
        return len(self._documents)


def finish_pdf(document: Any, pdf: Any) -> None:
    """A WeasyPrint finisher mending what WeasyPrint 70 writes wrong for the PDF standards used here.

    * running headers and page numbers of a tagged PDF become artifacts (:func:`mark_page_furniture`);
    * a PDF/A-3 file lists each embedded file once in the catalog's ``/AF`` (WeasyPrint adds each twice:
      once from the name tree, once from the file specifications).
    """
    mark_page_furniture(document, pdf)
    if "AF" in pdf.catalog:
        unique = list(dict.fromkeys(bytes(reference) for reference in pdf.catalog["AF"]))
        pdf.catalog["AF"][:] = unique


def mark_page_furniture(document: Any, pdf: Any) -> None:
    """A WeasyPrint finisher: in a tagged PDF, the running header and "Page X of Y" become pagination artifacts.

    WeasyPrint 70 marks the text of page-margin boxes as content (with an MCID) and builds structure
    elements for it that it never hangs in the structure tree (it says PDF 1.7 has no way to), so a
    screen reader meets text that belongs nowhere. PDF/UA-1 wants page furniture as artifacts: every
    marked-content sequence of a page that the tree does not reach becomes
    ``/Artifact <</Type /Pagination>> BDC``, and its parent-tree entry ``null``. Untagged PDFs pass untouched.
    """
    if "StructTreeRoot" not in pdf.catalog:
        return

    def resolve(reference: Any) -> Any:
        return pdf.objects[int(bytes(reference).split()[0])]

    root = resolve(pdf.catalog["StructTreeRoot"])
    reached: set[tuple[bytes, int]] = set()  # (page reference, MCID)
    pending = [resolve(kid) for kid in root["K"]]
    while pending:
        element = pending.pop()
        for kid in element.get("K", ()):
            if isinstance(kid, int):
                reached.add((bytes(element["Pg"]), kid))
            else:
                child = resolve(kid)
                if "S" in child:  # a structure element, not an annotation's OBJR
                    pending.append(child)

    parent_tree = resolve(root["ParentTree"])["Nums"]
    for number, page_reference in enumerate(pdf.page_references):
        content = resolve(resolve(page_reference)["Contents"]).stream
        mcids = parent_tree[2 * number + 1] if parent_tree[2 * number] == number else None
        for i in range(1, len(content) - 1):
            item = content[i]
            if (isinstance(item, dict) and "MCID" in item and content[i + 1] == b"BDC"
                    and (page_reference, item["MCID"]) not in reached):
                content[i - 1] = "/Artifact"
                content[i] = type(item)({"Type": "/Pagination"})  # pydyf's Dictionary, as WeasyPrint wrote it
                if mcids is not None and item["MCID"] < len(mcids):
                    mcids[item["MCID"]] = "null"


SCREEN_CSS_START = "<!-- crizotinib:screen-css -->"
SCREEN_CSS_END = "<!-- /crizotinib:screen-css -->"


def print_html(html: str) -> str:
    """The page as WeasyPrint should get it: without JupyterLab's screen stylesheet, which print does not
    need (report.css has the print rules) and which costs WeasyPrint about a second per report to parse,
    and with its inline styles hoisted into classes (:func:`hoist_inline_styles`)."""
    start = html.find(SCREEN_CSS_START)
    end = html.find(SCREEN_CSS_END, start)
    if start >= 0 and end >= 0:
        html = html[:start] + html[end + len(SCREEN_CSS_END):]
    return hoist_inline_styles(html)


_START_TAG = re.compile(r"<[a-zA-Z][^<>]*>")
_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')
_CLASS_ATTRIBUTE = re.compile(r'\sclass="([^"]*)"')
_TAG_NAME = re.compile(r"<[a-zA-Z][^\s/>]*")


def hoist_inline_styles(html: str) -> str:
    """The same page with each distinct inline ``style`` attribute made one class, for print.

    great_tables writes the same few inline styles on every cell (16 distinct strings on 1,571 cells
    in the methods appendix): WeasyPrint parses and cascades each attribute on its own, which was up
    to 40% of a report's PDF time. Each string becomes ``:where(.crz-s-<hash>) { ... !important }``,
    placed first in ``<head>``: like an inline style it beats every normal declaration, and (zero
    specificity, earliest) loses to every ``!important`` one. A style that itself says ``!important``
    stays inline. The PDF is byte for byte the one printed from the inline styles (tested).
    """
    rules: dict[str, str | None] = {}

    def hoisted(match: re.Match) -> str:
        tag = match.group(0)
        style = _STYLE_ATTRIBUTE.search(tag)
        if style is None:
            return tag
        name = "crz-s-" + hashlib.sha256(style.group(1).encode("utf-8")).hexdigest()[:12]
        if name not in rules:
            rules[name] = _important_declarations(html_unescape(style.group(1)))
        if rules[name] is None:
            return tag
        tag = tag[:style.start()] + tag[style.end():]
        classes = _CLASS_ATTRIBUTE.search(tag)
        if classes is not None:
            return f"{tag[:classes.end(1)]} {name}{tag[classes.end(1):]}"
        tag_name = _TAG_NAME.match(tag)
        return f'{tag[:tag_name.end()]} class="{name}"{tag[tag_name.end():]}'

    page = _START_TAG.sub(hoisted, html)
    css = "".join(f":where(.{name}){{{rule}}}" for name, rule in rules.items() if rule)
    head = page.find("<head>")
    if not css or head < 0:
        return html
    head += len("<head>")
    return f'{page[:head]}<style type="text/css">{css}</style>{page[head:]}'


def _important_declarations(style: str) -> str | None:
    """``style``'s declarations, each made ``!important``; None when one already is, or is not a declaration,
    or when the text could end the ``<style>`` element it goes into."""
    if "<" in style:
        return None
    declarations = []
    for item in tinycss2.parse_declaration_list(style, skip_comments=True, skip_whitespace=True):
        if item.type != "declaration" or item.important:
            return None
        declarations.append(f"{item.name}: {tinycss2.serialize(item.value).strip()} !important")
    return "; ".join(declarations)


class Renderer:
    """Both exporters, built once and reused for many notebooks.

    Building an exporter resolves templates and preprocessors; a batch of
    reports (one per parameter set) should pay that once. ``config`` is a
    traitlets Config, e.g. ``Config({"ReportHTMLExporter": {"exclude_input": False}})``
    (the PDF exporter inherits ReportHTMLExporter's section).
    """

    def __init__(self, config: Config | None = None):
        config = config if config is not None else Config()
        self.html_exporter = ReportHTMLExporter(config=config)
        self.pdf_exporter = WeasyPrintPDFExporter(config=config)

    def html(self, nb: NotebookNode, resources: dict[str, Any] | None = None) -> str:
        """Self-contained HTML for an executed notebook."""
        html, _ = self.html_exporter.from_notebook_node(nb, resources)
        return html

    def pdf(self, nb: NotebookNode, resources: dict[str, Any] | None = None) -> bytes:
        """PDF bytes for an executed notebook."""
        pdf, _ = self.pdf_exporter.from_notebook_node(nb, resources)
        return pdf

    def render(self, nb: NotebookNode, formats: tuple[str, ...],
               keep: KeptDocuments | None = None) -> tuple[dict[str, bytes], dict[str, float]]:
        """The formats asked for, and seconds each took: HTML is rendered once and the PDF printed from it
        (its laid-out document kept in ``keep``, if given).

        The page's '¶' heading anchors are hidden in print by report.css, so the PDF's text
        and bookmarks are the same as those of the PDF exporter, which leaves them out.
        """
        started = time.perf_counter()
        html = self.html(nb)
        seconds = {"html": round(time.perf_counter() - started, 3)}
        outputs = {"html": html.encode("utf-8")} if "html" in formats else {}
        if "pdf" in formats:
            started = time.perf_counter()
            outputs["pdf"] = self.pdf_exporter.html_to_pdf(print_html(html), keep=keep)
            seconds["pdf"] = round(time.perf_counter() - started, 3)
        return outputs, seconds


# --------------------------------------------------------------------------
# Rendering in worker processes
# --------------------------------------------------------------------------

_WORKER_RENDERER: Renderer | None = None
#: The documents a render worker of a run keeps for the run's combined PDF (workers.py, assemble.py).
WORKER_DOCUMENTS = KeptDocuments()


def warm_up_worker(pdf: bool = True) -> None:
    """Make the worker's Renderer before its first report arrives (imports nbconvert's exporters), and import
    WeasyPrint if it will print PDFs."""
    global _WORKER_RENDERER
    if _WORKER_RENDERER is None:
        _WORKER_RENDERER = Renderer()
    if pdf:
        from . import offline_fetch  # noqa: F401 - WeasyPrint, imported now rather than during the first PDF


def keep_in_worker(page: str) -> None:
    """Lay out, in a render worker, a report page rendered in another one, and keep its document
    (:data:`WORKER_DOCUMENTS`) as if it had been printed here: the combined PDF reuses its pages."""
    printed = print_html(page)
    if WORKER_DOCUMENTS.get(printed) is None:
        WORKER_DOCUMENTS.add(printed, print_document(printed))


def render_in_worker(notebook_path: str, formats: tuple[str, ...],
                     keep: bool = False) -> tuple[dict[str, bytes], dict[str, float]]:
    """Render an executed notebook file in a worker process that keeps one Renderer for its life.

    WeasyPrint is pure Python: two reports rendering in the build's own process would take turns
    on one core (the GIL). In worker processes they print side by side. With ``keep``, the PDF's
    laid-out document stays in :data:`WORKER_DOCUMENTS` for a combined PDF made in this process.
    """
    import nbformat

    warm_up_worker()
    return _WORKER_RENDERER.render(nbformat.read(notebook_path, as_version=4), formats,
                                   WORKER_DOCUMENTS if keep else None)
