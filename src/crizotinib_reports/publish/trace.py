"""`crizotinib-reports trace REPORT TEXT`: where a number the reader saw comes from.

Read from the built HTML (what the reader saw), not recomputed: each table cell holding TEXT with its
provenance attributes (evidence/provenance.py) and its row's Evidence mark, then each paragraph of prose
holding it, traced through a table cell of the same report that shows the same number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

from ..exceptions import UsageError
from ..plain_text import visible

EVIDENCE_HEADER = "Evidence"


@dataclass(frozen=True)
class Occurrence:
    table: str  # the table's label ('Table 2.1. Efficacy of crizotinib by trial and arm')
    row: str  # the row as the reader finds it: its group heading and first cell
    column: str
    text: str  # the cell's text
    source: str
    citation: str
    derived: str
    level: str


def _pattern(text: str) -> re.Pattern:
    """TEXT as a whole number: '74%' is not found in '174%', '0.49' not in '0.495'."""
    return re.compile(r"(?<![\d.])" + re.escape(text.strip()) + r"(?!\d)")


def _clean(text: str) -> str:
    return " ".join(text.split())


def cells(html_text: str) -> list[Occurrence]:
    """Every body cell of every report table, with its provenance attributes and its row's Evidence mark."""
    soup = BeautifulSoup(html_text, features="html.parser")
    found = []
    for table in soup.select("div.report-table"):
        label = _clean(table.get("data-label", ""))
        headers = [_clean(th.get_text(" ")) for th in table.select("thead th.gt_col_heading")]
        body = table.find("tbody")
        group = ""
        for tr in body.find_all("tr", recursive=False) if body else []:
            heading = tr.find("th", class_="gt_group_heading")
            if heading is not None:
                group = _clean(heading.get_text(" "))
                continue
            tds = tr.find_all("td", recursive=False)
            texts = [_clean(td.get_text(" ")) for td in tds]
            level = texts[headers.index(EVIDENCE_HEADER)] if EVIDENCE_HEADER in headers[:len(texts)] else ""
            for i, td in enumerate(tds):
                # the row as a reader finds it: its group heading, its first cells (not the one that holds TEXT)
                named = [t for j, t in enumerate(texts[:2]) if j != i and t][: 1 if len(texts[0]) > 40 else 2]
                row = " · ".join(part for part in (group, *named) if part)
                found.append(Occurrence(label, row, headers[i] if i < len(headers) else str(i + 1), texts[i],
                                        td.get("data-source", ""), td.get("data-citation", ""),
                                        td.get("data-derived", ""), level or td.get("data-level", "")))
    return found


def prose(html_text: str) -> list[str]:
    """The report's paragraphs and list items outside its tables (and outside the build's provenance footer)."""
    soup = BeautifulSoup(html_text, features="html.parser")
    for table in soup.select("div.report-table, table"):
        table.decompose()
    return [_clean(p.get_text(" ")) for p in soup.find_all(["p", "li"]) if _clean(p.get_text(" "))]


def trace(html_text: str, text: str) -> tuple[list[Occurrence], list[tuple[str, Occurrence | None]]]:
    """The traced table cells holding `text`, and each paragraph holding it with the traced cell it rests on."""
    pattern = _pattern(text)
    traced = [c for c in cells(html_text) if pattern.search(c.text) and (c.source or c.derived)]
    paragraphs = [(p, traced[0] if traced else None) for p in prose(html_text) if pattern.search(p)]
    return traced, paragraphs


def _excerpt(paragraph: str, text: str, width: int = 60) -> str:
    match = _pattern(text).search(paragraph)
    start, end = max(0, match.start() - width), min(len(paragraph), match.end() + width)
    return ("…" if start else "") + paragraph[start:end] + ("…" if end < len(paragraph) else "")


def trace_lines(html_text: str, text: str, report: str) -> list[str] | None:
    """What `trace` prints; None when TEXT is in no traced table cell of the report."""
    traced, paragraphs = trace(html_text, text)
    if not traced:
        return None
    lines = [f"{text} in {report}: {len(traced)} table cell{'s' if len(traced) != 1 else ''}, "
             f"{len(paragraphs)} passage{'s' if len(paragraphs) != 1 else ''} of prose"]
    for c in traced:
        lines += [f"- {c.table}", f"  row: {c.row}", f"  column: {c.column}: {c.text}"]
        for source in c.source.split(" | ") if c.source else []:
            file, _, rest = source.partition("#")
            key, _, column = rest.rpartition(":")
            lines.append(f"  data: {file}, row {key or '(whole file)'}, column {column or '—'}"
                         if rest else f"  data: {file}")
        if c.derived:
            lines.append(f"  derived: {c.derived}")
        lines.append(f"  cited: {c.citation or '—'}")
        lines.append(f"  evidence: {c.level or '—'}")
    for paragraph, cell in paragraphs:
        lines.append(f"- prose: \"{_excerpt(paragraph, text)}\"")
        lines.append(f"  the same number as {cell.table}, row {cell.row}, column {cell.column}: traced through "
                     "that cell, not on its own")
    return [visible(line) for line in lines]


def report_html(output_dir: Path, report: str) -> Path:
    """The built HTML of `report` in `output_dir`; a one-line error naming what to build when there is none."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", report) or report.startswith("."):
        raise UsageError(f"no report named '{visible(report)}'")
    path = Path(output_dir) / report / f"{report}.html"
    if not path.is_file():
        raise UsageError(f"no built HTML for report '{report}' in {output_dir} "
                         f"(build it first: crizotinib-reports build {report} --format html)")
    return path
