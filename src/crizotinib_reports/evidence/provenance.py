"""Where each number of a report table comes from: its data file, row and column, its citation, its derivation.

A table builder keeps, beside the frame it shows, a provenance frame of the same shape whose cells are
`CellSource`s (or None). `annotate_table_html` writes them onto great_tables' rendered cells as
`data-source`, `data-citation`, `data-level`, `data-derived` and a `title` a reader sees on hover;
`provenance_columns` gives the same as extra CSV columns. Every value is set as an attribute through
the HTML parser, so text from the data is escaped like any attribute value, never spliced in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd
from bs4 import BeautifulSoup

from .citations import credit_of, credit_text

#: Separates the sources of a cell that shows more than one figure ('74% / 45%').
SOURCE_SEPARATOR = " | "


@dataclass(frozen=True)
class CellSource:
    """One table cell's provenance: `sources` as 'outcomes.csv#trial_id=x,arm=y,...:value', the citation(s) of
    those rows as the table's Source column writes them, their evidence marks, and for a computed number
    the function and its inputs ('responders = round(74% × 172)')."""

    sources: tuple[str, ...] = ()
    citation: str = ""
    level: str = ""
    derived: str = ""

    def __add__(self, other: CellSource | None) -> CellSource:
        if other is None:
            return self
        return CellSource(tuple(dict.fromkeys(self.sources + other.sources)),
                          _joined(self.citation, other.citation), _joined(self.level, other.level, ", "),
                          _joined(self.derived, other.derived))

    def with_derived(self, derived: str) -> CellSource:
        return CellSource(self.sources, self.citation, self.level, _joined(self.derived, derived))

    @property
    def source(self) -> str:
        return SOURCE_SEPARATOR.join(self.sources)

    def attributes(self) -> dict[str, str]:
        """The HTML attributes of the cell: only those with a value, in a fixed order."""
        attrs = {"data-source": self.source, "data-citation": self.citation, "data-level": self.level,
                 "data-derived": self.derived}
        attrs = {k: v for k, v in attrs.items() if v}
        lines = [f"Source: {self.source}" if self.source else "",
                 f"Derived: {self.derived}" if self.derived else "",
                 f"Cited: {self.citation}" if self.citation else "",
                 f"Evidence: {self.level}" if self.level else ""]
        attrs["title"] = "\n".join(line for line in lines if line)
        return attrs


def _joined(a: str, b: str, sep: str = "; ") -> str:
    parts = [p for text in (a, b) for p in text.split(sep) if p]
    return sep.join(dict.fromkeys(parts))


def row_key(evidence, table: str, row: pd.Series | Mapping) -> str:
    """The row as its schema's key names it ('trial_id=profile1007,arm=crizotinib,...'); a table without a key
    in the schema by its row number."""
    spec = getattr(evidence, "schema", {}).get(table)
    key = getattr(spec, "key", ()) if spec is not None else ()
    get = row.get if hasattr(row, "get") else (lambda c: None)
    parts = [f"{c}={get(c)}" for c in key if get(c) is not None and not _missing(get(c))]
    if parts:
        return ",".join(parts)
    name = getattr(row, "name", None)
    return f"row {int(name) + 1}" if isinstance(name, int) else "row"


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def from_rows(evidence, table: str, rows: Iterable[pd.Series | Mapping] | pd.Series | Mapping,
              *columns: str, derived: str = "") -> CellSource:
    """A cell showing `columns` of these data rows of `table` (e.g. outcomes, 'value'), cited as the rows cite."""
    if isinstance(rows, (pd.Series, Mapping)):
        rows = [rows]
    rows = list(rows)
    sources, citations, levels = [], [], []
    for row in rows:
        key = row_key(evidence, table, row)
        sources += [f"{table}.csv#{key}:{c}" for c in columns]
        get = row.get if hasattr(row, "get") else (lambda c: None)
        if get("source_id") is not None and not _missing(get("source_id")):
            credit = credit_of(row)
            citations.append(credit_text(evidence.sources, credit))
            levels.append(credit.mark)
    return CellSource(tuple(dict.fromkeys(sources)), "; ".join(dict.fromkeys(citations)),
                      ", ".join(dict.fromkeys(levels)), derived)


def combine(*cells: CellSource | None, derived: str = "") -> CellSource | None:
    """One cell showing several figures (both arms, a ratio and its interval): all their sources."""
    present = [c for c in cells if c is not None]
    if not present:
        return None
    out = present[0]
    for cell in present[1:]:
        out = out + cell
    return out.with_derived(derived) if derived else out


def provenance_frame(frame: pd.DataFrame, cells: list[Mapping[str, CellSource | None]] | None) -> pd.DataFrame:
    """A frame of `frame`'s shape (columns and row positions) holding each shown cell's CellSource or None."""
    cells = cells or []
    rows = [{c: (cells[i].get(c) if i < len(cells) else None) for c in frame.columns} for i in range(len(frame))]
    return pd.DataFrame(rows, columns=frame.columns, dtype=object).reset_index(drop=True)


def provenance_columns(frame: pd.DataFrame, provenance: pd.DataFrame | None,
                       shown_rows: Iterable[int] | None = None) -> pd.DataFrame:
    """`frame` (a table's CSV rows) with '<column> source', '<column> citation' and '<column> derived' appended for
    each shown column that has any provenance: each CSV row carries those of the shown row it is in (`shown_rows`,
    by position; one for one when None). Unchanged when that mapping is unknown."""
    if provenance is None:
        return frame
    if shown_rows is not None:
        shown_rows = list(shown_rows)
        if len(shown_rows) != len(frame) or not all(0 <= i < len(provenance) for i in shown_rows):
            return frame
        provenance = provenance.iloc[shown_rows].reset_index(drop=True)
    elif len(provenance) != len(frame):
        return frame
    out = frame.reset_index(drop=True).copy()
    for column in provenance.columns:
        cells = list(provenance[column])
        if not any(isinstance(c, CellSource) for c in cells):
            continue
        for part in ("source", "citation", "derived"):
            name = f"{column} {part}"
            if name in out.columns:
                continue
            out[name] = pd.Series([getattr(c, part) if isinstance(c, CellSource) else "" for c in cells],
                                  dtype=object)
    return out


def annotate_table_html(html_text: str, frame: pd.DataFrame, provenance: pd.DataFrame | None,
                        row_order: list[int], columns: list[str]) -> str:
    """great_tables' HTML with each body cell's provenance set as attributes.

    `row_order`: the frame's row positions in the order great_tables draws them (row groups gather rows);
    `columns`: the columns it draws, in order. A cell whose text is not the frame's value is left as it is,
    so a mismatch can leave a cell without provenance but never give it another cell's.
    """
    if provenance is None:
        return html_text
    soup = BeautifulSoup(html_text, features="html.parser")
    body = soup.find("tbody")
    if body is None:
        return html_text
    data_rows = [tr for tr in body.find_all("tr", recursive=False) if tr.find("td", recursive=False) is not None]
    for tr, position in zip(data_rows, row_order):
        cells = tr.find_all("td", recursive=False)
        for td, column in zip(cells, columns):
            source = provenance.iloc[position][column] if column in provenance.columns else None
            if not isinstance(source, CellSource):
                continue
            if td.get_text().strip() != str(frame.iloc[position][column]).strip():
                continue
            for name, value in source.attributes().items():
                td[name] = value
    return str(soup)
