"""Reading a PDF back as a reader meets it (pypdf): each page's text, the outline, the links."""

from __future__ import annotations

import functools
import io
from pathlib import Path

from pypdf import PdfReader


def page_texts(reader: PdfReader) -> list[str]:
    return [page.extract_text() or "" for page in reader.pages]


def file_page_texts(path: Path) -> list[str]:
    """Each page's text of a PDF file (see pdf_page_texts: a file read again after a change is extracted again)."""
    return pdf_page_texts(Path(path).read_bytes())


def pdf_page_texts(pdf: bytes) -> list[str]:
    """Each page's text of a PDF, extracted once per test process for the same bytes: many tests read the shared
    build's PDFs and the combined PDFs, and pypdf takes about 0.1 s of CPU a page."""
    return list(_pdf_page_texts(pdf))


@functools.lru_cache(maxsize=32)
def _pdf_page_texts(pdf: bytes) -> tuple[str, ...]:
    return tuple(page_texts(PdfReader(io.BytesIO(pdf))))


def outline_tree(reader: PdfReader) -> list[tuple[str, int, float | None, list]]:
    """The outline as (title, 1-based page, top, children) tuples."""

    def walk(items: list) -> list:
        tree: list = []
        for item in items:
            if isinstance(item, list):  # children of the preceding entry
                tree[-1][3].extend(walk(item))
            else:
                top = item.get("/Top")
                tree.append((str(item.title), reader.get_destination_page_number(item) + 1,
                             None if top is None else float(top), []))
        return tree

    return walk(reader.outline)


def outline_entries(reader: PdfReader) -> list[tuple[int, str, int, float | None]]:
    """The outline flattened in reading order: (depth, title, 1-based page, top rounded to 0.1 pt)."""

    def flatten(tree: list, depth: int) -> list:
        return [entry for title, page, top, children in tree
                for entry in [(depth, title, page, None if top is None else round(top, 1)),
                              *flatten(children, depth + 1)]]

    return flatten(outline_tree(reader), 0)


def links(reader: PdfReader) -> list[tuple[int, tuple, object]]:
    """(page, area, destination) of every link: an internal one's as (page, top), an external one's URI."""
    named = reader.named_destinations
    found = []
    for number, page in enumerate(reader.pages, 1):
        for annotation in page.get("/Annots", []):
            annotation = annotation.get_object()
            area = tuple(round(float(value), 1) for value in annotation["/Rect"])
            if "/Dest" in annotation:
                target = named[str(annotation["/Dest"])]
                found.append((number, area, (reader.get_destination_page_number(target) + 1,
                                             round(float(target["/Top"]), 1))))
            else:
                found.append((number, area, str(annotation["/A"]["/URI"])))
    return found
